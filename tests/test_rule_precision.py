"""benchmarks/rule_precision.py: the rules' precision per audit on the labeled code is >= 90%."""

from __future__ import annotations

from benchmarks.rule_precision import evaluate, labeled_dirs
from tests.conftest import EXAMPLE_APP


def test_precision_per_audit_is_at_least_90_percent() -> None:
    directories = labeled_dirs()
    assert EXAMPLE_APP in directories
    scores = evaluate(directories)
    assert all(s.findings for s in scores.per_audit.values()), "every audit has rule findings"
    for audit, s in scores.per_audit.items():
        assert s.precision is not None and s.precision >= 0.9, (audit, scores.false_positives)
    assert scores.overall.found > 0
