"""An audit whose subject is in the code but none of it was read (no built-in rule for the
language, no model) is "not audited": no score, never the rules-only 8/10. A TypeScript
service on bun:sqlite used to score 8/10 "WAL configured" with nothing routed; the
TypeScript SQLite rules read it now, and a Go service (no rule reads Go) is not audited."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import write_files
from vibe_audit.agent.run import run_audit
from vibe_audit.report import RENDERERS
from vibe_audit.report.terminal import render_summary
from vibe_audit.schemas import ChecklistState, Report, RunRequest

BUN_DB = """import { Database } from "bun:sqlite";

const db = new Database("app.db");

export function setStatus(id: number, status: string) {
  db.query("UPDATE items SET status = ? WHERE id = ?").run(status, id);
}
"""
GO_DB = """package store

import (
	"database/sql"

	_ "github.com/mattn/go-sqlite3"
)

func Open() (*sql.DB, error) {
	return sql.Open("sqlite3", "app.db")
}
"""
TS_NO_DB = """export function add(a: number, b: number): number {
  return a + b;
}
"""
PY_DB = """import sqlite3


def connect():
    return sqlite3.connect("app.db", timeout=5)
"""


def _sqlite(root: Path) -> tuple[Report, str]:
    report = run_audit(RunRequest(target=str(root), audits=["sqlite"]))
    assert isinstance(report, Report)
    return report, RENDERERS["md"](report)


def test_sqlite_in_a_language_no_rule_reads_is_not_audited(tmp_path: Path) -> None:
    report, markdown = _sqlite(write_files(tmp_path, {"store/db.go": GO_DB}))
    (section,) = report.sections
    assert section.score is None and section.score_text == "not audited"
    assert section.rubric_band.startswith("not audited: no built-in rule of this audit reads")
    assert "go" in section.rubric_band
    assert {e.state for e in section.checklist} == {ChecklistState.NEEDS_CONFIRMATION}
    assert "| SQLite Concurrency & WAL Audit | not audited | not audited |" in markdown
    assert "sqlite not audited" in render_summary(report)
    assert "this is not a clean result" in section.justification[0]


def test_bun_sqlite_is_read_by_the_typescript_rules(tmp_path: Path) -> None:
    report, _ = _sqlite(write_files(tmp_path, {"src/db.ts": BUN_DB}))
    (section,) = report.sections
    assert section.score is not None and section.score_text != "not audited"


def test_no_sqlite_at_all_is_not_applicable(tmp_path: Path) -> None:
    report, _ = _sqlite(write_files(tmp_path, {"src/math.ts": TS_NO_DB}))
    (section,) = report.sections
    assert section.score is None and section.score_text == "n/a"


def test_sqlite_read_by_the_rules_keeps_its_score(tmp_path: Path) -> None:
    report, _ = _sqlite(write_files(tmp_path, {"db.py": PY_DB}))
    (section,) = report.sections
    assert section.score is not None
