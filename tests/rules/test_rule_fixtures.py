"""Every rule: its bad fixture matches the stored snapshot, its good fixture yields nothing.

Snapshots are `path:line:rule` lines in fixtures/<rule-id>/bad.snap. Regenerate with
VIBE_AUDIT_UPDATE_SNAPSHOTS=1 and review the diff.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.conftest import repo_from
from vibe_audit.rules.base import DOC_HEADINGS
from vibe_audit.rules.engine import load_rules, run_rules
from vibe_audit.schemas import AUDIT_IDS

FIXTURES = Path(__file__).parent / "fixtures"
RULE_IDS = sorted(load_rules())


def _fixture(rule_id: str, kind: str) -> Path:
    """fixtures/<rule-id>/bad.<ext>, good.<ext> or near.<ext>: one per rule, in the rule's
    language (near: the code that looks like the defect but is not)."""
    (path,) = [p for p in (FIXTURES / rule_id).glob(f"{kind}.*") if p.suffix != ".snap"]
    return path


NEAR_MISS = sorted(r for r in RULE_IDS if list((FIXTURES / r).glob("near.*")))


def _hits(rule_id: str, kind: str) -> list[str]:
    rule = load_rules()[rule_id]
    findings = run_rules(repo_from(_fixture(rule_id, kind)), list(AUDIT_IDS), [rule])
    return sorted(f"{f.location.path}:{f.location.start_line}:{f.rule_id}" for f in findings)


def test_every_rule_has_fixtures() -> None:
    assert sorted(p.name for p in FIXTURES.iterdir() if p.is_dir()) == RULE_IDS
    assert len(RULE_IDS) >= 5


@pytest.mark.parametrize("rule_id", RULE_IDS)
def test_bad_fixture_matches_snapshot(rule_id: str) -> None:
    hits = _hits(rule_id, "bad")
    snap = FIXTURES / rule_id / "bad.snap"
    assert _fixture(rule_id, "bad").suffix == _fixture(rule_id, "good").suffix
    if os.environ.get("VIBE_AUDIT_UPDATE_SNAPSHOTS"):
        snap.write_text("".join(f"{h}\n" for h in hits), encoding="utf-8")
    assert hits, f"{rule_id} found nothing in its bad fixture"
    assert hits == snap.read_text(encoding="utf-8").split()


@pytest.mark.parametrize("rule_id", RULE_IDS)
def test_good_fixture_is_clean(rule_id: str) -> None:
    assert _hits(rule_id, "good") == []


@pytest.mark.parametrize("rule_id", NEAR_MISS)
def test_near_miss_fixture_is_clean(rule_id: str) -> None:
    """Measured on real code (benchmarks/triage.toml): each near miss is a shape a rule once
    reported wrongly; it must stay silent."""
    assert _hits(rule_id, "near") == []


def test_the_rules_narrowed_on_real_code_have_near_miss_fixtures() -> None:
    assert len(NEAR_MISS) >= 9


@pytest.mark.parametrize("rule_id", RULE_IDS)
def test_rule_docs_have_every_heading(rule_id: str) -> None:
    doc = load_rules()[rule_id].doc
    for heading in DOC_HEADINGS:
        assert f"\n{heading}:\n" in doc, f"{rule_id} docstring lacks '{heading}:'"
