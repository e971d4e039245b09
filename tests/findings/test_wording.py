"""The report sections' wording tailored from the repository's own facts."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import repo_from, write_files
from vibe_audit.findings.wording import RepoWords, repo_words, tailor

LINES = [
    "[python] pytest with asyncio.gather()",
    "[rust|go] cargo test or go test",
    "[typescript|javascript] Playwright tests simulating multi-tab editing",
    'sqlite3 {database} "PRAGMA journal_mode;"',
    "SELECT {status_column}, COUNT(*) FROM {status_table} GROUP BY {status_column};",
    'for f in {state_files}; do jq empty "$f"; done',
    "Load test with conflict detection assertions",
]


def test_facts_present_fill_the_lines_and_pick_the_languages() -> None:
    words = RepoWords(
        languages=["rust", "tsx"],
        sqlite=True,
        databases=["ledger.db", "cache.sqlite"],
        state_files=["<STATE_DIR>/*/run.json"],
        status_tables=[("jobs", "state")],
    )
    assert tailor(LINES, words) == [
        "cargo test or go test",
        "Playwright tests simulating multi-tab editing",
        'sqlite3 ledger.db "PRAGMA journal_mode;"',
        'sqlite3 cache.sqlite "PRAGMA journal_mode;"',
        "SELECT state, COUNT(*) FROM jobs GROUP BY state;",
        'for f in <STATE_DIR>/*/run.json; do jq empty "$f"; done',
        "Load test with conflict detection assertions",
    ]


def test_facts_absent_give_generic_values_and_drop_tagged_lines() -> None:
    assert tailor(LINES, None) == [
        'sqlite3 <database file> "PRAGMA journal_mode;"',
        "SELECT status, COUNT(*) FROM <table with a status column> GROUP BY status;",
        'for f in <state dir>/*.json; do jq empty "$f"; done',
        "Load test with conflict detection assertions",
    ]


def test_a_subject_the_repository_lacks_drops_its_lines() -> None:
    words = RepoWords(languages=["python"], sqlite=False)
    out = tailor(LINES, words)
    assert out[0] == "pytest with asyncio.gather()"
    assert not [line for line in out if "sqlite3" in line]
    assert not [line for line in out if "Playwright" in line or "cargo" in line]
    sqlite_unnamed = tailor(LINES, RepoWords(languages=["python"], sqlite=True))
    assert 'sqlite3 <database file> "PRAGMA journal_mode;"' in sqlite_unnamed


def test_repetition_is_capped() -> None:
    words = RepoWords(sqlite=True, databases=[f"d{i}.db" for i in range(10)])
    assert len(tailor(['sqlite3 {database} ".tables"'], words)) == 3


def test_repo_words_reads_databases_tables_references_and_state_files(tmp_path: Path) -> None:
    root = write_files(
        tmp_path,
        {
            "app/db.py": (
                "import sqlite3\n\n"
                'DB = "var/shop.sqlite3"\n'
                "SCHEMA = '''\n"
                "CREATE TABLE orders (id INTEGER PRIMARY KEY, state TEXT);\n"
                "CREATE TABLE order_lines (id INTEGER PRIMARY KEY,\n"
                "    order_id INTEGER REFERENCES orders(id), sku TEXT);\n"
                "'''\n\n"
                "def connect():\n"
                "    return sqlite3.connect(DB)\n\n"
                "def ship(conn, order_id):\n"
                "    conn.execute(\"UPDATE orders SET state = 'shipped' WHERE id = ?\",\n"
                "                 (order_id,))\n"
            ),
            "app/state.py": (
                "import json\n\n"
                "def save(data):\n"
                '    with open("snapshots/last.json", "w") as f:\n'
                "        json.dump(data, f)\n"
            ),
        },
    )
    words = repo_words(repo_from(root))
    assert words.languages == ["python"]
    assert words.sqlite and words.databases == ["var/shop.sqlite3"]
    assert ("orders", "state") in words.status_tables
    assert words.references == [("order_lines", "order_id", "orders", "id")]
    assert words.state_files == ["snapshots/last.json"]


def test_repo_words_of_a_repository_without_sqlite(tmp_path: Path) -> None:
    root = write_files(tmp_path, {"main.go": "package main\n\nfunc main() {}\n"})
    words = repo_words(repo_from(root))
    assert not words.sqlite and words.databases == []
    assert tailor(['sqlite3 {database} "PRAGMA journal_mode;"'], words) == []
