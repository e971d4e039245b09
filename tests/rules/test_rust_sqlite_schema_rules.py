"""Rust SQL rules that read the schema from .sql migrations the crate embeds."""

from __future__ import annotations

from tests.conftest import repo_from
from vibe_audit.rules.engine import load_rules, run_rules

MAIN = (
    "use sqlx::SqlitePool;\n"
    "\n"
    "pub async fn setup(pool: &SqlitePool) -> anyhow::Result<()> {\n"
    '    sqlx::migrate!("./migrations").run(pool).await?;\n'
    "    Ok(())\n"
    "}\n"
)

JOBS = (
    "CREATE TABLE jobs (\n"
    "    id INTEGER PRIMARY KEY,\n"
    "    document_id TEXT NOT NULL,\n"
    "    status TEXT NOT NULL DEFAULT 'pending'\n"
    ");\n"
)

ENQUEUE = (
    "use sqlx::SqlitePool;\n"
    "\n"
    "pub async fn enqueue(pool: &SqlitePool, document_id: &str) -> sqlx::Result<()> {\n"
    '    let found: Option<(i64,)> = sqlx::query_as("SELECT id FROM jobs WHERE document_id = ?1")\n'
    "        .bind(document_id)\n"
    "        .fetch_optional(pool)\n"
    "        .await?;\n"
    "    if found.is_none() {\n"
    '        sqlx::query("INSERT INTO jobs (document_id) VALUES (?1)")\n'
    "            .bind(document_id)\n"
    "            .execute(pool)\n"
    "            .await?;\n"
    "    }\n"
    "    Ok(())\n"
    "}\n"
)


def _problems(write_tree, rule_id: str, files: dict[str, str]) -> list[str]:
    root = write_tree(files)
    findings = run_rules(repo_from(root), ["guardrails"], [load_rules()[rule_id]])
    return [f"{f.location.path}:{f.location.start_line} {f.problem}" for f in findings]


def test_status_column_in_an_embedded_migration_is_reported_in_the_sql_file(write_tree) -> None:
    files = {"src/db.rs": MAIN, "migrations/0001_init.sql": JOBS}
    (problem,) = _problems(write_tree, "rust-status-column-without-check", files)
    assert problem.startswith("migrations/0001_init.sql:4 ")


def test_a_check_added_by_a_later_migration_clears_it(write_tree) -> None:
    files = {
        "src/db.rs": MAIN,
        "migrations/0001_init.sql": JOBS,
        "migrations/0002_check.sql": (
            "ALTER TABLE jobs ADD CONSTRAINT jobs_status CHECK (status IN ('pending', 'done'));\n"
        ),
    }
    assert _problems(write_tree, "rust-status-column-without-check", files) == []


def test_sql_files_the_code_does_not_embed_are_not_read(write_tree) -> None:
    files = {"src/db.rs": MAIN.replace("migrate!", "other!"), "migrations/0001_init.sql": JOBS}
    assert _problems(write_tree, "rust-status-column-without-check", files) == []


def test_select_then_insert_uses_the_migration_schema(write_tree) -> None:
    files = {"src/db.rs": MAIN, "src/queue.rs": ENQUEUE, "migrations/0001_init.sql": JOBS}
    (problem,) = _problems(write_tree, "rust-select-then-insert-without-unique", files)
    assert problem.startswith("src/queue.rs:4 ")
    keyed = JOBS + "CREATE UNIQUE INDEX jobs_document ON jobs (document_id);\n"
    files["migrations/0001_init.sql"] = keyed
    assert _problems(write_tree, "rust-select-then-insert-without-unique", files) == []
