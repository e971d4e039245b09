"""A status/state text column with no CHECK constraint on its values (Rust schema).

What it finds:
    In a repository whose Rust code uses a SQL crate (rusqlite, sqlx, tokio-rusqlite,
    deadpool-sqlite, r2d2_sqlite, refinery, rusqlite_migration), a ``CREATE TABLE`` with a
    column named ``status``, ``state`` or ``*_status`` / ``*_state`` of a text type (TEXT,
    VARCHAR, CHAR) that has no ``CHECK (... IN (...))`` on it (inline, table-level, in a
    later ``CREATE TABLE`` of the same table, or added by an ``ALTER TABLE``) and is not a
    foreign key to a lookup table. The schema is read from Rust string literals (non-test
    code) and from the ``.sql`` files the code embeds: ``sqlx::migrate!()`` / refinery's
    ``embed_migrations!`` (the ``migrations`` directory; ``*.down.sql`` skipped) and
    ``include_str!("schema.sql")``; a finding in a ``.sql`` file is reported on the
    column's line in that file. A ``state``
    column counts only when it looks like a workflow state (a word DEFAULT such as 'new',
    or a job/task/queue/document/order table) and its table is not an address. Enum types
    (PostgreSQL ``CREATE TYPE ... AS ENUM``) are not text and are not matched.

Why it matters:
    The status column drives the workflow: workers select 'pending' rows, the UI shows
    'done'. Without a constraint, any typo ('complete' vs 'completed', 'Pending') or a
    stale value from an old release is stored silently; rows in an unknown state are never
    picked up again and never reported as failed: stuck jobs. Rust enums do not help once
    the value is a string in the database: another binary, a manual fix or an older
    release writes whatever it likes.

Example:
    conn.execute_batch(r"
        CREATE TABLE IF NOT EXISTS jobs (
            id INTEGER PRIMARY KEY,
            status TEXT NOT NULL DEFAULT 'pending'
        );")?;

Use instead:
    conn.execute_batch(r"
        CREATE TABLE IF NOT EXISTS jobs (
            id INTEGER PRIMARY KEY,
            status TEXT NOT NULL DEFAULT 'pending'
                CHECK (status IN ('pending', 'running', 'done', 'failed'))
        );")?;
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from vibe_audit.chunker.parsing import node_text
from vibe_audit.rules import rust, syntax
from vibe_audit.rules.base import Hit, Rule, RuleMeta
from vibe_audit.rules.context import FileContext, RepoContext
from vibe_audit.rules.sqltext import (
    Column,
    create_tables,
    short_table_name,
    unconstrained_status_columns,
)
from vibe_audit.schemas import Confidence, Severity

META = RuleMeta(
    id="rust-status-column-without-check",
    title="Status column without a CHECK constraint on its values (Rust schema)",
    severity=Severity.MEDIUM,
    confidence=Confidence.HIGH,
    categories={"guardrails": "Constraints", "concurrency": "Validation"},
    checklist=["guardrails.3A", "guardrails.5A", "guardrails.phase1.1"],
    problem=(
        "Column `{column}` of table `{table}` ({definition}, {schema}) accepts any string: "
        "no CHECK constraint restricts it to the states the code knows."
    ),
    scenario=(
        "A new code path writes {column} 'complete' instead of 'done' (or 'Failed'): the "
        "{table} row is stored, the code that selects work only knows the old values, so the "
        "row is stuck and no error is raised anywhere."
    ),
    impact=(
        "Jobs stuck in states nothing handles, found only by manual queries; state-machine "
        "bugs corrupt data instead of failing loudly."
    ),
    how_to_verify=(
        "Run `UPDATE {table} SET {column} = 'bogus'` on one row: it succeeds. "
        "`SELECT {column}, COUNT(*) FROM {table} GROUP BY {column}` often shows stray values."
    ),
    fix=(
        "Declare the allowed values in the schema (in a new migration; SQLite needs a table "
        "rebuild to add it to an existing table, PostgreSQL: ALTER TABLE ... ADD CONSTRAINT "
        "... CHECK):\n"
        "    {column} TEXT NOT NULL CHECK ({column} IN ('pending', 'running', 'done', "
        "'failed'))"
    ),
    trade_off=(
        "Adding a state now needs a migration; existing rows with stray values must be fixed "
        "before the constraint can be added."
    ),
    effort_hours=(0.5, 2.0),
    needs_concurrency=True,
    languages=["rust"],
)

_SQL_CRATE = re.compile(
    r"\b(rusqlite|sqlx|tokio_rusqlite|r2d2_sqlite|deadpool_sqlite|refinery|rusqlite_migration|"
    r"libsql)\b"
)
_CREATE = re.compile(r"create\s+(temp\w*\s+)?table", re.I)
_ALTER_STATEMENT = re.compile(
    r"\bALTER\s+TABLE\s+(?:IF\s+EXISTS\s+)?(?:ONLY\s+)?[\"`\[]?(?:\w+\.)?(\w+)[^;]{0,2000}", re.I
)
_ALTER_COVERS = re.compile(r"\b(CHECK|TYPE|DROP\s+COLUMN)\b", re.I)
_RENAMED_TO = re.compile(r"\bRENAME\s+TO\s+[\"`\[]?(\w+)", re.I)
_MIGRATE = re.compile(r"\b(migrate|embed_migrations)!\s*\(\s*(?:\"([^\"]*)\")?")
_INCLUDE = re.compile(r"\binclude_str!\s*\(\s*\"([^\"]+\.sql)\"")


@dataclass(frozen=True)
class _Schema:
    """One schema text and where a finding in it is reported."""

    text: str
    path: str  # the Rust file of the finding
    line: int  # the line of its first character (Rust string), or of the anchor (.sql)
    symbol: str | None
    source: str  # the file the text is in (a .sql file, or ``path``)
    embedded: bool  # a .sql file: findings go to ``line``, its own line is named


def check_repo(repo: RepoContext) -> Iterator[Hit]:
    files = [
        ctx
        for ctx in repo.in_language("rust")
        if not syntax.is_test_path(ctx.source.path) and not ctx.source.path.endswith("build.rs")
    ]
    if not any(_SQL_CRATE.search(ctx.source.text) for ctx in files):
        return
    schemas = [s for ctx in files for s in _rust_schemas(ctx)]
    schemas += _embedded_schemas(files, repo)
    if not schemas:
        return
    alters = [
        (match.group(1).lower(), match.group(0))
        for schema in schemas
        for match in _ALTER_STATEMENT.finditer(schema.text)
    ]
    tables = [(schema, table) for schema in schemas for table in create_tables(schema.text)]
    checked = {
        (table.name.lower().rsplit(".", 1)[-1], column.name.lower())
        for _, table in tables
        for column in table.columns
        if not list(unconstrained_status_columns(table, [column]))
    }
    renamed = {m.lower() for s in schemas for m in _RENAMED_TO.findall(s.text)}
    seen: set[tuple[str, str]] = set()
    for schema, table in tables:
        name = short_table_name(table.name).lower()
        if name in renamed:
            continue  # rebuilt under another name: its final shape is elsewhere
        for column in unconstrained_status_columns(table):
            key = (name, column.name.lower())
            if key in seen or key in checked or _altered(name, column, alters):
                continue
            seen.add(key)
            start = schema.text.find(column.name, column.offset)
            line = schema.text.count("\n", 0, start if start >= 0 else column.offset)
            where = f"{schema.source}:{schema.line + line if not schema.embedded else line + 1}"
            # In a .sql file the finding sits on the column's own line.
            at = line + 1 if schema.embedded else schema.line + line
            yield Hit(
                path=schema.source if schema.embedded else schema.path,
                start_line=at,
                end_line=at,
                symbol=None if schema.embedded else schema.symbol,
                details={
                    "table": short_table_name(table.name),
                    "column": column.name,
                    "definition": " ".join(column.definition.split()),
                    "schema": where,
                },
            )


def _rust_schemas(ctx: FileContext) -> Iterator[_Schema]:
    if not _CREATE.search(ctx.source.text):
        return
    for node in syntax.of_type(ctx.root, "string_literal", "raw_string_literal"):
        text = rust.rust_string(node)
        if text is None or not _CREATE.search(text) or rust.is_rust_test(node, ctx.source.path):
            continue
        content = next((c for c in node.named_children if c.type == "string_content"), node)
        yield _Schema(
            text=text,
            path=ctx.source.path,
            line=syntax.line(content),
            symbol=rust.rust_symbol(node),
            source=ctx.source.path,
            embedded=False,
        )


def _embedded_schemas(files: list[FileContext], repo: RepoContext) -> list[_Schema]:
    """The .sql files the Rust code embeds (a finding in one is reported in that file)."""
    sql_files = [
        s
        for s in repo.other_sources
        if s.path.endswith(".sql")
        and not s.path.endswith("down.sql")
        and not syntax.is_test_path(s.path)
    ]
    if not sql_files:
        return []
    found: list[_Schema] = []
    taken: set[str] = set()
    for ctx in files:
        text = ctx.source.text
        if "migrations!" not in text and "migrate!" not in text and "include_str!" not in text:
            continue
        for node in syntax.of_type(ctx.root, "macro_invocation"):
            if rust.is_rust_test(node, ctx.source.path):
                continue
            call = node_text(node)
            migrate = _MIGRATE.search(call)
            include = _INCLUDE.search(call)
            if migrate:
                folder = (migrate.group(2) or "migrations").strip("./").rsplit("/", 1)[-1]
                chosen = [s for s in sql_files if f"{folder}/" in f"/{s.path}"]
            elif include:
                base = include.group(1).rsplit("/", 1)[-1]
                chosen = [s for s in sql_files if s.path.rsplit("/", 1)[-1] == base]
            else:
                continue
            for source in chosen:
                if source.path in taken:
                    continue
                taken.add(source.path)
                found.append(
                    _Schema(
                        text=source.text,
                        path=ctx.source.path,
                        line=syntax.line(node),
                        symbol=rust.rust_symbol(node),
                        source=source.path,
                        embedded=True,
                    )
                )
    return found


def _altered(table: str, column: Column, alters: list[tuple[str, str]]) -> bool:
    """An ALTER TABLE of the table names the column with a CHECK, a new TYPE or a DROP."""
    mention = re.compile(rf"\b{re.escape(column.name)}\b", re.I)
    return any(
        name == table and mention.search(a) and _ALTER_COVERS.search(a) for name, a in alters
    )


RULE = Rule(meta=META, doc=__doc__ or "", check_repo=check_repo)
