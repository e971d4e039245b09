"""README facts that code can check, so the docs cannot drift."""

from __future__ import annotations

import re

from tests.conftest import ROOT
from vibe_audit import errors
from vibe_audit.rules.engine import load_rules

README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_readme_rule_table_matches_the_rules() -> None:
    rows = re.findall(r"^\| `([a-z0-9-]+)` \| (\w+) \| ([a-z, ]+) \|$", README, re.M)
    documented = {rule_id: (sev, audits.split(", ")) for rule_id, sev, audits in rows}
    actual = {
        rule.meta.id: (rule.meta.severity.value, list(rule.meta.categories))
        for rule in load_rules().values()
    }
    assert documented == actual


def test_readme_documents_every_exit_code() -> None:
    codes = {errors.EXIT_CLEAN, errors.EXIT_FINDINGS, errors.EXIT_USAGE, errors.EXIT_RUN}
    for code in codes:
        assert re.search(rf"^\| {code} \| ", README, re.M), f"exit code {code} undocumented"
