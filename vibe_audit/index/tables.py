"""SQL tables named in string literals (Python, JS/TS, Rust) and .sql files: who reads them
(SELECT ... FROM / JOIN) and who writes them (INSERT / UPDATE / DELETE / REPLACE / CREATE /
ALTER / DROP / TRUNCATE), as ``rules/sqltext.sql_accesses`` reads them: every table of every
statement counts, with subqueries, CTEs and schema statements."""

from __future__ import annotations

import tree_sitter

from vibe_audit.chunker.parsing import node_text
from vibe_audit.index.hits import OPENING, Touch, touch
from vibe_audit.rules import syntax
from vibe_audit.rules.context import FileContext
from vibe_audit.rules.sqltext import is_statement, sql_accesses
from vibe_audit.schemas import SourceFile

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
STRING_TYPES = {
    "python": ("string", "concatenated_string"),
    "javascript": ("string", "template_string"),
    "typescript": ("string", "template_string"),
    "tsx": ("string", "template_string"),
    "rust": ("string_literal", "raw_string_literal"),
}


def _sql_texts(node: tree_sitter.Node) -> str | None:
    """A string literal's raw text when it starts like SQL (after its opening quote)."""
    text = node_text(node)
    opening = OPENING.match(text)
    body = text[opening.end() :] if opening else text
    return text if is_statement(body) else None


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
    return text if is_statement(body) else None


def sql_file_hits(source: SourceFile) -> list[Touch]:
    found = []
    for offset, mode, operation, table in sql_accesses(source.text):
        line = source.text.count("\n", 0, offset) + 1
        found.append(Touch("sql-table", table, source.path, line, mode, operation, None, ""))
    return found
