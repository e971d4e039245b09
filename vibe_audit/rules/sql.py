"""SQL seen from Python: the statements a function executes, and the tables a repo declares.

Rules that follow data through SQL (a status read then updated, rows inserted with no key
to make a retry idempotent) read statements from the literal first argument of a call:
``conn.execute("UPDATE ...", args)``, ``cur.executemany(...)``, ``session.execute(text(...))``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import tree_sitter

from vibe_audit.chunker.parsing import node_text
from vibe_audit.rules import syntax
from vibe_audit.rules.context import RepoContext

_STATEMENT = re.compile(
    r"^\s*(?:WITH\b.*?\)\s*)?(SELECT|INSERT|UPDATE|DELETE|REPLACE)\b", re.I | re.S
)
_TABLE = {
    "SELECT": re.compile(r"\bFROM\s+[\"`\[]?(\w+)", re.I),
    "INSERT": re.compile(r"\bINTO\s+[\"`\[]?(\w+)", re.I),
    "REPLACE": re.compile(r"\bINTO\s+[\"`\[]?(\w+)", re.I),
    "UPDATE": re.compile(r"^\s*UPDATE\s+(?:OR\s+\w+\s+)?[\"`\[]?(\w+)", re.I),
    "DELETE": re.compile(r"\bFROM\s+[\"`\[]?(\w+)", re.I),
}
_CREATE = re.compile(
    r"CREATE\s+TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?[\"`\[]?(\w+)[\"`\]]?\s*\((.*?)\)\s*;", re.I | re.S
)
_UNIQUE_INDEX = re.compile(r"CREATE\s+UNIQUE\s+INDEX\s+.*?\bON\s+[\"`\[]?(\w+)", re.I | re.S)


@dataclass(frozen=True)
class SqlCall:
    call: tree_sitter.Node
    sql: str
    verb: str  # SELECT, INSERT, UPDATE, DELETE, REPLACE
    table: str  # lower-cased


@dataclass(frozen=True)
class Table:
    name: str
    columns: str  # the column list as written
    natural_key: bool  # UNIQUE somewhere, or a primary key that is not a lone surrogate id


def literal_sql(call: tree_sitter.Node) -> str | None:
    """The literal SQL a call passes first (also through ``text("...")``), else None."""
    args = syntax.positional_args(call)
    if not args:
        return None
    first = args[0]
    if first.type == "call" and syntax.last_name(syntax.callee(first)) == "text":
        inner = syntax.positional_args(first)
        first = inner[0] if inner else first
    if first.type == "concatenated_string":
        parts = [syntax.string_value(part) for part in first.named_children]
        return None if any(p is None for p in parts) else "".join(p or "" for p in parts)
    return syntax.string_value(first)


def statement(sql: str) -> tuple[str, str] | None:
    """(verb, table) of one SQL statement, or None when it is not DML."""
    match = _STATEMENT.match(sql)
    if match is None:
        return None
    verb = match.group(1).upper()
    table = _TABLE[verb].search(sql)
    return (verb, table.group(1).lower()) if table else None


def sql_calls(function: tree_sitter.Node) -> list[SqlCall]:
    """DML statements executed in a function's own body, in source order."""
    found = []
    for node in syntax.body_nodes(function, "call"):
        sql = literal_sql(node)
        parsed = statement(sql) if sql else None
        if sql and parsed:
            found.append(SqlCall(node, sql, parsed[0], parsed[1]))
    return found


def where_clause(sql: str) -> str:
    """The text after the last WHERE (empty when there is none)."""
    parts = re.split(r"\bWHERE\b", sql, flags=re.I)
    return parts[-1] if len(parts) > 1 else ""


def declared_tables(repo: RepoContext) -> dict[str, Table]:
    """CREATE TABLE statements in the repository's Python strings and .sql files."""
    texts: list[str] = []
    for ctx in repo.in_language("python"):
        if "CREATE" not in ctx.source.text.upper():
            continue
        texts.extend(node_text(s) for s in syntax.of_type(ctx.root, "string"))
    texts.extend(s.text for s in repo.other_sources if s.path.endswith(".sql"))  # migrations
    unique_indexed = {m.group(1).lower() for text in texts for m in _UNIQUE_INDEX.finditer(text)}
    tables: dict[str, Table] = {}
    for text in texts:
        for match in _CREATE.finditer(text + ";"):
            name, columns = match.group(1).lower(), match.group(2)
            tables[name] = Table(name, columns, name in unique_indexed or _has_natural_key(columns))
    return tables


def _has_natural_key(columns: str) -> bool:
    if re.search(r"\bUNIQUE\b", columns, re.I):
        return True
    if re.search(r"PRIMARY\s+KEY\s*\(", columns, re.I):
        return True  # a table-level (often composite) primary key
    for line in columns.split(","):
        if re.search(r"PRIMARY\s+KEY", line, re.I):
            surrogate = re.search(r"AUTOINCREMENT|SERIAL|IDENTITY|INTEGER\s+PRIMARY", line, re.I)
            return surrogate is None
    return False
