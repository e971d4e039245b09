"""rusqlite BEGIN ... COMMIT with an early return (`?`) and no ROLLBACK.

What it finds:
    A non-test Rust function, in a file using rusqlite, that runs ``BEGIN`` itself
    (``conn.execute_batch("BEGIN IMMEDIATE")``, ``conn.execute("BEGIN", [])``) and later
    ``COMMIT`` on the same connection, with a ``?`` or ``return`` in between (outside a
    closure) and no ``ROLLBACK`` anywhere in the function. A connection the function opened
    itself is not reported (dropping it closes it, which rolls back), and
    ``conn.transaction()`` (rusqlite's ``Transaction`` rolls back on drop) is never matched.

Why it matters:
    When a statement between BEGIN and COMMIT fails, ``?`` returns early, the COMMIT never
    runs and the shared connection stays inside the open transaction. It keeps its locks
    (after a write, the write lock: other connections get "database is locked"); later
    writes on it silently join the abandoned transaction and are never committed; the
    next BEGIN fails with "cannot start a transaction within a transaction".

Example:
    conn.execute_batch("BEGIN IMMEDIATE")?;
    for item in items {
        conn.execute("INSERT INTO items (id, body) VALUES (?1, ?2)", params![item.id, item.body])?;
    }
    conn.execute_batch("COMMIT")?;

Use instead:
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    for item in items {
        tx.execute("INSERT INTO items (id, body) VALUES (?1, ?2)", params![item.id, item.body])?;
    }
    tx.commit()?;  // an early return drops tx, which rolls back
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import tree_sitter

from vibe_audit.chunker.parsing import node_text
from vibe_audit.rules import rust, syntax
from vibe_audit.rules.base import Hit, Rule, RuleMeta
from vibe_audit.rules.context import FileContext
from vibe_audit.schemas import Confidence, Severity

META = RuleMeta(
    id="rust-rusqlite-begin-without-rollback",
    title="SQLite BEGIN without ROLLBACK on the error path (rusqlite)",
    severity=Severity.HIGH,
    confidence=Confidence.HIGH,
    categories={
        "sqlite": "Error Handling",
        "reliability": "Error Handling",
        "concurrency": "Transaction",
    },
    checklist=["sqlite.7B", "sqlite.7D", "sqlite.3C", "concurrency.4B", "reliability.7.2"],
    problem=(
        "{function}() runs `{begin}` and later `{commit}` on {connection}, but returns "
        "early on an error in between (line {early}) with no ROLLBACK: {connection} is "
        "left inside an open transaction."
    ),
    scenario=(
        "One statement of {function}() fails (a constraint violation, bad input, "
        "SQLITE_BUSY): `?` returns the error, the COMMIT is skipped and the transaction "
        "stays open on {connection}, which the rest of the program keeps using."
    ),
    impact=(
        "The connection holds its locks (other connections get 'database is locked'); "
        "later writes on it join the abandoned transaction and are never committed; the "
        "next BEGIN fails with 'cannot start a transaction within a transaction'."
    ),
    how_to_verify=(
        "Make a statement in {function}() fail (e.g. violate a NOT NULL column), then call "
        "`{connection}.is_autocommit()`: it returns false, the transaction is still open."
    ),
    fix=(
        "Use rusqlite's transaction guard, which rolls back when dropped:\n"
        "    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;\n"
        "    ... tx.execute(...)?; ...\n"
        "    tx.commit()?;\n"
        "(with only `&Connection`: `conn.unchecked_transaction()?`), or run the statements "
        'in a closure and `execute_batch("ROLLBACK")` when it returns Err.'
    ),
    trade_off="None for correctness; Connection::transaction needs `&mut Connection`.",
    effort_hours=(0.25, 0.5),
    languages=["rust"],
)

_BEGIN = re.compile(r"^\s*BEGIN\b", re.I)
_COMMIT = re.compile(r"^\s*(COMMIT|END)\b", re.I)
_ROLLBACK = re.compile(r"rollback", re.I)


def _statement(call: tree_sitter.Node, constants: dict[str, str]) -> str:
    """The SQL of ``x.execute("...", ..)`` / ``x.execute_batch("...")``, else ''."""
    if rust.method_name(call) not in {"execute", "execute_batch"}:
        return ""
    args = rust.call_arguments(call)
    if not args:
        return ""
    text = rust.rust_string(args[0])
    if text is None and args[0].type == "identifier":
        text = constants.get(node_text(args[0]))
    return text or ""


def check_file(ctx: FileContext) -> Iterator[Hit]:
    text = ctx.source.text
    if "rusqlite" not in text or "BEGIN" not in text.upper():
        return
    if syntax.is_test_path(ctx.source.path):
        return
    constants = rust.string_constants(ctx.root)
    for function in rust.rust_functions(ctx.root):
        if _ROLLBACK.search(node_text(function)) or rust.is_rust_test(function, ctx.source.path):
            continue
        calls = list(rust.rust_method_calls(function, "execute", "execute_batch"))
        begins = [c for c in calls if _BEGIN.match(_statement(c, constants))]
        for begin in begins:
            connection = rust.receiver(begin)
            if connection is None:
                continue
            name = node_text(connection)
            commit = next(
                (
                    c
                    for c in calls
                    if c.start_byte > begin.end_byte
                    and _COMMIT.match(_statement(c, constants))
                    and (r := rust.receiver(c)) is not None
                    and node_text(r) == name
                ),
                None,
            )
            if commit is None or _opened_here(function, name):
                continue
            early = _early_return(function, begin, commit)
            if early is None:
                continue
            yield Hit(
                path=ctx.source.path,
                start_line=syntax.line(begin),
                end_line=syntax.line(commit),
                symbol=rust.rust_symbol(begin),
                details={
                    "function": rust.rust_function_name(function),
                    "begin": node_text(begin).split("\n")[0],
                    "commit": node_text(commit).split("\n")[0],
                    "connection": name,
                    "early": str(syntax.line(early)),
                },
            )
            break


def _early_return(
    function: tree_sitter.Node, begin: tree_sitter.Node, commit: tree_sitter.Node
) -> tree_sitter.Node | None:
    """A ``?`` or ``return`` of the function itself between the BEGIN and the COMMIT."""
    stop = frozenset({"function_item", "closure_expression", "async_block"})
    body = function.child_by_field_name("body")
    if body is None:
        return None
    for node in syntax.of_type(body, "try_expression", "return_expression", stop_at=stop):
        if begin.end_byte <= node.start_byte and node.end_byte <= commit.start_byte:
            if node.type == "try_expression" and _inside(node, stop):
                continue
            return node
    return None


def _inside(node: tree_sitter.Node, types: frozenset[str]) -> bool:
    """``node`` sits in a closure or async block of the function (its ``?`` returns there)."""
    current = node.parent
    while current is not None and current.type != "function_item":
        if current.type in types:
            return True
        current = current.parent
    return False


def _opened_here(function: tree_sitter.Node, connection: str) -> bool:
    """The connection is a local the function opened: dropping it on return closes it."""
    root = re.split(r"[.\s(\[]", connection.lstrip("&*"), maxsplit=1)[0]
    for declaration in syntax.of_type(function, "let_declaration"):
        pattern = declaration.child_by_field_name("pattern")
        value = declaration.child_by_field_name("value")
        if pattern is None or value is None:
            continue
        if node_text(pattern).removeprefix("mut ").strip() == root and re.search(
            r"Connection::open|\bopen\w*\(", node_text(value)
        ):
            return True
    return False


RULE = Rule(meta=META, doc=__doc__ or "", check_file=check_file)
