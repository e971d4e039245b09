from __future__ import annotations

from tests.conftest import EXAMPLE_APP, repo_from
from vibe_audit.agent.context_pack import (
    FACTS,
    MAX_FUNCTIONS,
    MAX_PRAGMAS,
    build_context_pack,
    context_packs,
)
from vibe_audit.agent.requests import build_requests
from vibe_audit.chunker import discover, slice_file
from vibe_audit.prompts import get_audit
from vibe_audit.rules.context import Pragma, RepoFacts, Site
from vibe_audit.schemas import AUDIT_IDS


def test_context_pack_shows_cross_file_facts() -> None:
    text = build_context_pack(repo_from(EXAMPLE_APP).facts)
    assert "- SQLite connections opened at: app/db.py:26 (get_connection)" in text
    assert "- PRAGMAs set anywhere: none" in text
    renames = "Atomic renames (os.replace / os.rename, fs.rename, fs::rename)"
    assert f"{renames}: app/checkpoints.py:38" in text
    assert "init_db" in text  # opens a connection through get_connection


TS_DB = """import Database from "better-sqlite3";
import { writeFileSync, renameSync } from "node:fs";

export const db = new Database("data/app.db");
db.pragma("journal_mode = WAL");
db.exec("CREATE TABLE notes (id INTEGER PRIMARY KEY, owner INTEGER REFERENCES users(id))");

export async function save(state: object): Promise<void> {
  writeFileSync("state.json.tmp", JSON.stringify(state));
  renameSync("state.json.tmp", "state.json");
}
"""

RS_DB = """use rusqlite::Connection;

pub fn open() -> rusqlite::Result<Connection> {
    let conn = Connection::open("queue.db")?;
    conn.pragma_update(None, "busy_timeout", "5000")?;
    conn.execute_batch("PRAGMA synchronous = NORMAL;")?;
    Ok(conn)
}

pub async fn serve() {}
"""


def test_typescript_and_rust_facts_reach_the_pack(tmp_path) -> None:
    """A TypeScript or Rust repository is not told "no connections, no PRAGMAs": the pack
    lists what its own files open and set (the Python rules' facts stay Python's)."""
    (tmp_path / "db.ts").write_text(TS_DB, encoding="utf-8")
    (tmp_path / "store.rs").write_text(RS_DB, encoding="utf-8")
    facts = repo_from(tmp_path).facts
    text = build_context_pack(facts)
    assert "- Frameworks and drivers imported: better-sqlite3, rusqlite" in text
    assert "- SQLite connections opened at: db.ts:4, store.rs:4" in text
    assert "busy_timeout=5000 at store.rs:5" in text
    assert "journal_mode=wal at db.ts:5" in text
    assert "synchronous=normal at store.rs:6" in text
    assert "- Foreign-key declarations: db.ts:6" in text
    assert "JSON.stringify, serde_json::to_*): db.ts:9" in text
    assert "fs::rename): db.ts:10" in text
    assert "- async functions: 2" in text
    assert not facts.connect_sites and not facts.pragmas  # the Python rules' own facts


def test_every_request_carries_the_same_context_pack() -> None:
    chunks = [c for s in discover(EXAMPLE_APP).files for c in slice_file(s)]
    context = build_context_pack(repo_from(EXAMPLE_APP).facts)
    requests, _ = build_requests(chunks, ["sqlite", "checkpoint"], [], context)
    assert requests
    for request in requests:
        assert f"## Repository context\n\n{context}\n" in request.user


def test_each_audit_gets_only_the_facts_its_checklist_uses() -> None:
    facts = repo_from(EXAMPLE_APP).facts
    packs = context_packs(facts, list(AUDIT_IDS))
    assert "JSON writes" in packs["checkpoint"] and "PRAGMAs" not in packs["checkpoint"]
    assert "PRAGMAs" in packs["sqlite"] and "JSON writes" not in packs["sqlite"]
    assert "Foreign-key declarations" in packs["guardrails"]
    assert "connect() calls with a timeout argument" in packs["reliability"]
    assert "Locks" in packs["concurrency"] and "async functions" in packs["concurrency"]
    for audit, text in packs.items():
        assert text.startswith("- Frameworks and drivers imported: "), audit
        assert len(text) < len(build_context_pack(facts)), audit
        assert set(text.splitlines()) <= set(build_context_pack(facts).splitlines()), audit


def test_each_audit_pack_lists_its_template_facts_in_order() -> None:
    facts = repo_from(EXAMPLE_APP).facts
    everything = build_context_pack(facts).splitlines()
    assert len(everything) == len(FACTS)
    for audit in AUDIT_IDS:
        lines = build_context_pack(facts, audit).splitlines()
        expected = [everything[list(FACTS).index(n)] for n in get_audit(audit).context_facts]
        assert lines == expected, audit


def test_long_fact_lists_are_capped() -> None:
    site = Site(path="db.py", line=1, text="", symbol=None)
    facts = RepoFacts(
        pragmas={f"p{n:02}": [Pragma(site, "1"), Pragma(site, "2")] for n in range(20)},
        sync_db_functions={f"f{n:02}" for n in range(30)},
    )
    text = build_context_pack(facts, "sqlite")
    pragmas = next(line for line in text.splitlines() if line.startswith("- PRAGMAs"))
    assert pragmas.count("=") == MAX_PRAGMAS and pragmas.endswith(f"and {20 - MAX_PRAGMAS} more")
    assert "p00=1 at db.py:1 (+1 more)" in pragmas
    functions = next(line for line in text.splitlines() if "sync SQLite connection" in line)
    assert functions.endswith(f"f{MAX_FUNCTIONS - 1:02}, and {30 - MAX_FUNCTIONS} more")
