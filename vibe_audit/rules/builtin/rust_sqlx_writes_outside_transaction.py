"""Several sqlx writes on a pool with no transaction around them.

What it finds:
    A non-test Rust function that executes two or more INSERT/UPDATE/DELETE statements
    (``sqlx::query*(...)`` or ``query*!(...)``, the SQL a literal or a ``const`` of the
    file) directly on a pool (``&pool``, ``&*pool``, ``&self.pool``, ``pool.as_ref()``, a
    parameter typed ``...Pool``) where both can run in one call (not only in different
    branches of one ``if`` / ``match``), and the function never calls ``.begin()``. Only
    writes the function relies on count: their result is propagated with ``?`` or
    unwrapped. A write whose error is inspected (a constraint probe whose first INSERT is
    meant to fail, ``if let Err(..)``) or dropped (``let _ =``) is not half of a unit of work.

Why it matters:
    Each statement on a pool runs on whichever connection the pool hands out and commits
    on its own. A failure, timeout or cancelled future between them (the client
    disconnects, the task is aborted) leaves the first write committed and the second
    missing: a job marked done without its result row, a job removed from the queue
    with no result, a child row pointing at nothing. Concurrent callers also see the
    half-done state in between.

Example:
    sqlx::query("INSERT INTO results (job_id, body) VALUES ($1, $2)")
        .bind(id).bind(&body).execute(&pool).await?;
    sqlx::query("UPDATE jobs SET status = 'done' WHERE id = $1")
        .bind(id).execute(&pool).await?;

Use instead:
    let mut tx = pool.begin().await?;
    sqlx::query("INSERT INTO results (job_id, body) VALUES ($1, $2)")
        .bind(id).bind(&body).execute(&mut *tx).await?;
    sqlx::query("UPDATE jobs SET status = 'done' WHERE id = $1")
        .bind(id).execute(&mut *tx).await?;
    tx.commit().await?;
"""

from __future__ import annotations

from collections.abc import Iterator
from itertools import combinations

import tree_sitter

from vibe_audit.chunker.parsing import node_text
from vibe_audit.rules import rust, sqltext, syntax
from vibe_audit.rules.base import Hit, Rule, RuleMeta
from vibe_audit.rules.context import FileContext
from vibe_audit.schemas import Confidence, Severity

META = RuleMeta(
    id="rust-sqlx-writes-outside-transaction",
    title="Multiple writes on a pool without a transaction",
    severity=Severity.HIGH,
    confidence=Confidence.MEDIUM,
    categories={"guardrails": "Transactions", "concurrency": "Transaction"},
    checklist=[
        "guardrails.1A",
        "guardrails.6A",
        "concurrency.4A",
        "concurrency.sqlite_checklist.7",
    ],
    problem=(
        "{function}() runs {count} write statements ({statements}) directly on the pool, "
        "each committing on its own: there is no transaction making them all-or-nothing."
    ),
    scenario=(
        "The first write commits, then the second fails (constraint, lock timeout, "
        "dropped connection) or the future is cancelled when the client disconnects: the "
        "database keeps a half-applied change that no code path repairs."
    ),
    impact=(
        "Inconsistent rows (status says done without the result, or the reverse), visible "
        "to concurrent readers between the writes and permanently after a failure."
    ),
    how_to_verify=(
        "Make the second statement fail (e.g. drop its table or add a failing CHECK) and "
        "call {function}(): the first write stays committed."
    ),
    fix=(
        "Open a transaction with `let mut tx = pool.begin().await?;`, run every statement "
        "on `&mut *tx`, and `tx.commit().await?` at the end (dropping tx rolls back)."
    ),
    trade_off=(
        "A transaction holds locks until commit: keep slow work (HTTP calls, file I/O) "
        "outside it. On SQLite, start write transactions with BEGIN IMMEDIATE to avoid "
        "upgrade deadlocks."
    ),
    effort_hours=(0.5, 1.5),
    languages=["rust"],
)

_BEGIN = frozenset({"begin", "begin_with", "try_begin", "transaction"})


def check_file(ctx: FileContext) -> Iterator[Hit]:
    text = ctx.source.text
    if "sqlx" not in text or ".execute(" not in text or syntax.is_test_path(ctx.source.path):
        return
    constants = rust.string_constants(ctx.root)
    for function in rust.rust_functions(ctx.root):
        pools = rust.pool_parameters(function)
        writes = [
            q
            for q in rust.sqlx_queries(function, constants)
            if sqltext.is_write(q.sql)
            and rust.executor_kind(q.executor, pools) == "pool"
            and _must_succeed(q.call)
        ]
        if len(writes) < 2 or not _sequential(writes):
            continue
        if next(rust.rust_method_calls(function, *_BEGIN), None) is not None:
            continue
        if rust.is_rust_test(function, ctx.source.path):
            continue
        yield Hit(
            path=ctx.source.path,
            start_line=syntax.line(writes[0].query),
            end_line=syntax.end_line(writes[-1].call),
            symbol=rust.rust_symbol(writes[0].query),
            details={
                "function": rust.rust_function_name(function),
                "count": str(len(writes)),
                "statements": ", ".join(
                    f"{sqltext.sql_verb(w.sql)} at line {syntax.line(w.query)}" for w in writes
                ),
            },
        )


def _must_succeed(call: tree_sitter.Node) -> bool:
    """The write's result is propagated (``?``) or unwrapped (``.unwrap()`` / ``.expect()``):
    the function relies on it. A result that is inspected (``is_err()``, ``match``,
    ``if let Err``) or dropped (``let _ =``) is a probe or a best effort, whose failure the
    code expects and handles: not half of a unit of work."""
    node = call
    while node.parent is not None and node.parent.type == "await_expression":
        node = node.parent
    parent = node.parent
    if parent is None:
        return False
    if parent.type == "try_expression":
        return True
    if parent.type == "field_expression":
        field = parent.child_by_field_name("field")
        return field is not None and node_text(field) in {"unwrap", "expect"}
    return False


def _sequential(writes: list[rust.SqlxQuery]) -> bool:
    """Two of the writes can both run in one call (not only in different branches)."""
    return any(not _exclusive(a.call, b.call) for a, b in combinations(writes, 2))


def _exclusive(a: tree_sitter.Node, b: tree_sitter.Node) -> bool:
    """``a`` and ``b`` sit in different branches of the same if / match."""
    ancestors = {}
    child, current = a, a.parent
    while current is not None:
        ancestors[current.id] = child
        child, current = current, current.parent
    child, current = b, b.parent
    while current is not None and current.id not in ancestors:
        child, current = current, current.parent
    if current is None:
        return False
    under_a, under_b = ancestors[current.id], child
    if current.type == "match_block":
        return under_a.id != under_b.id
    if current.type == "if_expression":
        condition = current.child_by_field_name("condition")
        return condition is not None and condition.id not in {under_a.id, under_b.id}
    return False


RULE = Rule(meta=META, doc=__doc__ or "", check_file=check_file)
