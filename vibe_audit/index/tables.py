"""SQL tables named in string literals (Python, JS/TS, Rust) and .sql files: who reads them
(SELECT ... FROM / JOIN) and who writes them (INSERT / UPDATE / DELETE / REPLACE / CREATE /
ALTER / DROP / TRUNCATE). ``rules/sql.py`` reads one DML statement of a Python call; here
every table of every statement counts, with subqueries, CTEs and schema statements."""

from __future__ import annotations

import re

import tree_sitter

from vibe_audit.chunker.parsing import node_text
from vibe_audit.index.hits import OPENING, Touch, touch
from vibe_audit.rules import syntax
from vibe_audit.rules.context import FileContext
from vibe_audit.schemas import SourceFile
from vibe_audit.schemas.resources import AccessMode

SQL_WORDS = (
    "SELECT",
    "INSERT",
    "UPDATE",
    "DELETE",
    "REPLACE",
    "CREATE",
    "ALTER",
    "DROP",
    "select ",
    "insert ",
    "update ",
    "delete ",
    "create ",
    "alter ",
)
_STATEMENT_START = re.compile(
    r"^\s*(WITH|SELECT|INSERT|UPDATE|DELETE|REPLACE|CREATE|ALTER|DROP)\b", re.I
)
_NAME = r"[\"`\[]?(\w+(?:\$\w+)?(?:\.\w+){0,2})"
_SQL_ACCESS: tuple[tuple[re.Pattern[str], AccessMode, str], ...] = (
    (re.compile(r"\bINSERT\s+(?:OR\s+\w+\s+)?INTO\s+" + _NAME, re.I), "write", "INSERT"),
    (re.compile(r"\bREPLACE\s+INTO\s+" + _NAME, re.I), "write", "REPLACE"),
    (re.compile(r"\bUPDATE\s+(?:OR\s+\w+\s+)?" + _NAME, re.I), "write", "UPDATE"),
    (re.compile(r"\bDELETE\s+FROM\s+" + _NAME, re.I), "write", "DELETE"),
    (
        re.compile(r"\bCREATE\s+(?:TEMP\w*\s+)?TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?" + _NAME, re.I),
        "write",
        "CREATE",
    ),
    (
        re.compile(
            r"\bCREATE\s+(?:UNIQUE\s+)?INDEX\b[^;]*?\bON\s+" + _NAME + r"[\"`\]]?\s*\(", re.I
        ),
        "write",
        "CREATE",
    ),
    (re.compile(r"\bALTER\s+TABLE\s+(?:IF\s+EXISTS\s+)?" + _NAME, re.I), "write", "ALTER"),
    (re.compile(r"\bDROP\s+TABLE\s+(?:IF\s+EXISTS\s+)?" + _NAME, re.I), "write", "DROP"),
    (re.compile(r"\bTRUNCATE\s+(?:TABLE\s+)?" + _NAME, re.I), "write", "TRUNCATE"),
    (re.compile(r"\bFROM\s+" + _NAME, re.I), "read", "SELECT"),
    (re.compile(r"\bJOIN\s+" + _NAME, re.I), "read", "SELECT"),
)
_CTE = re.compile(
    r"(?:\bWITH\s+(?:RECURSIVE\s+)?|,\s*)(\w+)\s+AS\s*(?:NOT\s+)?(?:MATERIALIZED\s+)?\(", re.I
)
_NOT_TABLES = frozenset(
    {"set", "select", "where", "values", "skip", "nowait", "of", "cascade", "lateral", "unnest",
     "generate_series", "json_each", "dual", "if", "only", "the", "a", "an", "not", "exists",
     "table", "into", "from", "join"}
)  # fmt: skip
# Beyond starting with a verb, a literal must have the shape of a statement (so that prose
# such as "update field %r" or "delete from the cache" is not read as SQL).
_STATEMENT_SHAPE = re.compile(
    r"\bSELECT\b.*?\bFROM\s|\bINSERT\s+(?:OR\s+\w+\s+)?INTO\s|\bREPLACE\s+INTO\s|"
    r"\bUPDATE\s+(?:OR\s+\w+\s+)?[\"`\[]?\w+(?:\.\w+)?[\"`\]]?(?:\s+(?:AS\s+)?\w+)?\s+SET\s|"
    r"\bDELETE\s+FROM\s|\bCREATE\s+(?:TEMP\w*\s+)?TABLE\s|\bCREATE\s+(?:UNIQUE\s+)?INDEX\b[^;]*?\bON\s+\S+\s*\(|\bALTER\s+TABLE\s|"
    r"\bDROP\s+TABLE\s|\bTRUNCATE\s",
    re.I | re.S,
)
STRING_TYPES = {
    "python": ("string", "concatenated_string"),
    "javascript": ("string", "template_string"),
    "typescript": ("string", "template_string"),
    "tsx": ("string", "template_string"),
    "rust": ("string_literal", "raw_string_literal"),
}


