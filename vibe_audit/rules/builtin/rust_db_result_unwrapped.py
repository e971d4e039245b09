"""sqlx query result unwrapped: a transient database error panics the task.

What it finds:
    ``.unwrap()`` / ``.expect(...)`` applied directly to the awaited result of a sqlx query
    (``sqlx::query*(...)`` / ``query*!(...)`` builder chains ending in ``.execute``,
    ``.fetch_one``, ``.fetch_all``, ``.fetch_optional``, ``.fetch``), outside test code
    (``#[test]`` / ``#[tokio::test]`` / ``#[sqlx::test]`` functions, ``#[cfg(test)]``
    modules, tests/ benches/ examples/ files, build.rs) and outside ``main``.

Why it matters:
    Database calls fail for ordinary, transient reasons: "database is locked" under
    SQLite write contention, a pool timeout, a dropped connection, a serialization
    failure. ``unwrap`` turns each into a panic: the request gets a 500 with no error body,
    a background worker task dies with the job half done, and with ``panic = "abort"``
    the whole process exits. ``fetch_one`` also errors on zero rows.

Example:
    let order = sqlx::query_as::<_, Order>("SELECT * FROM orders WHERE id = $1")
        .bind(id)
        .fetch_one(&pool)
        .await
        .unwrap();

Use instead:
    let order = sqlx::query_as::<_, Order>("SELECT * FROM orders WHERE id = $1")
        .bind(id)
        .fetch_optional(&pool)
        .await
        .context("loading order")?
        .ok_or(AppError::NotFound(id))?;
"""

from __future__ import annotations

from collections.abc import Iterator

from vibe_audit.chunker.parsing import node_text
from vibe_audit.rules import rust, syntax
from vibe_audit.rules.base import Hit, Rule, RuleMeta, node_hit
from vibe_audit.rules.context import FileContext
from vibe_audit.schemas import Confidence, Severity

META = RuleMeta(
    id="rust-db-result-unwrapped",
    title="Database result unwrapped (panics on a transient error)",
    severity=Severity.MEDIUM,
    confidence=Confidence.HIGH,
    categories={"reliability": "Error Handling"},
    checklist=["reliability.7.3", "reliability.9.1"],
    problem=(
        "{function}() calls .{unwrap}() on the result of a sqlx .{method}(): any database "
        "error (locked, pool timeout, dropped connection{rows}) panics instead of being "
        "handled."
    ),
    scenario=(
        "Under load a write holds the database lock (or the pool is exhausted): the query "
        "returns Err, the unwrap panics, and the task processing this request or job dies "
        "mid-way."
    ),
    impact=(
        "Requests fail with an opaque 500 or a dropped connection; background jobs are "
        'abandoned half done with their status never updated; with panic = "abort" the '
        "whole service restarts."
    ),
    how_to_verify=(
        "Hold a write lock on the database (or set the pool's acquire_timeout to 1 ms and "
        "saturate it) and call {function}(): the task panics at this line."
    ),
    fix=(
        "Propagate the error with `?` (adding context with anyhow/thiserror), map it to a "
        "proper response or job failure, and retry transient errors (database is locked, "
        "pool timeout) with backoff; use fetch_optional where zero rows is possible."
    ),
    trade_off=(
        "Error plumbing adds a little code per call; in start-up code that must not run "
        "without the database, an explicit expect with a clear message is acceptable."
    ),
    effort_hours=(0.25, 1.0),
    languages=["rust"],
)


def check_file(ctx: FileContext) -> Iterator[Hit]:
    text = ctx.source.text
    if "sqlx" not in ctx.imports and "sqlx" not in text:
        return
    if (".unwrap()" not in text and ".expect(" not in text) or syntax.is_test_path(ctx.source.path):
        return
    for function in rust.rust_functions(ctx.root):
        name = rust.rust_function_name(function)
        if name == "main" or rust.is_rust_test(function, ctx.source.path):
            continue
        for query in rust.sqlx_queries(function):
            awaited = query.call.parent
            if awaited is None or awaited.type != "await_expression":
                continue
            field = awaited.parent
            outer = field.parent if field is not None else None
            if field is None or field.type != "field_expression" or outer is None:
                continue
            if outer.type != "call_expression" or rust.method_name(outer) not in {
                "unwrap",
                "expect",
            }:
                continue
            yield node_hit(
                ctx,
                outer,
                details={
                    "function": name,
                    "method": query.method,
                    "unwrap": rust.method_name(outer),
                    "rows": ", no row" if query.method == "fetch_one" else "",
                    "text": node_text(outer),
                },
            )


RULE = Rule(meta=META, doc=__doc__ or "", check_file=check_file)
