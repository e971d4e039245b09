"""A read on the pool of rows the function's own open transaction just wrote (sqlx).

What it finds:
    A non-test Rust function that opens a sqlx transaction (``let mut tx =
    pool.begin().await?``), writes a table on it (``INSERT`` / ``UPDATE`` / ``DELETE`` /
    ``REPLACE`` executed on ``&mut *tx``), and then, before ``tx.commit()`` /
    ``tx.rollback()``, reads the same table with a query executed on the pool (``&pool``,
    ``&self.pool``, a parameter typed ``...Pool``) instead of the transaction. The SQL is a
    string literal or a file ``const``.

Why it matters:
    The pool hands the read another connection, which cannot see the transaction's
    uncommitted writes: the function reads the state from before its own change (the row
    it just inserted is missing, the counter it just bumped has its old value) and acts on
    it. On SQLite with a single-connection pool the read waits for a connection the open
    transaction holds, until the pool's acquire timeout; on PostgreSQL a read of a row the
    transaction locked returns the old version silently.

Example:
    let mut tx = pool.begin().await?;
    sqlx::query("INSERT INTO orders (id, total) VALUES ($1, $2)")
        .bind(id).bind(total).execute(&mut *tx).await?;
    let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM orders WHERE customer = $1")
        .bind(customer).fetch_one(&pool).await?;  // does not see the new order
    tx.commit().await?;

Use instead:
    let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM orders WHERE customer = $1")
        .bind(customer).fetch_one(&mut *tx).await?;
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import tree_sitter

from vibe_audit.chunker.parsing import node_text
from vibe_audit.rules import rust, sqltext, syntax
from vibe_audit.rules.base import Hit, Rule, RuleMeta, node_hit
from vibe_audit.rules.context import FileContext
from vibe_audit.schemas import Confidence, Severity

META = RuleMeta(
    id="rust-sqlx-read-outside-own-transaction",
    title="Read on the pool of rows the open transaction just wrote (sqlx)",
    severity=Severity.HIGH,
    confidence=Confidence.HIGH,
    categories={"concurrency": "Transaction"},
    checklist=["concurrency.1C"],
    problem=(
        "{function}() writes {table} on its open transaction `{tx}` (line {write}) and then "
        "reads {table} on the pool (line {read}) before committing: the pool's connection "
        "cannot see the transaction's uncommitted write."
    ),
    scenario=(
        "{function}() runs: the read at line {read} returns {table} as it was before the "
        "write at line {write} (the new row missing, the old value still there), and the "
        "function acts on that stale view; with a one-connection pool it waits for the "
        "connection `{tx}` holds until the acquire timeout."
    ),
    impact=(
        "Decisions made on data that misses the function's own change: wrong totals, "
        "duplicate work, checks that pass when they should fail; or a request stuck until "
        "the pool times out."
    ),
    how_to_verify=(
        "Call {function}() against a scratch database and log the result of the read at "
        "line {read}: it does not include the change written at line {write}."
    ),
    fix=(
        "Run the read on the transaction: `.fetch_one(&mut *{tx})` (or `&mut **{tx}` on "
        "older sqlx) instead of the pool."
    ),
    trade_off="None: the read then sees the transaction's own writes and takes its locks.",
    effort_hours=(0.1, 0.25),
    languages=["rust"],
)

_BEGIN = frozenset({"begin", "begin_with", "try_begin"})
_ENDS = frozenset({"commit", "rollback"})


def check_file(ctx: FileContext) -> Iterator[Hit]:
    text = ctx.source.text
    if "sqlx" not in text or ".begin" not in text or syntax.is_test_path(ctx.source.path):
        return
    constants = rust.string_constants(ctx.root)
    for function in rust.rust_functions(ctx.root):
        if rust.is_rust_test(function, ctx.source.path):
            continue
        for tx, start, end in _transactions(function):
            hit = _stale_read(ctx, function, tx, start, end, constants)
            if hit is not None:
                yield hit
                break


def _transactions(function: tree_sitter.Node) -> Iterator[tuple[str, int, int]]:
    """(name, start byte, end byte) of each ``let mut tx = ..begin().await?`` of the
    function, until its commit / rollback (else the end of the function)."""
    body = function.child_by_field_name("body")
    if body is None:
        return
    for call in rust.rust_method_calls(function, *_BEGIN):
        declaration = call.parent
        while declaration is not None and declaration.type in {
            "await_expression", "try_expression", "call_expression", "field_expression"
        }:  # fmt: skip
            declaration = declaration.parent
        if declaration is None or declaration.type != "let_declaration":
            continue
        pattern = declaration.child_by_field_name("pattern")
        if pattern is None:
            continue
        name = node_text(pattern).removeprefix("mut ").strip()
        if not re.fullmatch(r"\w+", name):
            continue
        end = next(
            (
                c.start_byte
                for c in rust.rust_method_calls(function, *_ENDS)
                if c.start_byte > call.end_byte and node_text(rust.receiver(c) or c) == name
            ),
            body.end_byte,
        )
        yield name, call.end_byte, end


def _on(executor: tree_sitter.Node | None, tx: str) -> bool:
    """The executor is the transaction: ``&mut *tx``, ``&mut tx``, ``tx.as_mut()``..."""
    if executor is None:
        return False
    return re.search(rf"(^|[^\w.]){re.escape(tx)}\b", node_text(executor)) is not None


def _stale_read(
    ctx: FileContext,
    function: tree_sitter.Node,
    tx: str,
    start: int,
    end: int,
    constants: dict[str, str],
) -> Hit | None:
    pools = rust.pool_parameters(function)
    written: dict[str, tree_sitter.Node] = {}
    for query in rust.sqlx_queries(function, constants):
        if not (start <= query.call.start_byte < end) or not query.sql:
            continue
        target = sqltext.statement(query.sql)
        if target is None:
            continue
        verb, table = target
        if verb != "SELECT" and _on(query.executor, tx):
            written.setdefault(table, query.query)
            continue
        if verb != "SELECT" or table not in written:
            continue
        if rust.executor_kind(query.executor, pools) != "pool" or _on(query.executor, tx):
            continue
        return node_hit(
            ctx,
            query.query,
            until=query.call,
            named_by=function,
            details={
                "function": rust.rust_function_name(function),
                "table": table,
                "tx": tx,
                "write": str(syntax.line(written[table])),
                "read": str(syntax.line(query.query)),
            },
        )
    return None


RULE = Rule(meta=META, doc=__doc__ or "", check_file=check_file)
