"""A status/state text column with no CHECK constraint on its values.

What it finds:
    A ``CREATE TABLE`` in a Python string with a column named ``status``, ``state`` or
    ``*_status``/``*_state`` of a text type (TEXT, VARCHAR, CHAR, STRING) that has no
    ``CHECK (... IN (...))`` on it (inline or table-level, or added by an ``ALTER TABLE``
    anywhere in the repository) and is not a foreign key to a lookup table. A ``state``
    column counts only when it looks like a workflow state (a word DEFAULT such as 'new', or
    a job/task/queue/document/order table) and its table is not an address (city, zip...).

Why it matters:
    The status column drives the workflow: workers select 'pending' rows, the UI shows
    'done'. Without a constraint, any typo ('complete' vs 'completed', 'Pending') or a
    stale value from an old release is stored silently; rows in an unknown state are never
    picked up again and never reported as failed: stuck jobs.

Example:
    CREATE TABLE jobs (id TEXT PRIMARY KEY, status TEXT NOT NULL DEFAULT 'pending')

Use instead:
    CREATE TABLE jobs (
        id TEXT PRIMARY KEY,
        status TEXT NOT NULL DEFAULT 'pending'
            CHECK (status IN ('pending', 'processing', 'done', 'failed'))
    )
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import tree_sitter

from vibe_audit.rules import syntax
from vibe_audit.rules.base import Hit, Rule, RuleMeta
from vibe_audit.rules.context import FileContext, RepoContext
from vibe_audit.rules.literals import is_docstring, literal_text
from vibe_audit.rules.sqltext import (
    Column,
    Table,
    create_tables,
    has_status_column,
    unconstrained_status_columns,
)
from vibe_audit.schemas import Confidence, Severity

META = RuleMeta(
    id="status-column-without-check",
    title="Status column without a CHECK constraint on its values",
    severity=Severity.MEDIUM,
    confidence=Confidence.HIGH,
    categories={"guardrails": "Constraints", "concurrency": "Validation"},
    checklist=["guardrails.3A", "guardrails.5A", "guardrails.phase1.1", "concurrency.3A"],
    problem=(
        "Column `{column}` of table `{table}` ({definition}) accepts any string: no CHECK "
        "constraint restricts it to the states the code knows."
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
        "Run `UPDATE {table} SET {column} = 'bogus' WHERE rowid = 1`: it succeeds. "
        "`SELECT {column}, COUNT(*) FROM {table} GROUP BY {column}` often shows stray values."
    ),
    fix=(
        "Declare the allowed values in the schema (SQLite needs a table rebuild to add it to "
        "an existing table):\n"
        "    {column} TEXT NOT NULL CHECK ({column} IN ('pending', 'processing', 'done', "
        "'failed'))"
    ),
    trade_off=(
        "Adding a state now needs a migration; existing rows with stray values must be fixed "
        "before the constraint can be added."
    ),
    effort_hours=(0.5, 2.0),
    needs_concurrency=True,
)

_CREATE = re.compile(r"create\s+(temp\w*\s+)?table", re.I)
_ALTER_CHECK = re.compile(r"\bALTER\s+TABLE\b", re.I)
_ALTER_STATEMENT = re.compile(r"\bALTER\s+TABLE\s+[\"`\[]?(\w+)[^;\"']{0,2000}", re.I)
_CHECK_WORD = re.compile(r"\bCHECK\b", re.I)


def check_repo(repo: RepoContext) -> Iterator[Hit]:
    files = [c for c in repo.in_language("python") if _CREATE.search(c.source.text)]
    if not files:
        return
    alters: list[tuple[str, str]] | None = None  # (table, statement), gathered when needed
    for ctx in files:
        for string in _create_strings(ctx):
            if is_docstring(string):
                continue
            sql = literal_text(string) or ""
            if not _CREATE.search(sql):
                continue
            for table in create_tables(sql):
                if alters is None and has_status_column(table):
                    alters = _alter_checks(repo)
                for column in _unchecked(table, alters or []):
                    line = syntax.line(string) + sql.count("\n", 0, column.offset)
                    yield Hit(
                        path=ctx.source.path,
                        start_line=line,
                        end_line=line,
                        symbol=syntax.qualified_name(string),
                        details={
                            "table": table.name,
                            "column": column.name,
                            "definition": " ".join(column.definition.split()),
                        },
                    )


def _create_strings(ctx: FileContext) -> list[tree_sitter.Node]:
    """The (outermost) string literals that contain a CREATE TABLE, found from the text
    matches rather than by walking every node of the file."""
    text = ctx.source.text
    found: dict[int, tree_sitter.Node] = {}
    for match in _CREATE.finditer(text):
        offset = len(text[: match.start()].encode("utf-8"))
        node: tree_sitter.Node | None = ctx.root.descendant_for_byte_range(offset, offset + 1)
        while node is not None and node.type not in {"string", "module"}:
            node = node.parent
        if node is None or node.type != "string":
            continue
        if node.parent is not None and node.parent.type == "concatenated_string":
            node = node.parent
        found.setdefault(node.start_byte, node)
    return list(found.values())


def _alter_checks(repo: RepoContext) -> list[tuple[str, str]]:
    """(table, statement) of every ``ALTER TABLE <table> ... CHECK`` in the Python sources."""
    return [
        (match.group(1), match.group(0))
        for ctx in repo.in_language("python")
        if _ALTER_CHECK.search(ctx.source.text)
        for match in _ALTER_STATEMENT.finditer(ctx.source.text)
        if _CHECK_WORD.search(match.group(0))
    ]


def _unchecked(table: Table, alters: list[tuple[str, str]]) -> Iterator[Column]:
    for column in unconstrained_status_columns(table):
        mention = re.compile(rf"\b{re.escape(column.name)}\b", re.I)
        if any(name.lower() == table.name.lower() and mention.search(a) for name, a in alters):
            continue
        yield column


RULE = Rule(meta=META, doc=__doc__ or "", check_repo=check_repo)
