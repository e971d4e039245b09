"""A rusqlite transaction started while another one is open on the same connection.

What it finds:
    A non-test Rust function, in a file using rusqlite, that opens a transaction
    (``let tx = conn.unchecked_transaction()?``, ``transaction()``,
    ``transaction_with_behavior(..)``, or runs ``BEGIN``) and, before that transaction's
    ``commit()`` / ``rollback()`` / ``COMMIT``, either
      1. starts another one itself (``unchecked_transaction()`` or a ``BEGIN`` statement), or
      2. calls a function or method of the same file (``self.save_items(..)``,
         ``write_rows(&tx, ..)``) that starts one of its own with
         ``unchecked_transaction()`` or a ``BEGIN`` statement (on ``self``'s connection or
         on the connection it receives), without first asking ``is_autocommit()``.
    ``savepoint()`` (rusqlite's nested transaction), sqlx's ``tx.begin()`` (a savepoint)
    and a callee taking a ``&Transaction`` are the correct forms and are not matched.

Why it matters:
    SQLite has no nested BEGIN: the inner ``BEGIN`` (``unchecked_transaction()`` sends one)
    fails with "cannot start a transaction within a transaction". The inner function
    returns that error, and the outer one usually propagates it and rolls back, so the
    composed operation never succeeds; code that ignores the error instead runs the inner
    writes in the outer transaction and its COMMIT commits the outer work early, leaving
    the outer function's rollback nothing to undo.

Example:
    impl Store {
        pub fn import(&self, batch: &Batch) -> Result<()> {
            let tx = self.conn.unchecked_transaction()?;
            tx.execute("INSERT INTO batches (id) VALUES (?1)", [batch.id])?;
            self.save_items(&batch.items)?;  // opens its own transaction: fails
            tx.commit()?;
            Ok(())
        }

        pub fn save_items(&self, items: &[Item]) -> Result<()> {
            let tx = self.conn.unchecked_transaction()?;
            /* ... */
            tx.commit()?;
            Ok(())
        }
    }

Use instead:
    Split the inner function into a part that runs on a transaction it is given
    (``fn save_items_in(tx: &Transaction, ..)``) and a wrapper that opens one; call the
    first from ``import``. Or nest with a savepoint: ``let sp = tx.savepoint()?;``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import tree_sitter

from vibe_audit.chunker.parsing import node_text
from vibe_audit.rules import rust, syntax
from vibe_audit.rules.base import Hit, Rule, RuleMeta, node_hit
from vibe_audit.rules.context import FileContext
from vibe_audit.rules.sqltext import BEGIN
from vibe_audit.schemas import Confidence, Severity

META = RuleMeta(
    id="rust-rusqlite-nested-transaction",
    title="Transaction started inside an open transaction (rusqlite)",
    severity=Severity.HIGH,
    confidence=Confidence.MEDIUM,
    categories={"concurrency": "Transaction", "sqlite": "Error Handling"},
    checklist=["concurrency.4C"],
    problem=(
        "{function}() opens a transaction at line {outer} and, while it is open, {inner} "
        "starts another one on the same connection (line {line}): SQLite has no nested "
        "BEGIN, so the inner one fails with 'cannot start a transaction within a "
        "transaction'."
    ),
    scenario=(
        "{function}() runs: the inner BEGIN fails, the error propagates and the outer "
        "transaction is rolled back, so the operation fails every time this path is taken; "
        "if the error is ignored, the inner COMMIT ends the outer transaction early."
    ),
    impact=(
        "A code path that can never succeed, or outer work committed halfway when the "
        "inner function's error is swallowed."
    ),
    how_to_verify=(
        "Call {function}() against a scratch database with the path that reaches line "
        "{line}: it returns 'cannot start a transaction within a transaction'."
    ),
    fix=(
        "Let the inner code run on the transaction it is given (a function taking "
        "`&Transaction` / `&Connection` that opens nothing, plus a wrapper that opens the "
        "transaction for other callers), or nest with `tx.savepoint()?`, which SQLite "
        "supports."
    ),
    trade_off="None: the nested form does not work at all.",
    effort_hours=(0.25, 1.0),
    languages=["rust"],
    experimental=True,
)

_OPENERS = frozenset({"transaction", "unchecked_transaction", "transaction_with_behavior"})
_ENDS = frozenset({"commit", "rollback", "finish"})
_COMMIT = re.compile(r"^\W*(COMMIT|END|ROLLBACK)\b", re.I)


def check_file(ctx: FileContext) -> Iterator[Hit]:
    text = ctx.source.text
    if "rusqlite" not in text or syntax.is_test_path(ctx.source.path):
        return
    if "unchecked_transaction" not in text and "BEGIN" not in text.upper():
        return
    constants = rust.string_constants(ctx.root)
    functions = [
        f for f in rust.rust_functions(ctx.root) if not rust.is_rust_test(f, ctx.source.path)
    ]
    beginners = {
        rust.rust_function_name(f): begin
        for f in functions
        if "is_autocommit" not in node_text(f) and (begin := _own_begin(f, constants)) is not None
    }
    for function in functions:
        name = rust.rust_function_name(function)
        for outer, end in _open_transactions(function, constants):
            inner = _inner_begin(function, outer, end, beginners, name, constants)
            if inner is None:
                continue
            node, who, line = inner
            yield node_hit(
                ctx,
                node,
                named_by=function,
                details={
                    "function": name,
                    "outer": str(syntax.line(outer)),
                    "inner": who,
                    "line": str(line),
                },
            )
            break


def _statement(call: tree_sitter.Node, constants: dict[str, str]) -> str:
    if rust.method_name(call) not in {"execute", "execute_batch"}:
        return ""
    args = rust.call_arguments(call)
    if not args:
        return ""
    text = rust.rust_string(args[0])
    if text is None and args[0].type == "identifier":
        text = constants.get(node_text(args[0]))
    return text or ""


def _own_begin(function: tree_sitter.Node, constants: dict[str, str]) -> tree_sitter.Node | None:
    """The ``unchecked_transaction()`` call or BEGIN statement the function starts its own
    transaction with (not ``transaction()``: on a shared ``&self`` it cannot be nested)."""
    for call in rust.rust_method_calls(
        function, "unchecked_transaction", "execute", "execute_batch"
    ):
        if rust.method_name(call) == "unchecked_transaction" or BEGIN.match(
            _statement(call, constants)
        ):
            return call
    return None


def _open_transactions(
    function: tree_sitter.Node, constants: dict[str, str]
) -> Iterator[tuple[tree_sitter.Node, int]]:
    """(the call opening a transaction, the byte where it ends: its commit / rollback /
    COMMIT, else the end of the function)."""
    body = function.child_by_field_name("body")
    if body is None:
        return
    calls = list(rust.rust_method_calls(function, *_OPENERS, *_ENDS, "execute", "execute_batch"))
    for index, call in enumerate(calls):
        method = rust.method_name(call)
        opens = method in _OPENERS or BEGIN.match(_statement(call, constants))
        if not opens:
            continue
        end = next(
            (
                c.start_byte
                for c in calls[index + 1 :]
                if rust.method_name(c) in _ENDS or _COMMIT.match(_statement(c, constants))
            ),
            body.end_byte,
        )
        yield call, end


def _inner_begin(
    function: tree_sitter.Node,
    outer: tree_sitter.Node,
    end: int,
    beginners: dict[str, tree_sitter.Node],
    name: str,
    constants: dict[str, str],
) -> tuple[tree_sitter.Node, str, int] | None:
    """(the call, who starts the inner transaction, its line) between ``outer`` and ``end``."""
    for call in syntax.of_type(function, "call_expression", stop_at=frozenset({"function_item"})):
        if not (outer.end_byte <= call.start_byte < end):
            continue
        method = rust.method_name(call)
        if method == "unchecked_transaction" or BEGIN.match(_statement(call, constants)):
            return call, f"{name}() itself", syntax.line(call)
        callee = call.child_by_field_name("function")
        if callee is None:
            continue
        called = re.split(r"[.:]", node_text(callee))[-1]
        if called == name or called not in beginners:
            continue
        if method and not node_text(rust.receiver(call) or call).startswith("self"):
            continue  # a method of some other object
        if method and rust.method_name(outer) in {"transaction", "transaction_with_behavior"}:
            continue  # `&mut` borrow of the connection: a self call is a lock, not a BEGIN
        if any("Transaction" in node_text(a) for a in rust.call_arguments(call)):
            continue
        return call, f"{called}()", syntax.line(beginners[called])
    return None


RULE = Rule(meta=META, doc=__doc__ or "", check_file=check_file)
