"""The rule coverage matrix (docs/coverage.md) is generated from the rules' metadata and the
templates' decided_by: every rule appears in the cells of the items it checks, in its
languages only, and an item no rule decides says why."""

from __future__ import annotations

import re
import sys

from tests.conftest import ROOT
from vibe_audit.prompts import get_audit
from vibe_audit.rules.engine import load_rules
from vibe_audit.schemas import AUDIT_IDS

sys.path.insert(0, str(ROOT / "scripts"))
from gen_docs import LANGUAGES, coverage_cell, coverage_page


def test_every_rule_is_in_the_cells_of_its_items_and_languages() -> None:
    rules = list(load_rules().values())
    items = {i.id: i for a in AUDIT_IDS for i in get_audit(a).checklist}
    for rule in rules:
        for item in rule.meta.checklist:
            for name, language in LANGUAGES.items():
                cell = coverage_cell(item, items[item].decided_by, language, rules)
                speaks = bool(set(rule.meta.languages) & set(language))
                assert (f"`{rule.meta.id}" in cell) == speaks, (rule.meta.id, item, name)


def test_a_cell_without_a_rule_says_why() -> None:
    assert coverage_cell("sqlite.1A", "code", ("cobol",), []) == "no rule yet"
    assert coverage_cell("sqlite.1A", "intent", ("cobol",), []).startswith("model only")
    assert coverage_cell("sqlite.1A", "task", ("cobol",), []) == "task, not code"


def test_the_committed_page_is_the_generated_one() -> None:
    committed = (ROOT / "docs" / "coverage.md").read_text(encoding="utf-8")
    assert committed == coverage_page(sorted(load_rules().values(), key=lambda r: r.meta.id))


def test_the_readme_quotes_the_matrix_totals() -> None:
    page = (ROOT / "docs" / "coverage.md").read_text(encoding="utf-8")
    cell = r" (\d+) of \d+ \|"
    rows = re.findall(r"\| \[\w+\]\(audits/\w+\.md\) \| \d+ \| (\d+) \|" + cell * 3, page)
    code, python, web, rust = (sum(int(r[i]) for r in rows) for i in range(4))
    readme = " ".join((ROOT / "README.md").read_text(encoding="utf-8").split())
    assert (
        f"of the {code} checklist items a static rule could decide, default rules decide "
        f"{python} in Python, {web} in TypeScript/JavaScript and {rust} in Rust"
    ) in readme
