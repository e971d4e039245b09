"""`vibe-audit rules list` / `rules show`: generated from the rules' metadata."""

from __future__ import annotations

import json

from tests.test_cli import one_line_error, vibe
from vibe_audit.errors import EXIT_CLEAN, EXIT_USAGE
from vibe_audit.rules.engine import load_rules


def test_list_prints_one_line_per_rule() -> None:
    result = vibe("rules", "list")
    assert result.returncode == EXIT_CLEAN, result.stderr
    lines = result.stdout.splitlines()
    assert sorted(line.split()[0] for line in lines) == sorted(load_rules())
    assert f"{len(load_rules())} rule(s)" in result.stderr


def test_list_filters_by_audit_and_language() -> None:
    result = vibe("rules", "list", "--audit", "guardrails", "--format", "json")
    assert result.returncode == EXIT_CLEAN, result.stderr
    listed = json.loads(result.stdout)
    expected = [r.meta.id for r in load_rules().values() if "guardrails" in r.meta.categories]
    assert [item["id"] for item in listed] == expected
    assert all("What it finds:" in item["doc"] for item in listed)
    python = vibe("rules", "list", "--language", "python")
    assert python.returncode == EXIT_CLEAN
    wanted = [r.meta.id for r in load_rules().values() if "python" in r.meta.languages]
    assert [line.split()[0] for line in python.stdout.splitlines()] == wanted


def test_show_prints_metadata_and_docs() -> None:
    result = vibe("rules", "show", "sqlite-wal-not-enabled")
    assert result.returncode == EXIT_CLEAN, result.stderr
    out = result.stdout
    assert out.startswith("sqlite-wal-not-enabled: SQLite used without WAL journal mode\n")
    for text in ("severity    HIGH", "sqlite.pragma.1", "What it finds:", "Use instead:"):
        assert text in out


def test_unknown_rule_and_language_are_one_line_errors() -> None:
    result = vibe("rules", "show", "sqlite-wal")
    assert result.returncode == EXIT_USAGE
    assert "did you mean sqlite-wal-not-enabled" in one_line_error(result.stderr)
    result = vibe("rules", "list", "--language", "cobol")
    assert result.returncode == EXIT_USAGE
    assert "no rule reads it" in one_line_error(result.stderr)
    result = vibe("rules", "list", "--audit", "nope")
    assert result.returncode == EXIT_USAGE
    one_line_error(result.stderr)
