"""Helpers of the transaction-boundary rules ported to TypeScript/JavaScript and Rust
(work started before commit, status done before the file, migrations outside a
transaction, transactions held across slow work).

Owned by the "ports" rules; built only on the shared ``js`` / ``rust`` / ``syntax``
helpers, which it does not change.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

import tree_sitter

from vibe_audit.chunker.parsing import node_text
from vibe_audit.rules import js, rust, syntax

# ------------------------------------------------------------------------------ common

DONE_WORDS = r"(completed?|done|finished|success|succeeded|successful|ready|processed|exported)"
DONE_VALUE = re.compile(r"^" + DONE_WORDS + r"$", re.I)
SQL_SETS_DONE = re.compile(
    r"\bUPDATE\b.*?\bSET\b.*?\b\w*(status|state)\s*=\s*'" + DONE_WORDS + r"'", re.I | re.S
)
SQL_SETS_STATUS_PARAM = re.compile(
    r"\bUPDATE\b.*?\bSET\b.*?\b\w*(status|state)\s*=\s*(\?\d*|\$\d+|:\w+|@\w+)", re.I | re.S
)
INSERT_SQL = re.compile(r"^\W*(INSERT|REPLACE)\b(?:\s+OR\s+\w+)?\s+INTO\s+[\"`\[]?(\w+)", re.I)
BEGIN_SQL = re.compile(
    r"^\s*BEGIN(\s+(IMMEDIATE|EXCLUSIVE|DEFERRED))?(\s+TRANSACTION)?\s*;?\s*$", re.I
)
COMMIT_SQL = re.compile(r"^\s*(COMMIT|END)(\s+TRANSACTION)?\s*;?\s*$", re.I)


def between(node: tree_sitter.Node, start: tree_sitter.Node, end: tree_sitter.Node) -> bool:
    """``node`` starts after ``start`` ends and before ``end`` starts."""
    return start.end_byte <= node.start_byte and node.start_byte < end.start_byte


_BRANCHES = {
    # JavaScript / TypeScript
    "if_statement": ("consequence", "alternative"),
    "ternary_expression": ("consequence", "alternative"),
    # Rust
    "if_expression": ("consequence", "alternative"),
}


def exclusive(a: tree_sitter.Node, b: tree_sitter.Node) -> bool:
    """``a`` and ``b`` cannot both run in one call: different branches of an if / ternary /
    switch / match, or a try block and its catch clause."""
    ancestors: dict[int, tree_sitter.Node] = {}
    current: tree_sitter.Node | None = a
    while current is not None:
        ancestors[current.id] = current
        current = current.parent
    child_b: tree_sitter.Node = b
    current = b.parent
    while current is not None and current.id not in ancestors:
        child_b, current = current, current.parent
    if current is None:
        return False
    child_a: tree_sitter.Node = a
    while child_a.parent is not None and child_a.parent.id != current.id:
        child_a = child_a.parent
    if child_a.id == child_b.id:
        return False
    if current.type in _BRANCHES:
        fields = [current.child_by_field_name(f) for f in _BRANCHES[current.type]]
        ids = {f.id for f in fields if f is not None}
        return child_a.id in ids and child_b.id in ids
    if current.type in {"switch_body", "match_block"}:
        return True
    if current.type == "try_statement":
        handler = current.child_by_field_name("handler")
        body = current.child_by_field_name("body")
        pair = {child_a.id, child_b.id}
        return handler is not None and body is not None and pair == {handler.id, body.id}
    return False


# ------------------------------------------------------------------- JavaScript / TypeScript

_JS_SQL_METHODS = frozenset({"exec", "run", "prepare", "query", "execute", "raw", "unsafe"})


def js_first_string(call: tree_sitter.Node, constants: dict[str, str]) -> str | None:
    """The SQL text of a call's first argument: a literal, a template without ``${}``
    parts kept as written, or a string constant of the file."""
    args = js.js_arguments(call)
    if not args:
        return None
    first = js.unwrap(args[0])
    if first.type == "template_string":
        return node_text(first)[1:-1]
    text = js.js_string(first)
    if text is None and first.type == "identifier":
        text = constants.get(node_text(first))
    return text


def js_constants(root: tree_sitter.Node) -> dict[str, str]:
    """{name: text} of the file's ``const NAME = "..."`` string declarations."""
    found: dict[str, str] = {}
    for name, value in js.declared_values(root).items():
        value = js.unwrap(value)
        if value.type == "template_string":
            found[name] = node_text(value)[1:-1]
        else:
            text = js.js_string(value)
            if text is not None:
                found[name] = text
    return found