def sql_accesses(sql: str) -> list[tuple[int, AccessMode, str, str]]:
    """(offset, mode, operation, table) of every table a SQL text reads or writes."""
    found: list[tuple[int, AccessMode, str, str]] = []
    ctes = {m.group(1).lower() for m in _CTE.finditer(sql)}
    taken: set[int] = set()
    for pattern, mode, operation in _SQL_ACCESS:
        for match in pattern.finditer(sql):
            table = match.group(1).lower()
            before = sql[: match.start()].rstrip().rsplit(None, 1)
            previous = before[-1].upper() if before else ""
            if operation == "UPDATE" and previous in {"FOR", "DO", "ON"}:
                continue
            if operation == "SELECT" and (previous == "DELETE" or match.start(1) in taken):
                continue
            if table in _NOT_TABLES or table in ctes or table.isdigit() or table.endswith("_"):
                # keywords, CTE names, and names cut short by an interpolation (idx_%s)
                continue
            taken.add(match.start(1))
            found.append((match.start(1), mode, operation, table))
    return sorted(found)


def _is_statement(text: str) -> bool:
    """Starts with a SQL verb written in one case (prose starts Capitalized: "Create index
    %s on ...") and has the shape of a statement."""
    start = _STATEMENT_START.match(text)
    if start is None:
        return False
    verb = start.group(1)
    return (verb.isupper() or verb.islower()) and _STATEMENT_SHAPE.search(text) is not None


def _sql_texts(node: tree_sitter.Node) -> str | None:
    """A string literal's raw text when it starts like SQL (after its opening quote)."""
    text = node_text(node)
    opening = OPENING.match(text)
    body = text[opening.end() :] if opening else text
    return text if _is_statement(body) else None


def sql_hits(ctx: FileContext) -> list[Touch]:
    found = []
    for node in syntax.of_type(ctx.root, *STRING_TYPES[ctx.source.language]):
        parent = node.parent
        if parent is not None and parent.type == "concatenated_string":
            continue  # read with its siblings
        if parent is not None and parent.type == "expression_statement":
            continue  # a docstring
        text = _sql_texts(node) if node.type != "concatenated_string" else _concatenated(node)
        if text is None:
            continue
        for offset, mode, operation, table in sql_accesses(text):
            line = syntax.line(node) + text.count("\n", 0, offset)
            found.append(touch(ctx, node, "sql-table", table, mode, operation, line))
    return found


def _concatenated(node: tree_sitter.Node) -> str | None:
    """Adjacent Python literals as one text, keeping each part on its own source line."""
    parts: list[str] = []
    row = node.start_point.row
    for child in node.named_children:
        parts.append("\n" * (child.start_point.row - row))
        row = child.start_point.row
        value = syntax.string_value(child)
        if value is None:
            return None
        parts.append(value.replace("\n", " "))
    text = "".join(parts)
    body = text.lstrip("\n")
    return text if _is_statement(body) else None


def sql_file_hits(source: SourceFile) -> list[Touch]:
    found = []
    for offset, mode, operation, table in sql_accesses(source.text):
        line = source.text.count("\n", 0, offset) + 1
        found.append(Touch("sql-table", table, source.path, line, mode, operation, None, ""))
    return found
