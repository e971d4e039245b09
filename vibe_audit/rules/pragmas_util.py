"""PRAGMA settings the JS/TS and Rust code runs (not prose, logs or messages about them),
shared by the PRAGMA rules written together (synchronous, wal_autocheckpoint, busy
timeout, tuning PRAGMAs). The SQL text itself is read by ``rules/sqltext.py``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import tree_sitter

from vibe_audit.chunker.parsing import node_text
from vibe_audit.rules import js, rust, syntax
from vibe_audit.rules.context import FileContext
from vibe_audit.rules.sqltext import pragmas


@dataclass(frozen=True)
class SetPragma:
    """One PRAGMA the code sets: ``name`` and ``value`` lower-cased, without quotes
    (``value`` '' when it is not a literal the file spells out)."""

    node: tree_sitter.Node
    line: int
    name: str
    value: str
    text: str  # the line as written, stripped


# Methods that run SQL text on a JS/TS SQLite connection (better-sqlite3, node:sqlite,
# bun:sqlite, sqlite3, the `sqlite` wrapper).
_JS_SQL_METHODS = frozenset(
    {"exec", "run", "prepare", "query", "all", "get", "each", "execute", "pragma", "raw"}
)  # fmt: skip
# Calls whose string arguments talk about SQL instead of running it.
_MESSAGE_CALLEE = re.compile(
    r"(^|\.)(console|log|logger|debug|info|warn|error|trace|assert|expect|describe|it|test)"
    r"(\.|$)",
    re.I,
)


def _statement_start(text: str, offset: int) -> bool:
    before = text[:offset].rstrip(" \t")
    return before == "" or before.endswith((";", "\n", "\\n"))


def _line_of(ctx: FileContext, node: tree_sitter.Node, offset: int, text: str) -> int:
    return syntax.line(node) + text.count("\n", 0, offset)


def _js_runs(string: tree_sitter.Node) -> bool:
    """The string is SQL the code runs: the first argument of ``db.exec/run/prepare/
    pragma/...(...)``, or the value a ``const`` binds (a PRAGMA block run later), not an
    argument of a log or assertion call, a ``throw`` or an ``Error``."""
    parent = string.parent
    if parent is None:
        return False
    if parent.type == "arguments":
        call = parent.parent
        if call is None or call.type not in {"call_expression", "new_expression"}:
            return False
        callee = js.js_callee(call)
        if call.type == "new_expression" or _MESSAGE_CALLEE.search(callee):
            return False
        return "." in callee and callee.rsplit(".", 1)[-1] in _JS_SQL_METHODS
    return parent.type in {"variable_declarator", "pair", "array"}


def js_pragmas(ctx: FileContext) -> list[SetPragma]:
    """PRAGMA settings (``name = value`` / ``name(value)``) the file's JS/TS code runs:
    ``db.pragma("synchronous = OFF")`` (better-sqlite3) and ``PRAGMA ...`` statements at the
    start of a statement in a string the code runs (``db.exec("PRAGMA ...")``, a ``const``
    PRAGMA block). Template strings with ``${}`` in the value give an empty value."""
    found: list[SetPragma] = []
    for node, text in js.strings(ctx.root):
        if "pragma" not in text.lower() and not _is_pragma_call_arg(node):
            continue
        if not _js_runs(node):
            continue
        if _is_pragma_call_arg(node):
            match = re.match(r"^\s*(?:\w+\.)?(\w+)\s*(?:=\s*([^\s;]+)|\(\s*([^)]*)\))?", text)
            if match is None:
                continue
            value = match.group(2) or match.group(3) or ""
            value = "" if "${" in value else value.strip("'\"").lower()
            found.append(_set(ctx, node, 0, text, match.group(1).lower(), value))
            continue
        for said in pragmas(text):
            if not _statement_start(text, said.offset):
                continue
            value = said.value if said.value is not None else said.written
            if "${" in text[said.offset : said.offset + 80].split(";", 1)[0]:
                value = ""
            found.append(_set(ctx, node, said.offset, text, said.name, value or ""))
    return found


def _is_pragma_call_arg(node: tree_sitter.Node) -> bool:
    parent = node.parent
    call = parent.parent if parent is not None and parent.type == "arguments" else None
    return (
        call is not None
        and call.type == "call_expression"
        and js.js_callee(call).endswith(".pragma")
        and js.js_arguments(call)[:1] == [node]
    )


def _set(ctx: FileContext, node: tree_sitter.Node, offset: int, text: str, name: str,
         value: str) -> SetPragma:  # fmt: skip
    line = _line_of(ctx, node, offset, text)
    return SetPragma(node, line, name, value, ctx.lines[line - 1].strip())


def _rust_in_message(node: tree_sitter.Node) -> bool:
    """The string is an argument of a macro other than sqlx's query macros (a log line, a
    panic message, ``format!``): it talks about the setting, it does not run it."""
    current = node.parent
    while current is not None and current.type != "function_item":
        if current.type == "macro_invocation":
            macro = current.child_by_field_name("macro")
            name = node_text(macro).rsplit("::", 1)[-1] if macro is not None else ""
            return name not in rust.QUERY_FUNCTIONS
        current = current.parent
    return False


def _rust_value(node: tree_sitter.Node) -> str:
    """A literal PRAGMA value as written in Rust: "OFF", &"OFF", 0, "0" -> 'off' / '0'."""
    while node.type == "reference_expression":
        inner = node.child_by_field_name("value")
        if inner is None:
            break
        node = inner
    text = rust.rust_string(node)
    if text is not None:
        return text.strip().lower()
    if node.type in {"integer_literal", "boolean_literal"}:
        return re.sub(r"_?[iu](8|16|32|64|128|size)$", "", node_text(node).lower())
    if node.type == "unary_expression" and node_text(node).replace(" ", "").startswith("-"):
        return node_text(node).replace(" ", "")
    return ""


def rust_pragmas(ctx: FileContext) -> list[SetPragma]:
    """PRAGMA settings the file's Rust code makes, outside test code: rusqlite's
    ``conn.pragma_update(None, "name", value)``, sqlx's ``options.pragma("name", "value")``
    and ``PRAGMA name = value`` at the start of a statement in a SQL string (not in a log or
    panic message)."""
    found: list[SetPragma] = []
    for node in syntax.of_type(ctx.root, "call_expression", "string_literal", "raw_string_literal"):
        if node.type == "call_expression":
            method = rust.method_name(node)
            args = rust.call_arguments(node)
            if method in {"pragma_update", "pragma_update_and_check"} and len(args) >= 3:
                name, value = rust.rust_string(args[1]), _rust_value(args[2])
            elif method == "pragma" and len(args) == 2:
                name, value = rust.rust_string(args[0]), _rust_value(args[1])
            else:
                continue
            if name is None or rust.is_rust_test(node, ctx.source.path):
                continue
            line = syntax.line(node)
            found.append(SetPragma(node, line, name.lower(), value, ctx.lines[line - 1].strip()))
            continue
        text = rust.rust_string(node)
        if text is None or "pragma" not in text.lower() or _rust_in_message(node):
            continue
        if rust.is_rust_test(node, ctx.source.path):
            continue
        for said in pragmas(text):
            if not _statement_start(text, said.offset):
                continue
            value = said.value if said.value is not None else said.written
            found.append(_set(ctx, node, said.offset, text, said.name, value or ""))
    return found
