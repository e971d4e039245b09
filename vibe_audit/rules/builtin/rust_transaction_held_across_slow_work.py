"""Database transaction held open across an HTTP request, a sleep or a subprocess (Rust).

What it finds:
    A Rust function that opens a transaction into a local (rusqlite
    ``conn.transaction()`` / ``unchecked_transaction()``, sqlx ``pool.begin().await``)
    and, before ``tx.commit()``, does slow work that is not the transaction's own
    queries: an HTTP request (``reqwest::get``, a request builder's ``.send()``), a sleep
    (``std::thread::sleep``, ``tokio::time::sleep``), a subprocess
    (``Command::new(..)`` with ``.output()`` / ``.status()`` / ``.wait()``), or a read
    from standard input.

Why it matters:
    A SQLite transaction that has written holds the database's single write lock (and a
    PostgreSQL one holds its row locks and a pooled connection) for as long as it stays
    open. Every other writer waits for the slowest network call, sleep or child process
    in the transaction and then fails with "database is locked" / a pool timeout; a hung
    remote server hangs every writer. The transaction also pins the WAL, which cannot be
    checkpointed past it and keeps growing.

Example:
    let tx = conn.transaction()?;
    tx.execute("UPDATE jobs SET status = 'running' WHERE id = ?1", [id])?;
    let body = reqwest::blocking::get(&url)?.text()?;     // lock held for the request
    tx.execute("UPDATE jobs SET result = ?1 WHERE id = ?2", params![body, id])?;
    tx.commit()?;

Use instead:
    conn.execute("UPDATE jobs SET status = 'running' WHERE id = ?1", [id])?;
    let body = reqwest::blocking::get(&url)?.text()?;     // no transaction open
    conn.execute("UPDATE jobs SET result = ?1 WHERE id = ?2", params![body, id])?;
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import tree_sitter

from vibe_audit.chunker.parsing import node_text
from vibe_audit.rules import ports_util as pu
from vibe_audit.rules import rust, syntax
from vibe_audit.rules.base import Hit, Rule, RuleMeta, node_hit
from vibe_audit.rules.context import FileContext
from vibe_audit.schemas import Confidence, Severity

META = RuleMeta(
    id="rust-transaction-held-across-slow-work",
    title="Transaction held open across an HTTP request, a sleep or a subprocess",
    severity=Severity.MEDIUM,
    confidence=Confidence.HIGH,
    categories={"sqlite": "Write Contention", "concurrency": "Transaction"},
    checklist=["sqlite.3B"],
    problem=(
        "{function}() keeps the transaction `{tx}` open from line {begin_line} to its "
        "commit (line {commit_line}) across {work} (`{slow}`, line {slow_line})."
    ),
    scenario=(
        "While {work} takes seconds (or hangs), the transaction holds its locks: every "
        "other writer waits, then fails with 'database is locked' or a pool timeout."
    ),
    impact=(
        "Writes across the application stall and fail for as long as the slow step takes; "
        "the WAL file keeps growing while the transaction pins it."
    ),
    how_to_verify=(
        "Make {work} slow (point it at a server that never answers, or lengthen the "
        "sleep) and write to the same database from another connection meanwhile: the "
        "write blocks and fails."
    ),
    fix=(
        "Do the slow work before opening the transaction or after committing it; keep "
        "only the statements that must be atomic between begin and commit."
    ),
    trade_off=(
        "Data read before the slow step can change before the transaction starts: "
        "re-check it inside the transaction (a WHERE on the old value)."
    ),
    effort_hours=(0.25, 1.0),
    languages=["rust"],
    experimental=True,
)

_SLEEP = re.compile(r"(^|::)(thread::sleep|time::sleep|sleep|sleep_ms|delay_for)$")
_HTTP_FUNCTIONS = re.compile(r"(^|::)reqwest::(blocking::)?(get|post)$|^ureq::(get|post)$")
_SUBPROCESS = frozenset({"output", "status", "wait", "wait_with_output"})


def check_file(ctx: FileContext) -> Iterator[Hit]:
    text = ctx.source.text
    if syntax.is_test_path(ctx.source.path) or "commit" not in text:
        return
    if not re.search(r"sleep|reqwest|ureq|Command::new|stdin|delay_for", text):
        return
    uses = rust.use_paths(ctx.root)
    http_file = bool(re.search(r"\b(reqwest|ureq|hyper)\b", text))
    for tx in pu.rust_transactions(ctx.root):
        if rust.is_rust_test(tx.function, ctx.source.path):
            continue
        for call in pu.rust_calls_between(tx):
            work = _slow(call, uses, http_file)
            if work is None:
                continue
            yield node_hit(
                ctx,
                tx.begin,
                until=call,
                named_by=call,
                details={
                    "function": rust.rust_function_name(tx.function),
                    "tx": tx.name,
                    "begin_line": str(syntax.line(tx.begin)),
                    "commit_line": str(syntax.line(tx.commit)),
                    "work": work,
                    "slow": node_text(call).split("\n")[0][:80],
                    "slow_line": str(syntax.line(call)),
                },
            )
            break


def _slow(call: tree_sitter.Node, uses: dict[str, str], http_file: bool) -> str | None:
    if call.type != "call_expression":
        return None
    path = rust.call_path(call, uses)
    if path:
        if _SLEEP.search(path) and (
            "thread" in path or "time" in path or path in {"sleep", "delay_for"}
        ):
            return "a sleep"
        if _HTTP_FUNCTIONS.search(path):
            return "an HTTP request"
        return None
    method = rust.method_name(call)
    if method == "send" and http_file and not rust.call_arguments(call):
        owner = rust.receiver(call)
        if owner is not None and re.search(
            r"\.(get|post|put|patch|delete|request|head)\s*\(", node_text(owner)
        ):
            return "an HTTP request"
    if method in _SUBPROCESS and "Command::new" in node_text(call):
        return "a subprocess"
    if method == "read_line" and "stdin" in node_text(call):
        return "a read from standard input"
    return None


RULE = Rule(meta=META, doc=__doc__ or "", check_file=check_file)
