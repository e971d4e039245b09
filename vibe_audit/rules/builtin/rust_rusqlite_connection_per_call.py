"""rusqlite connection opened per call in concurrent code.

What it finds:
    A non-test Rust function that opens a rusqlite file database of its own on every call
    (``Connection::open``, or the repository's own function returning a fresh
    ``Connection``), uses it and drops it, where the function is async or its file runs
    async tasks, threads or a server. Constructors (``new``, ``open``, ``init``, ``main``,
    ...) and functions that return the connection are not reported.

Why it matters:
    Each open reads the schema again, re-applies every PRAGMA the opener sets, and adds a
    connection that competes for SQLite's single write lock; under concurrent calls the
    number of open connections grows with the load. With no journal mode set, those
    connections' readers and writers block one another.

Example:
    pub async fn lookup(&self, key: &str) -> anyhow::Result<Option<String>> {
        let conn = open_conn(&self.path)?;
        Ok(conn.query_row("SELECT v FROM kv WHERE k = ?1", [key], |r| r.get(0)).optional()?)
    }

Use instead:
    // one long-lived connection per role (or an r2d2 / deadpool-sqlite pool), shared
    let conn = self.readers.get()?;  // r2d2_sqlite pool, opened and configured once
    Ok(conn.query_row("SELECT v FROM kv WHERE k = ?1", [key], |r| r.get(0)).optional()?)
"""

from __future__ import annotations

from collections.abc import Iterator

from vibe_audit.chunker.parsing import node_text
from vibe_audit.rules import evidence, rust, syntax
from vibe_audit.rules.base import Hit, Rule, RuleMeta, node_hit
from vibe_audit.rules.context import RepoContext
from vibe_audit.schemas import Confidence, Severity

META = RuleMeta(
    id="rust-rusqlite-connection-per-call",
    title="SQLite connection opened on every call (rusqlite)",
    severity=Severity.MEDIUM,
    confidence=Confidence.MEDIUM,
    categories={"sqlite": "Connection", "concurrency": "SQLite"},
    checklist=["sqlite.2A", "concurrency.1B"],
    problem=(
        "{function}() opens a new SQLite connection on every call ({call}) and drops it "
        "at the end, while {concurrent}: each call pays the open and setup again, and "
        "concurrent calls each hold a connection of their own."
    ),
    scenario=(
        "Under load, many calls to {function}() run at once: each opens the database file, "
        "re-reads the schema and re-applies its PRAGMAs, and all of them compete for the "
        "same file locks."
    ),
    impact=(
        "Extra latency and file handles per call, and more lock contention ('database is "
        "locked') as concurrency grows; per-connection settings are easy to miss on one "
        "of the code paths."
    ),
    how_to_verify=(
        "Count opens: log in the opener or run `lsof <db>` while calling {function}() "
        "concurrently; compare the latency with a shared connection."
    ),
    fix=(
        "Open the connection once and share it (a mutex around one connection, or a pool "
        "such as r2d2_sqlite / deadpool-sqlite configured once), and use it in "
        "{function}() instead of opening a new one."
    ),
    trade_off=(
        "A shared connection serializes its users; a pool of readers plus one writer "
        "connection (with WAL) keeps reads concurrent."
    ),
    effort_hours=(0.5, 2.0),
    languages=["rust"],
)


def check_repo(repo: RepoContext) -> Iterator[Hit]:
    files = [
        ctx
        for ctx in repo.in_language("rust")
        if "rusqlite" in ctx.source.text and not syntax.is_test_path(ctx.source.path)
    ]
    openers: set[str] = set()
    uses = {ctx.source.path: rust.use_paths(ctx.root) for ctx in files}
    for ctx in files:
        found = list(
            rust.rusqlite_opens(ctx.root, uses[ctx.source.path], ctx.imports, ctx.source.path)
        )
        openers |= rust.connection_openers(ctx.root, found)
    for ctx in files:
        pairs = rust.per_call_opens(ctx.root, uses[ctx.source.path], openers, ctx.source.path)
        for function, call in pairs:
            name = rust.rust_function_name(function)
            concurrent = (
                f"{name}() is async" if rust.is_async_fn(function) else None
            ) or evidence.concurrency(ctx)
            if concurrent is None:
                continue
            yield node_hit(
                ctx,
                call,
                details={
                    "function": name,
                    "call": node_text(call).split("\n")[0],
                    "concurrent": concurrent,
                },
            )


RULE = Rule(meta=META, doc=__doc__ or "", check_repo=check_repo)
