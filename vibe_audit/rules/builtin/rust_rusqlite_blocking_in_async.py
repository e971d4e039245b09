"""Blocking rusqlite call made directly in an async function.

What it finds:
    A non-test ``async fn`` (or an async block in one) that runs rusqlite statements on its
    own task: ``conn.execute(sql, params)``, ``conn.query_row(sql, params, |row| ..)``,
    ``conn.execute_batch(sql)``, ``conn.prepare(sql)`` and ``stmt.query_map(params, ..)``,
    not awaited (rusqlite is synchronous), in a file that uses rusqlite. Calls inside a
    closure (``spawn_blocking(move || ..)``, ``block_in_place``, tokio-rusqlite's
    ``conn.call(|c| ..)``, deadpool-sqlite's ``interact``) are not reported.

Why it matters:
    rusqlite blocks the calling thread until SQLite answers. On a tokio worker thread that
    stalls every other task scheduled there: while another connection holds the write lock,
    the call waits up to the busy timeout (5 s by default in rusqlite) and no request on
    that thread makes progress; a slow query does the same.

Example:
    async fn lookup(&self, key: &str) -> anyhow::Result<Option<String>> {
        let conn = self.conn.lock().await;
        Ok(conn.query_row("SELECT v FROM kv WHERE k = ?1", [key], |r| r.get(0)).optional()?)
    }

Use instead:
    async fn lookup(&self, key: String) -> anyhow::Result<Option<String>> {
        let conn = self.conn.clone().lock_owned().await;
        let value = tokio::task::spawn_blocking(move || {
            conn.query_row("SELECT v FROM kv WHERE k = ?1", [key], |r| r.get(0)).optional()
        })
        .await??;
        Ok(value)
    }
"""

from __future__ import annotations

from collections.abc import Iterator

import tree_sitter

from vibe_audit.rules import rust, syntax
from vibe_audit.rules.base import Hit, Rule, RuleMeta, node_hit
from vibe_audit.rules.context import FileContext
from vibe_audit.schemas import Confidence, Severity

META = RuleMeta(
    id="rust-rusqlite-blocking-in-async",
    title="Blocking rusqlite call on the async runtime",
    severity=Severity.MEDIUM,
    confidence=Confidence.HIGH,
    categories={"sqlite": "Async", "reliability": "Concurrency"},
    checklist=["sqlite.2B", "sqlite.5A", "sqlite.5C", "reliability.1.2"],
    problem=(
        "async {function}() runs {count} rusqlite call(s) directly on its task (first: "
        ".{method}() at line {line}). rusqlite blocks the thread until SQLite answers, so "
        "the runtime's worker thread is held for the whole query."
    ),
    scenario=(
        "Another connection holds the write lock while {function}() runs: the call waits "
        "up to the busy timeout, and every other task scheduled on that worker thread "
        "(other requests, timers, heartbeats) waits with it."
    ),
    impact=(
        "Latency spikes across unrelated requests whenever the database is slow or locked; "
        "with few worker threads, the whole service can stall for seconds."
    ),
    how_to_verify=(
        "Hold a write lock on the database (`BEGIN IMMEDIATE;` in the sqlite3 shell), call "
        "{function}() and meanwhile a trivial endpoint on the same runtime: the trivial "
        "endpoint stalls too (or run tokio-console and watch the busy worker)."
    ),
    fix=(
        "Run the database work on the blocking pool: "
        "`tokio::task::spawn_blocking(move || { /* rusqlite calls */ }).await??`, or use "
        "tokio-rusqlite (`conn.call(|c| ...)`) / deadpool-sqlite (`interact`), which run the "
        "closure on a thread of their own."
    ),
    trade_off=(
        "spawn_blocking needs owned ('static) data and an owned guard (lock_owned) or a "
        "pool; each call costs a thread hand-off (microseconds)."
    ),
    effort_hours=(0.5, 2.0),
    languages=["rust"],
)

# rusqlite method -> the number of arguments it takes (sqlx's execute takes 1 and is awaited)
_CALLS = {
    "execute": 2,
    "query_row": 3,
    "query_row_and_then": 3,
    "execute_batch": 1,
    "prepare": 1,
    "prepare_cached": 1,
    "query_map": 2,
    "query_and_then": 2,
}
_STOP = frozenset({"function_item", "closure_expression"})


def check_file(ctx: FileContext) -> Iterator[Hit]:
    text = ctx.source.text
    if "rusqlite" not in text or "async" not in text or syntax.is_test_path(ctx.source.path):
        return
    for function in rust.rust_functions(ctx.root):
        if not rust.is_async_fn(function) or rust.is_rust_test(function, ctx.source.path):
            continue
        body = function.child_by_field_name("body")
        if body is None:
            continue
        calls = [
            call
            for call in syntax.of_type(body, "call_expression", stop_at=_STOP)
            if _blocking(call)
        ]
        if not calls:
            continue
        first = calls[0]
        yield node_hit(
            ctx,
            first,
            details={
                "function": rust.rust_function_name(function),
                "count": str(len(calls)),
                "method": rust.method_name(first),
                "line": str(syntax.line(first)),
            },
        )


def _blocking(call: tree_sitter.Node) -> bool:
    """A synchronous rusqlite call: a known method with its rusqlite arity, not awaited."""
    method = rust.method_name(call)
    if method not in _CALLS or len(rust.call_arguments(call)) != _CALLS[method]:
        return False
    parent = call.parent
    while parent is not None and parent.type == "try_expression":
        parent = parent.parent
    return parent is None or parent.type != "await_expression"


RULE = Rule(meta=META, doc=__doc__ or "", check_file=check_file)