def js_prepared(root: tree_sitter.Node, constants: dict[str, str]) -> dict[str, str]:
    """{receiver as written: SQL} of prepared statements the file binds to a name:
    ``const insert = db.prepare("...")`` ('insert') and ``this.insert = db.prepare("...")``
    ('this.insert'), also as class fields."""
    found: dict[str, str] = {}
    for node in syntax.of_type(
        root, "variable_declarator", "assignment_expression", "public_field_definition"
    ):
        if node.type == "variable_declarator":
            target, value = node.child_by_field_name("name"), node.child_by_field_name("value")
        elif node.type == "assignment_expression":
            target, value = node.child_by_field_name("left"), node.child_by_field_name("right")
        else:
            target, value = node.child_by_field_name("name"), node.child_by_field_name("value")
        if target is None or value is None:
            continue
        value = js.unwrap(value)
        if value.type != "call_expression" or not js.js_callee(value).endswith(".prepare"):
            continue
        sql = js_first_string(value, constants)
        if sql is None:
            continue
        name = node_text(target)
        found[name] = sql
        if node.type == "public_field_definition":
            found[f"this.{name}"] = sql
    return found


def js_call_sql(
    call: tree_sitter.Node, constants: dict[str, str], prepared: dict[str, str]
) -> str | None:
    """The SQL a call runs: ``db.exec/run/query/prepare("...")`` (with ``.run()`` etc.
    chained), or ``stmt.run(...)`` of a prepared statement the file binds. None when the
    call runs no SQL the file spells out."""
    callee = js.js_callee(call)
    if "." not in callee:
        return None
    owner, method = callee.rsplit(".", 1)
    if method in _JS_SQL_METHODS:
        text = js_first_string(call, constants)
        if text is not None and method != "prepare":
            return text
        if text is not None and method == "prepare":
            return None  # counted where the prepared statement runs
    if method in {"run", "get", "all", "iterate", "execute", "values"}:
        if owner in prepared:
            return prepared[owner]
        function = call.child_by_field_name("function")
        inner = function.child_by_field_name("object") if function is not None else None
        inner = js.unwrap(inner) if inner is not None else None
        if (
            inner is not None
            and inner.type == "call_expression"
            and js.js_callee(inner).endswith(".prepare")
        ):
            return js_first_string(inner, constants)
    return None


def js_transaction_verb(call: tree_sitter.Node, constants: dict[str, str]) -> str | None:
    """'BEGIN' / 'COMMIT' for a call running that statement as SQL text (exec / run /
    query / prepare(...).run()), else None."""
    callee = js.js_callee(call)
    if "." not in callee:
        return None
    method = callee.rsplit(".", 1)[1]
    text: str | None = None
    if method in _JS_SQL_METHODS:
        text = js_first_string(call, constants)
    if text is None:
        return None
    if BEGIN_SQL.match(text):
        return "BEGIN"
    if COMMIT_SQL.match(text):
        return "COMMIT"
    return None


@dataclass(frozen=True)
class JsRegion:
    """A part of a function that runs inside one transaction."""

    start: tree_sitter.Node  # the BEGIN call, or the transaction callback
    end: tree_sitter.Node  # the COMMIT call, or the transaction callback (committed after)
    kind: str  # 'explicit' (BEGIN ... COMMIT) or 'callback' (db.transaction(fn))
    asynchronous: bool  # the COMMIT waits on I/O (awaited, or an async callback)
    description: str  # the commit, in the finding's words


_TRANSACTION_CALLS = re.compile(r"(^|\.)\$?transaction$")


