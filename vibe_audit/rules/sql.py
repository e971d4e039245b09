"""SQL seen from Python: the statements a call executes, the tables a repo declares, and
the PRAGMA settings a file makes. The SQL text itself is read by ``rules/sqltext.py``.

Rules that follow data through SQL (a status read then updated, rows inserted with no key
to make a retry idempotent) read statements from the literal first argument of a call:
``conn.execute("UPDATE ...", args)``, ``cur.executemany(...)``, ``session.execute(text(...))``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace

import tree_sitter

from vibe_audit.chunker.parsing import node_text
from vibe_audit.rules import syntax
from vibe_audit.rules.context import FileContext, RepoContext
from vibe_audit.rules.literals import is_docstring, literal_text
from vibe_audit.rules.sqltext import Table, create_tables, pragmas, statement, unique_indexed

SQLITE_MODULES = frozenset({"sqlite3", "aiosqlite"})
EXECUTE_METHODS = frozenset(
    {
        "execute",
        "executemany",
        "executescript",
        "exec_driver_sql",
        "execute_insert",
        "execute_fetchall",
    }
)
_STRING_TYPES = frozenset({"string", "concatenated_string"})


@dataclass(frozen=True)
class SqlCall:
    call: tree_sitter.Node
    sql: str
    verb: str  # SELECT, INSERT, UPDATE, DELETE, REPLACE
    table: str  # lower-cased


def _sql_node(call: tree_sitter.Node) -> tree_sitter.Node | None:
    """The first argument of a call, inside SQLAlchemy's ``text("...")`` when wrapped."""
    args = syntax.positional_args(call)
    if not args:
        return None
    first = args[0]
    if first.type == "call" and syntax.last_name(syntax.callee(first)) == "text":
        inner = syntax.positional_args(first)
        first = inner[0] if inner else first
    return first


def literal_sql(call: tree_sitter.Node) -> str | None:
    """The literal SQL a call passes first (also through ``text("...")``), else None."""
    first = _sql_node(call)
    if first is None:
        return None
    if first.type == "concatenated_string":
        parts = [syntax.string_value(part) for part in first.named_children]
        return None if any(p is None for p in parts) else "".join(p or "" for p in parts)
    return syntax.string_value(first)


def sql_argument(call: tree_sitter.Node, constants: dict[str, str]) -> str | None:
    """The SQL text a ``*.execute(sql, ...)``-style call runs: a literal or a bound name."""
    if syntax.last_name(syntax.callee(call)) not in EXECUTE_METHODS:
        return None
    first = _sql_node(call)
    if first is None:
        return None
    if first.type in _STRING_TYPES:
        return literal_text(first)
    if first.type == "identifier":
        return constants.get(node_text(first))
    return None


def sql_calls(function: tree_sitter.Node) -> list[SqlCall]:
    """DML statements executed in a function's own body, in source order."""
    found = []
    for node in syntax.body_nodes(function, "call"):
        sql = literal_sql(node)
        parsed = statement(sql) if sql else None
        if sql and parsed:
            found.append(SqlCall(node, sql, parsed[0], parsed[1]))
    return found


def declared_tables(repo: RepoContext) -> dict[str, Table]:
    """CREATE TABLE statements in the repository's Python strings and .sql files, by
    lower-cased name. Only statements closed by ';' (or at the end of a .sql file) count,
    and not TEMP tables or schema-qualified names."""
    texts: list[str] = []
    for ctx in repo.in_language("python"):
        if "CREATE" not in ctx.source.text.upper():
            continue
        texts.extend(node_text(s) for s in syntax.of_type(ctx.root, "string"))
    texts.extend(s.text for s in repo.other_sources if s.path.endswith(".sql"))  # migrations
    keyed = {name for text in texts for name in unique_indexed(text)}
    tables: dict[str, Table] = {}
    for text in texts:
        for table in create_tables(text + ";"):
            if table.terminated and not table.temporary and "." not in table.name:
                name = table.name.lower()
                tables[name] = replace(table, unique_indexed=name in keyed)
    return tables


@dataclass(frozen=True)
class PragmaSet:
    """One ``PRAGMA name = value`` (or ``PRAGMA name(value)``) in a non-docstring literal."""

    node: tree_sitter.Node
    line: int
    name: str
    value: str  # lower-cased


def pragma_settings(ctx: FileContext, names: frozenset[str]) -> Iterator[PragmaSet]:
    """PRAGMA settings of ``names`` in the file's string values, each at the start of a
    statement (docstrings and prose that mentions a PRAGMA are skipped)."""
    for string in syntax.of_type(ctx.root, "string"):
        if is_docstring(string):
            continue
        text = literal_text(string) or ""
        if "pragma" not in text.lower():
            continue
        for pragma in pragmas(text):
            if pragma.value is None or not _statement_start(text, pragma.offset):
                continue  # a read, or prose that mentions a PRAGMA, not SQL
            if pragma.name in names:
                line = syntax.line(string) + node_text(string).count("\n", 0, pragma.offset)
                yield PragmaSet(string, line, pragma.name, pragma.value)


def _statement_start(text: str, offset: int) -> bool:
    """Only whitespace between ``offset`` and the string's start, a ';' or a line break."""
    before = text[:offset].rstrip(" \t")
    return before == "" or before.endswith((";", "\n", "\\n"))


def is_sqlite_file(ctx: FileContext) -> bool:
    return bool(ctx.imports & SQLITE_MODULES)
