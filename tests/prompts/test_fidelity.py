"""Each audit template carries every requirement of its document: every checklist line,
every lettered or numbered sub-section and each of its bullets, and the lists of the
document's other requirement sections (context, targets, output format, scoring criteria,
instructions to the auditor, ...). The enumerator and the matching are in fidelity.py."""

from __future__ import annotations

import re
from collections import Counter

import pytest

from tests.prompts.fidelity import Requirement, enumerate_requirements, missing, normalise
from tests.prompts.test_templates import SEED_FILES, needs_seeds
from tests.prompts.test_templates import _seed as seed
from vibe_audit.prompts import get_audit
from vibe_audit.prompts.render import RECOMMENDED, render_system
from vibe_audit.schemas.audit_spec import AuditSpec

# Measured on the documents: (all requirements, items). A lower count means the enumerator
# stopped seeing part of a document, and the fidelity check would pass vacuously.
AT_LEAST = {
    "concurrency": (160, 44),
    "checkpoint": (174, 32),
    "sqlite": (154, 37),
    "reliability": (304, 27),
    "guardrails": (84, 16),
}
# What earlier templates dropped (issue 19): each must reach the model.
KEY_PHRASES = {
    "concurrency": ["50 concurrent processing sessions", "zero duplicate entries"],
    "checkpoint": ["15 stages", "resume from any stage", "forward compatibility"],
    "sqlite": ["(recommended)", "at most monitor", "exact pragma statements and where"],
    "reliability": [
        "bulkheads",
        "cascade risk",
        "the largest input the pipeline accepts",
        "reconnection logic and state synchronization",
        "observability (can failures be diagnosed?)",
    ],
    "guardrails": ["success criteria", "no transaction protection"],
}


def _requirements(audit: str) -> list[Requirement]:
    return enumerate_requirements(audit, seed(audit))


def _spec(audit: str) -> AuditSpec:
    return get_audit(audit)  # type: ignore[arg-type]


@needs_seeds
@pytest.mark.parametrize("audit", list(SEED_FILES))
def test_the_enumerator_sees_the_whole_document(audit: str) -> None:
    requirements = _requirements(audit)
    kinds = Counter(r.kind for r in requirements)
    total, items = AT_LEAST[audit]
    assert len(requirements) >= total, kinds
    assert kinds["item"] >= items, kinds
    assert len({r.key for r in requirements}) == len(requirements), "two requirements, one key"


@needs_seeds
@pytest.mark.parametrize("audit", list(SEED_FILES))
def test_every_requirement_of_the_document_is_in_its_template(audit: str) -> None:
    lost = missing(_spec(audit), _requirements(audit))
    assert [f"{r.kind}: {r.key}" for r in lost] == []


@needs_seeds
@pytest.mark.parametrize("audit", list(SEED_FILES))
def test_every_source_quotes_the_document(audit: str) -> None:
    """A source is the link to the document's own words, so it must be found there."""
    document = " ".join(normalise(line) for line in seed(audit).splitlines())
    spec = _spec(audit)
    quoted = [s for part in (*spec.checklist, *spec.requirements) for s in part.sources]
    assert quoted or audit != "guardrails"
    assert [s for s in quoted if normalise(s) not in document] == []


@pytest.mark.parametrize("audit", list(SEED_FILES))
def test_what_earlier_templates_dropped_reaches_the_model(audit: str) -> None:
    system = " ".join(normalise(line) for line in render_system(_spec(audit)).splitlines())
    assert [p for p in KEY_PHRASES[audit] if p not in system] == []


@needs_seeds
def test_a_dropped_item_a_dropped_bullet_and_a_dropped_requirement_are_detected() -> None:
    spec = _spec("checkpoint")
    requirements = _requirements("checkpoint")
    assert missing(spec, requirements) == []
    without_item = spec.model_copy(
        update={"checklist": [i for i in spec.checklist if i.id != "checkpoint.2B"]}
    )
    assert {r.key for r in missing(without_item, requirements) if r.kind == "item"} == {
        "checkpoint.2B"
    }
    bullet = "Look for file writes without `f.flush()` and `os.fsync(f.fileno())`."
    items = [
        i.model_copy(update={"detail": i.detail.replace(f"- {bullet}\n", "")})
        if i.id == "checkpoint.2B"
        else i
        for i in spec.checklist
    ]
    lost = missing(spec.model_copy(update={"checklist": items}), requirements)
    assert [(r.kind, r.item, r.text) for r in lost] == [("bullet", "checkpoint.2B", bullet)]
    resume = [r for r in spec.requirements if "resume from any stage" in r.text.lower()]
    assert len(resume) == 1
    without = [r for r in spec.requirements if r is not resume[0]]
    lost = missing(spec.model_copy(update={"requirements": without}), requirements)
    assert [r.text for r in lost] == ["Resume from any stage after interruption"]


def test_the_enumerator_reads_each_kind_of_requirement() -> None:
    document = "\n".join(
        [
            "## Context",
            "- Resume from any stage",
            "## 2) Atomic Writes",
            "### A) Direct Writes",
            "- Look for open(path, 'w').",
            "## Checkpoint File Checklist",
            "```",
            "[ ] fsync() called",
            "```",
            "## Elsewhere",
            "- not a requirement",
        ]
    )
    found = [(r.kind, r.key) for r in enumerate_requirements("checkpoint", document)]
    assert found == [
        ("listed", "Context / Resume from any stage"),
        ("item", "checkpoint.2A"),
        ("bullet", "checkpoint.2A / Look for open(path, 'w')."),
        ("item", "checkpoint.checkpoint_checklist.1"),
    ]


def test_recommended_optimizations_are_marked_and_capped_at_monitor() -> None:
    spec = _spec("sqlite")
    tiers = {item.id: item.tier for item in spec.checklist}
    assert {i for i, t in tiers.items() if t == "recommended"} == {
        "sqlite.pragma.4",  # cache_size
        "sqlite.pragma.5",  # temp_store
        "sqlite.pragma.6",  # mmap_size
    }
    system = render_system(spec)
    assert RECOMMENDED in system and "MONITOR" in RECOMMENDED
    assert re.search(r"^- \[sqlite\.pragma\.4\] PRAGMA cache_size.*\(recommended\)$", system, re.M)
    assert re.search(r"^- \[sqlite\.pragma\.1\] PRAGMA journal_mode=WAL[^(]*\(", system, re.M)
    assert "(recommended)" not in next(
        line for line in system.splitlines() if line.startswith("- [sqlite.pragma.1]")
    )
    guardrails = _spec("guardrails")
    assert {i.id for i in guardrails.checklist if i.tier == "recommended"} == {
        "guardrails.10A",
        "guardrails.10B",
        "guardrails.10C",
        "guardrails.10D",
    }
    assert RECOMMENDED not in render_system(_spec("checkpoint"))  # only where items are marked


def test_the_reliability_scoring_criteria_are_in_the_system_message() -> None:
    spec = _spec("reliability")
    assert [c.split(" (")[0] for c in spec.scoring_criteria] == [
        "Timeout coverage",
        "Retry logic",
        "Circuit breakers",
        "Error handling",
        "Resource cleanup",
        "Graceful degradation",
        "Observability",
    ]
    system = render_system(spec)
    rubric = system.split("rubric (the tool computes the score from findings)", 1)[1]
    assert all(f"- {criterion}" in rubric for criterion in spec.scoring_criteria)
