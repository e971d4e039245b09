"""A status/state text column with no CHECK constraint on its values (JS/TS schema).

What it finds:
    A ``CREATE TABLE`` in a JavaScript / TypeScript string (a schema or migration the code
    runs with ``db.exec``) or in a ``.sql`` migration (``*.down.sql`` skipped; the finding
    sits on the column's line there) of a repository whose JS/TS code uses a SQL driver or
    ORM, with a
    column named ``status``, ``state`` or ``*_status`` / ``*_state`` of a text type (TEXT,
    VARCHAR, CHAR) that has no ``CHECK (... IN (...))`` on it (inline or table-level, or
    added by an ``ALTER TABLE`` in the JS/TS sources or a ``.sql`` migration) and is not a
    foreign key to a lookup table. A ``state`` column counts only when it looks like a
    workflow state (a word DEFAULT such as 'new', or a job/task/queue/document/order table)
    and its table is not an address (city, zip...). Archive / history / log tables (copies
    of rows whose states the live table holds) are not matched, nor enum types
    (PostgreSQL ``CREATE TYPE ... AS ENUM``), which are not text.

Why it matters:
    The status column drives the workflow: workers select 'pending' rows, the UI shows
    'done'. Without a constraint, any typo ('complete' vs 'completed', 'Pending') or a
    stale value from an old release is stored silently; rows in an unknown state are never
    picked up again and never reported as failed: stuck jobs.

Example:
    db.exec(`CREATE TABLE IF NOT EXISTS jobs (
      id INTEGER PRIMARY KEY,
      status TEXT NOT NULL DEFAULT 'pending'
    )`);

Use instead:
    db.exec(`CREATE TABLE IF NOT EXISTS jobs (
      id INTEGER PRIMARY KEY,
      status TEXT NOT NULL DEFAULT 'pending'
        CHECK (status IN ('pending', 'processing', 'done', 'failed'))
    )`);
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from vibe_audit.rules import js, syntax
from vibe_audit.rules import js_sqlite_util as util
from vibe_audit.rules.base import Hit, Rule
from vibe_audit.rules.builtin import status_column_without_check as sibling
from vibe_audit.rules.context import FileContext, RepoContext
from vibe_audit.rules.sqltext import (
    Column,
    Table,
    create_tables,
    short_table_name,
    unconstrained_status_columns,
)

# status-column-without-check's rule, with only what differs here.
META = sibling.META.model_copy(
    update={
        "id": "js-status-column-without-check",
        "checklist": ["guardrails.3A", "guardrails.5A", "guardrails.phase1.1"],
        "how_to_verify": (
            "Run `UPDATE {table} SET {column} = 'bogus' WHERE rowid = 1` (PostgreSQL: pick any "
            "id): it succeeds. `SELECT {column}, COUNT(*) FROM {table} GROUP BY {column}` often "
            "shows stray values."
        ),
        "fix": (
            "Declare the allowed values in the schema (SQLite needs a table rebuild to add it to "
            "an existing table; PostgreSQL: ALTER TABLE ... ADD CONSTRAINT ... CHECK):\n"
            "    {column} TEXT NOT NULL CHECK ({column} IN ('pending', 'processing', 'done', "
            "'failed'))"
        ),
        "languages": js.JS_LANGUAGES,
        # 0 TP of 5 outside the corpus and 1 of 3 in it (statuses a user configures)
        "experimental": True,
    }
)

_CREATE = re.compile(r"create\s+(temp\w*\s+)?table", re.I)
_ALTER_STATEMENT = re.compile(
    r"\bALTER\s+TABLE\s+(?:IF\s+EXISTS\s+)?[\"`\[]?(?:\w+\.)?(\w+)[^;]{0,2000}", re.I
)
_CHECK_WORD = re.compile(r"\bCHECK\b", re.I)
_RECORD_TABLE = re.compile(r"(archive|history|log|audit|events?)s?$", re.I)
_ORM = frozenset({"knex", "kysely", "drizzle-orm", "@prisma/client", "typeorm", "sequelize"})


def check_repo(repo: RepoContext) -> Iterator[Hit]:
    files = [
        ctx
        for ctx in repo.in_language(*js.JS_LANGUAGES)
        if not syntax.is_test_path(ctx.source.path)
    ]
    if not any(util.drivers_used(ctx) or ctx.imports & _ORM for ctx in files):
        return
    # (path, first line of the text, symbol, SQL text) of every schema text.
    texts: list[tuple[str, int, str | None, str]] = []
    for ctx in files:
        if not _CREATE.search(ctx.source.text):
            continue
        for node, text in js.strings(ctx.root):
            if _CREATE.search(text):
                texts.append((ctx.source.path, syntax.line(node), js.js_symbol(node), text))
    # .sql migrations: their CREATE TABLEs are schema too (a finding sits on the column's
    # line there), and their ALTERs may add a constraint later.
    sql_files = [
        s
        for s in repo.other_sources
        if s.path.endswith(".sql")
        and not s.path.endswith("down.sql")
        and not syntax.is_test_path(s.path)
    ]
    texts += [(s.path, 1, None, s.text) for s in sql_files if _CREATE.search(s.text)]
    if not texts:
        return
    migrations = [s.text for s in sql_files]
    alters = [
        (match.group(1).lower(), match.group(0))
        for text in [t for _, _, _, t in texts] + _alter_texts(files) + migrations
        for match in _ALTER_STATEMENT.finditer(text)
        if _CHECK_WORD.search(match.group(0))
    ]
    seen: set[tuple[str, str]] = set()
    for path, first_line, symbol, text in texts:
        for table in create_tables(text):
            for column in _unchecked(table, alters):
                key = (table.name.lower(), column.name.lower())
                if key in seen:
                    continue  # the same table created again (a later migration, a copy)
                seen.add(key)
                line = first_line + text.count("\n", 0, column.offset)
                yield Hit(
                    path=path,
                    start_line=line,
                    end_line=line,
                    symbol=symbol,
                    details={
                        "table": short_table_name(table.name),
                        "column": column.name,
                        "definition": " ".join(column.definition.split()),
                    },
                )


def _alter_texts(files: list[FileContext]) -> list[str]:
    """Whole JS/TS files that alter a table (an ALTER in a string of its own)."""
    return [c.source.text for c in files if "ALTER" in c.source.text.upper()]


def _unchecked(table: Table, alters: list[tuple[str, str]]) -> Iterator[Column]:
    name = short_table_name(table.name)
    if _RECORD_TABLE.search(name):
        return  # rows copied from the live table: its states, checked where they are set
    for column in unconstrained_status_columns(table):
        mention = re.compile(rf"\b{re.escape(column.name)}\b", re.I)
        if any(alter_table == name.lower() and mention.search(a) for alter_table, a in alters):
            continue
        yield column


RULE = Rule(meta=META, doc=__doc__ or "", check_repo=check_repo)