def js_transaction_regions(root: tree_sitter.Node, constants: dict[str, str]) -> list[JsRegion]:
    """Explicit BEGIN ... COMMIT pairs on one connection within a function, and callbacks
    passed to ``x.transaction(fn)`` / ``x.$transaction(fn)`` (better-sqlite3, bun:sqlite,
    knex, drizzle, prisma, sequelize), which commit when the callback returns."""
    regions: list[JsRegion] = []
    for function in syntax.of_type(root, *js.JS_FUNCTION_TYPES):
        calls = js.own_nodes(function, "call_expression")
        verbs = [(call, js_transaction_verb(call, constants)) for call in calls]
        for index, (call, verb) in enumerate(verbs):
            if verb != "BEGIN":
                continue
            owner = js.js_callee(call).rsplit(".", 1)[0]
            commit = next(
                (
                    later
                    for later, later_verb in verbs[index + 1 :]
                    if later_verb == "COMMIT" and js.js_callee(later).rsplit(".", 1)[0] == owner
                ),
                None,
            )
            if commit is not None:
                awaited = commit.parent is not None and commit.parent.type == "await_expression"
                regions.append(
                    JsRegion(call, commit, "explicit", awaited, node_text(commit).split("\n")[0])
                )
    for call in syntax.of_type(root, "call_expression"):
        if not _TRANSACTION_CALLS.search(js.js_callee(call)):
            continue
        for arg in js.js_arguments(call):
            arg = js.unwrap(arg)
            if arg.type in js.JS_FUNCTION_TYPES:
                is_async = node_text(arg).lstrip().startswith("async")
                regions.append(
                    JsRegion(
                        arg,
                        arg,
                        "callback",
                        is_async,
                        f"the end of the {js.js_callee(call)}() callback",
                    )
                )
    return regions


def js_in_region(node: tree_sitter.Node, region: JsRegion) -> bool:
    if region.kind == "callback":
        return (
            region.start.start_byte <= node.start_byte < region.start.end_byte
            and js.enclosing_function(node) == region.start
        )
    return between(node, region.start, region.end) and js.enclosing_function(
        node
    ) == js.enclosing_function(region.start)


def js_identifiers(node: tree_sitter.Node) -> set[str]:
    """Identifier names under ``node`` (shorthand properties included)."""
    kinds = {"identifier", "shorthand_property_identifier", "shorthand_property_identifier_pattern"}
    return {node_text(n) for n in [node, *syntax.walk(node)] if n.type in kinds}


def js_bound_names(call: tree_sitter.Node) -> set[str]:
    """The names the statement around ``call`` binds its result to
    (``const info = ...``, ``const { lastInsertRowid } = ...``, ``const [row] = await ...``,
    ``id = ...``)."""
    current = call
    while current.parent is not None and current.parent.type in {
        "await_expression",
        "parenthesized_expression",
        "member_expression",
        "as_expression",
        "non_null_expression",
        "call_expression",
        "subscript_expression",
    }:
        current = current.parent
    parent = current.parent
    if parent is None:
        return set()
    if parent.type == "variable_declarator":
        target = parent.child_by_field_name("name")
        return js_identifiers(target) if target is not None else set()
    if parent.type == "assignment_expression":
        target = parent.child_by_field_name("left")
        return {js.root_name(target) or node_text(target)} if target is not None else set()
    return set()


# ------------------------------------------------------------------------------------ Rust

RUST_BEGIN_METHODS = frozenset(
    {"transaction", "transaction_with_behavior", "unchecked_transaction", "begin", "try_begin"}
)


@dataclass(frozen=True)
class RustTransaction:
    """``let tx = conn.transaction()?`` (rusqlite) / ``let mut tx = pool.begin().await?``
    (sqlx) ... ``tx.commit()`` within one function."""

    function: tree_sitter.Node
    name: str  # the transaction variable
    begin: tree_sitter.Node  # the let declaration
    commit: tree_sitter.Node  # the tx.commit() call
    driver: str  # 'rusqlite' or 'sqlx'


def rust_transactions(root: tree_sitter.Node) -> Iterator[RustTransaction]:
    """Every transaction a function opens into a local and commits later in it."""
    for function in rust.rust_functions(root):
        for declaration in rust.rust_body_nodes(function):
            if declaration.type != "let_declaration":
                continue
            pattern = declaration.child_by_field_name("pattern")
            value = declaration.child_by_field_name("value")
            if pattern is None or value is None:
                continue
            name = node_text(pattern).removeprefix("mut ").strip()
            if not re.fullmatch(r"\w+", name):
                continue
            begin_call = _rust_unwrap(value)
            if begin_call.type != "call_expression":
                continue
            method = rust.method_name(begin_call)
            if method not in RUST_BEGIN_METHODS:
                continue
            driver = "sqlx" if method in {"begin", "try_begin"} else "rusqlite"
            if driver == "sqlx" and "await" not in node_text(value):
                continue
            commit = next(
                (
                    call
                    for call in rust.rust_method_calls(function, "commit")
                    if call.start_byte > declaration.end_byte
                    and (r := rust.receiver(call)) is not None
                    and node_text(r) == name
                ),
                None,
            )
            if commit is not None:
                yield RustTransaction(function, name, declaration, commit, driver)


