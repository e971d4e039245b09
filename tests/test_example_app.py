"""The example app's labeled defects (examples/docstore/DEFECTS.md) against the rule engine."""

from __future__ import annotations

from tests.conftest import EXAMPLE_APP, repo_from
from vibe_audit.evals.labels import read_labels
from vibe_audit.rules.engine import run_rules
from vibe_audit.schemas import AUDIT_IDS, Finding

LABELS = read_labels(EXAMPLE_APP / "DEFECTS.md")


def _findings() -> list[Finding]:
    return run_rules(repo_from(EXAMPLE_APP), list(AUDIT_IDS))


def test_every_rule_labeled_place_is_found_by_its_rule() -> None:
    findings = _findings()
    labeled = [d for d in LABELS.defects if d.rule is not None]
    assert len(labeled) >= 15
    for defect in labeled:
        for place in defect.places:
            assert any(
                f.rule_id == defect.rule and place.holds(f.location.path, f.location.start_line)
                for f in findings
            ), f"defect {defect.number}: {defect.rule} finds nothing at {place}"


def test_every_finding_is_a_labeled_defect_of_its_rule() -> None:
    for finding in _findings():
        assert any(d.rule == finding.rule_id and d.matches(finding) for d in LABELS.defects), (
            f"unlabeled: {finding.location.path}:{finding.location.start_line} {finding.rule_id}"
        )


def test_correct_patterns_are_not_flagged() -> None:
    assert LABELS.correct
    flagged = {
        (f.location.path, n)
        for f in _findings()
        for n in range(f.location.start_line, f.location.end_line + 1)
    }
    assert not [p for p in LABELS.correct for path, n in flagged if p.holds(path, n)]
