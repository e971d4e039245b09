"""The sections the documents ask for beyond the common ones: Suspicious Patterns (000, 001,
002), an executive summary (003), the threshold that triggers each monitored fix (000, 001,
002) and the infrastructure to add (001)."""

from __future__ import annotations

import pytest

from vibe_audit.findings.score import build_section
from vibe_audit.prompts import get_audit
from vibe_audit.report import RENDERERS
from vibe_audit.schemas import AUDIT_IDS, Assumption, Report


def _section(report: Report, audit: str) -> str:
    markdown = RENDERERS["md"](report)
    title = get_audit(audit).title  # type: ignore[arg-type]
    return markdown.split(f"## {title}: ", 1)[1].split("\n## ", 1)[0]


@pytest.mark.parametrize("audit", ["concurrency", "checkpoint", "sqlite"])
def test_suspicious_patterns_where_the_document_asks(fixed_report: Report, audit: str) -> None:
    text = _section(fixed_report, audit)
    assert "### Suspicious Patterns" in text
    assert "None reported: the built-in rules report only what they can confirm" in text


def test_no_suspicious_patterns_section_where_the_document_does_not_ask(
    fixed_report: Report,
) -> None:
    assert "### Suspicious Patterns" not in _section(fixed_report, "guardrails")


def test_model_needs_confirmation_goes_to_suspicious_patterns_not_environment() -> None:
    spec = get_audit("sqlite")
    risky = Assumption(
        topic="Needs Confirmation (app/db.py)",
        value="get_connection() may be called from async handlers: check app/main.py",
        needs_confirmation=True,
        suspicious=True,
    )
    fact = Assumption(topic="journal mode", value="WAL", needs_confirmation=False)
    section = build_section(spec, [], [risky, fact], set(), True, files_audited=1)
    assert section.suspicious_patterns == [f"{risky.topic}: {risky.value}"]
    assert section.assumptions == [fact]


def test_reliability_has_an_executive_summary(fixed_report: Report) -> None:
    section = next(s for s in fixed_report.sections if s.audit == "reliability")
    assert len(section.executive_summary) == 3
    posture, checked, first = section.executive_summary
    assert posture.startswith(f"{section.title}: {section.score_text}")
    assert f"Of {len(section.checklist)} checklist items" in checked
    assert first.startswith("Fix first: ") and section.fix_now_effort in first
    text = _section(fixed_report, "reliability")
    assert "### Executive summary" in text and posture in text
    others = [s for s in fixed_report.sections if s.audit != "reliability"]
    assert all(not s.executive_summary for s in others)


@pytest.mark.parametrize("audit", AUDIT_IDS)
def test_every_monitored_metric_says_its_threshold(audit: str) -> None:
    for line in get_audit(audit).monitoring:  # type: ignore[arg-type]
        metric, _, threshold = line.rpartition(": ")
        assert metric and threshold, f"{audit}: no threshold in {line!r}"


def test_checkpoint_lists_the_infrastructure_to_add(fixed_report: Report) -> None:
    text = _section(fixed_report, "checkpoint")
    assert "### Infrastructure to add" in text
    for item in get_audit("checkpoint").infrastructure:
        assert item.split(":")[0] in text
    assert "### Infrastructure to add" not in _section(fixed_report, "sqlite")
