"""Python string literals in tree-sitter trees: docstrings, literal texts, and the names
bound to string constants. Shared by the repository facts (rules/context.py) and the
SQL helpers (rules/sql.py), which import the context: kept apart so neither
imports the other lazily."""

from __future__ import annotations

import tree_sitter

from vibe_audit.chunker.parsing import node_text
from vibe_audit.rules import syntax

__all__ = ["is_docstring", "literal_text", "string_constants"]


def is_docstring(node: tree_sitter.Node) -> bool:
    """A string that is a statement on its own (docstring or bare string), not a value."""
    parent = node.parent
    if parent is not None and parent.type == "concatenated_string":
        parent = parent.parent
    return (
        parent is not None
        and parent.type == "expression_statement"
        and parent.named_child_count == 1
    )


def literal_text(node: tree_sitter.Node) -> str | None:
    """The text of a string or implicitly concatenated string; f-string fields become '?'."""
    if node.type == "concatenated_string":
        parts = [literal_text(child) for child in node.named_children if child.type == "string"]
        return "".join(p for p in parts if p is not None)
    if node.type != "string":
        return None
    pieces: list[str] = []
    for child in node.named_children:
        if child.type == "string_content":
            pieces.append(node_text(child))
        elif child.type == "interpolation":
            pieces.append("?")
    return "".join(pieces)


def string_constants(scope: tree_sitter.Node) -> dict[str, str]:
    """Names bound to a string literal by the statements directly in ``scope`` (a module's
    top level, or a function's own body): ``SQL = "SELECT ..."``."""
    constants: dict[str, str] = {}
    nodes = (
        syntax.body_nodes(scope)
        if scope.type == "function_definition"
        else (
            c
            for s in scope.named_children
            if s.type == "expression_statement"
            for c in s.named_children
        )
    )
    for assignment in nodes:
        if assignment.type != "assignment":
            continue
        left = assignment.child_by_field_name("left")
        right = assignment.child_by_field_name("right")
        if left is None or right is None or left.type != "identifier":
            continue
        text = literal_text(right)
        if text is not None:
            constants[node_text(left)] = text
    return constants
