"""README facts that code can check, so the docs cannot drift."""

from __future__ import annotations

import re

from tests.conftest import ROOT
from vibe_audit import errors
from vibe_audit.commands.rules import markdown_table
from vibe_audit.rules.engine import load_rules
from vibe_audit.schemas import AUDIT_IDS

README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_readme_rule_table_matches_the_rules() -> None:
    """The table is `vibe-audit rules list --format md`; regenerate it from there."""
    table = markdown_table(list(load_rules().values()))
    assert table in README, "README rule table is stale: paste `vibe-audit rules list -f md`"
    assert table.count("\n| `") == len(load_rules())


def test_readme_documents_every_exit_code() -> None:
    codes = {
        errors.EXIT_CLEAN,
        errors.EXIT_FINDINGS,
        errors.EXIT_USAGE,
        errors.EXIT_RUN,
        errors.EXIT_COVERAGE,
        errors.EXIT_PENDING,
        errors.EXIT_INTERRUPTED,
    }
    for code in codes:
        assert re.search(rf"^\| {code} \| ", README, re.M), f"exit code {code} undocumented"


def test_generated_docs_match_the_code() -> None:
    """docs/commands, docs/rules, docs/audits and docs/index.md are generated from the code;
    regenerate with `python scripts/gen_docs.py`."""
    from scripts.gen_docs import pages, stale

    assert stale() == [], "docs/ is stale: run `python scripts/gen_docs.py`"
    generated = pages()
    assert len([p for p in generated if p.startswith("rules/")]) == len(load_rules())
    assert {p for p in generated if p.startswith("audits/")} == {
        f"audits/{a}.md"
        for a in ("concurrency", "checkpoint", "sqlite", "reliability", "guardrails")
    }
    assert "--require-coverage" in generated["commands/run.md"]


def test_readme_links_every_audit_checklist_page() -> None:
    for audit in ("concurrency", "checkpoint", "sqlite", "reliability", "guardrails"):
        assert f"(docs/audits/{audit}.md)" in README, f"README does not link docs/audits/{audit}.md"


def test_readme_configuration_table_has_every_config_key() -> None:
    from vibe_audit.agent.config import FileConfig

    keys = set(FileConfig.model_fields) - {"source"}
    documented = set(re.findall(r"^\| `(\w+)` \| (?:`--|-)", README, re.M))
    assert keys <= documented, f"config keys missing from README: {sorted(keys - documented)}"


def test_changelog_lists_every_current_template_version() -> None:
    """A template change changes its version (and the cache key); it must be listed."""
    from vibe_audit.prompts import get_audit

    changelog = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    for audit in AUDIT_IDS:
        version = get_audit(audit).version
        assert f"| `{audit}` | `{version}` |" in changelog, (
            f"CHANGELOG.md does not list {audit} template version {version}"
        )
