"""The rule coverage matrix (docs/coverage.md) is generated from the rules' metadata and the
templates' decided_by: every rule appears in the cells of the items it checks, in its
languages only, and an item no rule decides says why."""

from __future__ import annotations

import re
import sys

import pytest
from pydantic import ValidationError

from tests.conftest import ROOT
from vibe_audit.prompts import get_audit
from vibe_audit.rules.engine import load_rules
from vibe_audit.schemas import AUDIT_IDS
from vibe_audit.schemas.audit_spec import ChecklistItem

sys.path.insert(0, str(ROOT / "scripts"))
from gen_docs import LANGUAGES, coverage_cell, coverage_page


def test_every_rule_is_in_the_cells_of_its_items_and_languages() -> None:
    rules = list(load_rules().values())
    items = {i.id: i for a in AUDIT_IDS for i in get_audit(a).checklist}
    for rule in rules:
        for item in rule.meta.checklist:
            for name, language in LANGUAGES.items():
                cell = coverage_cell(items[item], language, rules)
                speaks = bool(set(rule.meta.languages) & set(language))
                assert (f"`{rule.meta.id}" in cell) == speaks, (rule.meta.id, item, name)


def _item(**fields: object) -> ChecklistItem:
    return ChecklistItem.model_validate({"id": "sqlite.1A", "section": "s", "text": "t", **fields})


def test_a_cell_without_a_rule_says_why() -> None:
    assert coverage_cell(_item(), ("cobol",), []) == "no rule yet"
    assert coverage_cell(_item(decided_by="intent"), ("cobol",), []).startswith("model only")
    assert coverage_cell(_item(decided_by="task"), ("cobol",), []) == "task, not code"
    why = _item(decided_by="runtime", decided_by_because="load decides")
    assert coverage_cell(why, ("rust",), []) == "model only: needs runtime facts (load decides)"


def test_a_language_where_the_item_cannot_occur_says_why_and_leaves_the_count() -> None:
    item = _item(not_applicable={"rust": "Drop closes it"}, no_rule_because={"python": "none"})
    assert coverage_cell(item, ("rust",), []) == "not applicable: Drop closes it"
    assert coverage_cell(item, ("python",), []) == "no rule yet: none"
    assert coverage_cell(item, ("typescript", "tsx"), []) == "no rule yet"
    page = (ROOT / "docs" / "coverage.md").read_text(encoding="utf-8")
    # sqlite.5B names aiosqlite, a Python library: out of the Rust and TypeScript counts
    of = r" \d+ of (\d+) \|"
    row = re.search(r"\| \[sqlite\]\(audits/sqlite.md\) \| (\d+) \| (\d+) \|" + of * 3, page)
    assert row is not None
    code, python, web, rust = (int(row[i]) for i in range(2, 6))
    assert python == code and web < code and rust < code
    with pytest.raises(ValidationError):
        _item(not_applicable={"cobol": "no"})


def test_the_committed_page_is_the_generated_one() -> None:
    committed = (ROOT / "docs" / "coverage.md").read_text(encoding="utf-8")
    assert committed == coverage_page(sorted(load_rules().values(), key=lambda r: r.meta.id))


def test_the_readme_quotes_the_matrix_totals() -> None:
    page = (ROOT / "docs" / "coverage.md").read_text(encoding="utf-8")
    cell = r" (\d+) of (\d+) \|"
    rows = re.findall(r"\| \[\w+\]\(audits/\w+\.md\) \| \d+ \| (\d+) \|" + cell * 3, page)
    code, python, python_of, web, web_of, rust, rust_of = (
        sum(int(r[i]) for r in rows) for i in range(7)
    )
    readme = " ".join((ROOT / "README.md").read_text(encoding="utf-8").split())
    assert (
        f"of the {code} checklist items a static rule could decide, default rules decide "
        f"{python} of the {python_of} that apply in Python, {web} of {web_of} in "
        f"TypeScript/JavaScript and {rust} of {rust_of} in Rust"
    ) in readme


def test_every_decidable_cell_has_a_rule_or_a_reason() -> None:
    """Issue 22's bar: no decidable Python cell without a rule (default or experimental), and
    at most a handful of TypeScript/JavaScript and Rust cells, each saying why."""
    rules = list(load_rules().values())
    gaps: dict[str, list[str]] = {name: [] for name in LANGUAGES}
    for audit in AUDIT_IDS:
        for item in get_audit(audit).checklist:
            for name, language in LANGUAGES.items():
                cell = coverage_cell(item, language, rules)
                if cell.startswith("no rule yet"):
                    assert cell != "no rule yet", f"{item.id} in {name}: a gap with no reason"
                    gaps[name].append(item.id)
    assert gaps["Python"] == []
    assert len(gaps["TypeScript/JavaScript"]) <= 5 and len(gaps["Rust"]) <= 5, gaps
