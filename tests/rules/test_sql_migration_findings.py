"""A rule may place a finding in a file no rule parses: the CREATE TABLE of a .sql migration
(the engine reads its lines for the evidence)."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import repo_from, write_files
from vibe_audit.rules.engine import load_rules, run_rules

SCHEMA = """-- Up Migration
CREATE TABLE IF NOT EXISTS job_queue (
  id SERIAL PRIMARY KEY,
  status VARCHAR(50) DEFAULT 'pending'
);
"""
CODE = """import { Pool } from "pg";
const pool = new Pool();
export async function next() {
  return pool.query("SELECT * FROM job_queue WHERE status = 'pending' LIMIT 1");
}
"""


def _findings(root: Path) -> list[str]:
    rule = load_rules()["js-status-column-without-check"]
    found = run_rules(repo_from(root), ["guardrails"], [rule])
    return [
        f"{f.location.path}:{f.location.start_line} {f.evidence[0].text.strip()}" for f in found
    ]


def test_a_status_column_of_a_sql_migration_is_reported_on_its_line(tmp_path: Path) -> None:
    root = write_files(tmp_path, {"src/queue.ts": CODE, "migrations/001_init.sql": SCHEMA})
    assert _findings(root) == ["migrations/001_init.sql:4 status VARCHAR(50) DEFAULT 'pending'"]


def test_a_check_added_later_or_a_down_migration_is_not_reported(tmp_path: Path) -> None:
    check = "ALTER TABLE job_queue ADD CONSTRAINT s CHECK (status IN ('pending', 'done'));\n"
    files = {"src/queue.ts": CODE, "migrations/001_init.sql": SCHEMA, "migrations/002.sql": check}
    assert _findings(write_files(tmp_path, files)) == []
    down = {"src/queue.ts": CODE, "migrations/001_init.down.sql": SCHEMA}
    assert _findings(write_files(tmp_path / "down", down)) == []