def _rust_unwrap(node: tree_sitter.Node) -> tree_sitter.Node:
    """``x`` of ``x?`` / ``x.await`` / ``x.unwrap()`` / ``x.expect(..)`` / ``(x)``."""
    while True:
        if node.type in {"try_expression", "await_expression", "parenthesized_expression"}:
            if not node.named_children:
                return node
            node = node.named_children[0]
            continue
        if node.type == "call_expression" and rust.method_name(node) in {
            "unwrap",
            "expect",
            "map_err",
            "context",
            "with_context",
        }:
            inner = rust.receiver(node)
            if inner is None:
                return node
            node = inner
            continue
        return node


def rust_identifiers(node: tree_sitter.Node) -> set[str]:
    """Identifier names under ``node``, including those inside macro token trees."""
    found = {node_text(n) for n in [node, *syntax.walk(node)] if n.type == "identifier"}
    for tree in syntax.of_type(node, "token_tree"):
        found |= set(re.findall(r"\b[a-z_][a-z0-9_]*\b", node_text(tree)))
    return found


def rust_sql_of(call: tree_sitter.Node, constants: dict[str, str]) -> str | None:
    """The SQL a rusqlite ``x.execute("...", ..)`` / ``x.prepare("...")`` or an executed
    sqlx query runs, when the code spells it out."""
    method = rust.method_name(call)
    if method in {"execute", "execute_batch", "prepare", "prepare_cached", "query_row"}:
        args = rust.call_arguments(call)
        if args:
            text = rust.rust_string(args[0])
            if text is None and args[0].type == "identifier":
                text = constants.get(node_text(args[0]))
            if text is not None:
                return text
    if method in rust.EXECUTE_METHODS:
        value = rust.receiver(call)
        current = _rust_unwrap(value) if value is not None else None
        if (
            current is not None
            and current.type == "call_expression"
            and rust.method_name(current) in {"prepare", "prepare_cached"}
        ):
            return rust_sql_of(current, constants)
        while current is not None and current.type == "call_expression":
            name = node_text(current.child_by_field_name("function") or current)
            if re.search(r"(^|::)query(_as|_scalar)?$", name):
                args = rust.call_arguments(current)
                if args:
                    text = rust.rust_string(args[0])
                    if text is None and args[0].type == "identifier":
                        text = constants.get(node_text(args[0]))
                    return text
                return None
            current = rust.receiver(current)
        if current is not None and current.type == "macro_invocation":
            match = re.search(r'"((?:[^"\\]|\\.)*)"', node_text(current))
            return match.group(1) if match else None
    return None


_RUST_STOP = frozenset({"function_item"})


def rust_calls_between(tx: RustTransaction) -> list[tree_sitter.Node]:
    """Calls and macro calls of the transaction's function that run after its begin and
    before its commit (closures and async blocks included, nested ``fn`` items not)."""
    body = tx.function.child_by_field_name("body")
    if body is None:
        return []
    return [
        node
        for node in syntax.walk(body, stop_at=_RUST_STOP)
        if node.type in {"call_expression", "macro_invocation"}
        and between(node, tx.begin, tx.commit)
    ]


def rust_let_names(call: tree_sitter.Node) -> set[str]:
    """Names the ``let`` around ``call`` binds its result to (``let id = ...``,
    ``let (id, path) = ...``)."""
    current = call
    while current.parent is not None and current.parent.type in {
        "try_expression",
        "await_expression",
        "call_expression",
        "field_expression",
        "parenthesized_expression",
    }:
        current = current.parent
    parent = current.parent
    if parent is None or parent.type != "let_declaration":
        return set()
    pattern = parent.child_by_field_name("pattern")
    return rust_identifiers(pattern) - {"mut"} if pattern is not None else set()


def rust_sql_chain(call: tree_sitter.Node) -> tree_sitter.Node:
    """The whole builder chain a query call ends (``sqlx::query(..).bind(x).execute(..)``)
    including the ``?`` / ``.await`` after it."""
    current = call
    while current.parent is not None and current.parent.type in {
        "try_expression",
        "await_expression",
    }:
        current = current.parent
    return current
