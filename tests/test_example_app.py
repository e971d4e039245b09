"""The example app's labeled defects (examples/docstore/DEFECTS.md) against the rule engine."""

from __future__ import annotations

import re

from tests.conftest import EXAMPLE_APP, repo_from
from vibe_audit.rules.engine import run_rules
from vibe_audit.schemas import AUDIT_IDS


def _labels() -> tuple[set[tuple[str, int, str]], set[tuple[str, int]]]:
    text = (EXAMPLE_APP / "DEFECTS.md").read_text(encoding="utf-8")
    defects = {
        (path, int(line), rule)
        for path, line, rule in re.findall(
            r"^\| \d+ \| ([\w/.]+):(\d+)[^|]*\|[^|]*\|[^|]*\| `([a-z0-9-]+)` \|$", text, re.M
        )
    }
    correct_section = text.split("## Deliberately correct patterns", 1)[1]
    correct = {
        (path, int(n))
        for path, start, end in re.findall(
            r"^\| ([\w/.]+):(\d+)(?:-(\d+))? \|", correct_section, re.M
        )
        for n in range(int(start), int(end or start) + 1)
    }
    return defects, correct


def test_rules_find_exactly_the_labeled_rule_defects() -> None:
    defects, _ = _labels()
    assert len(defects) == 11
    findings = run_rules(repo_from(EXAMPLE_APP), list(AUDIT_IDS))
    found = {(f.location.path, f.location.start_line, f.rule_id) for f in findings}
    assert found == defects


def test_correct_patterns_are_not_flagged() -> None:
    _, correct = _labels()
    assert correct
    findings = run_rules(repo_from(EXAMPLE_APP), list(AUDIT_IDS))
    flagged = {
        (f.location.path, n)
        for f in findings
        for n in range(f.location.start_line, f.location.end_line + 1)
    }
    assert flagged & correct == set()
