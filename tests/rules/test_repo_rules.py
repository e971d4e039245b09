"""Repository-level rules join facts across files, SQL migrations included."""

from __future__ import annotations

from tests.conftest import repo_from
from vibe_audit.rules.engine import load_rules, run_rules

WORKER = (
    "import sqlite3\n"
    "\n"
    "def save_pages(conn: sqlite3.Connection, doc_id: str, pages: list[str]) -> None:\n"
    "    for n, text in enumerate(pages):\n"
    "        conn.execute(\n"
    '            "INSERT INTO pages (document_id, page_no, text) VALUES (?, ?, ?)",\n'
    "            (doc_id, n, text),\n"
    "        )\n"
)


def _hits(write_tree, schema: str) -> list[str]:
    root = write_tree({"migrations/001_init.sql": schema, "app/worker.py": WORKER})
    rule = load_rules()["insert-without-idempotency-key"]
    findings = run_rules(repo_from(root), ["concurrency"], [rule])
    return [f"{f.location.path}:{f.location.start_line}" for f in findings]


def test_a_table_declared_only_in_a_sql_migration_is_known(write_tree) -> None:
    surrogate = (
        "CREATE TABLE pages (\n"
        "    id INTEGER PRIMARY KEY AUTOINCREMENT,\n"
        "    document_id TEXT NOT NULL,\n"
        "    page_no INTEGER NOT NULL,\n"
        "    text TEXT\n"
        ");\n"
    )
    assert _hits(write_tree, surrogate) == ["app/worker.py:5"]


def test_a_unique_key_in_the_migration_clears_it(write_tree) -> None:
    keyed = (
        "CREATE TABLE pages (\n"
        "    id INTEGER PRIMARY KEY AUTOINCREMENT,\n"
        "    document_id TEXT NOT NULL,\n"
        "    page_no INTEGER NOT NULL,\n"
        "    text TEXT,\n"
        "    UNIQUE (document_id, page_no)\n"
        ");\n"
    )
    assert _hits(write_tree, keyed) == []


def test_a_status_check_in_one_file_and_its_unguarded_update_in_another(write_tree) -> None:
    root = write_tree(
        {
            "app/repository.py": (
                "def set_status(conn, doc_id, status):\n"
                '    conn.execute("UPDATE documents SET status = ? WHERE id = ?", '
                "(status, doc_id))\n"
            ),
            "app/api.py": (
                "from app import repository\n"
                "\n"
                "def retry(conn, doc):\n"
                '    if doc.status != "failed":\n'
                '        return "not failed"\n'
                '    repository.set_status(conn, doc.id, "pending")\n'
            ),
        }
    )
    rule = load_rules()["status-check-then-act-across-functions"]
    findings = run_rules(repo_from(root), ["concurrency"], [rule])
    assert [(f.location.path, f.location.start_line, f.location.end_line) for f in findings] == [
        ("app/api.py", 4, 6)
    ]
    assert "set_status() (app/repository.py:2)" in findings[0].problem
