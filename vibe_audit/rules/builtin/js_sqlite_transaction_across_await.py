"""Synchronous SQLite transaction held open across an ``await`` (JS/TS).

What it finds:
    A function that runs ``BEGIN`` on a better-sqlite3, node:sqlite or bun:sqlite
    connection as SQL text (``db.exec("BEGIN")``, not awaited: these drivers are
    synchronous) and awaits something (a fetch, a file read, a timer) before the ``COMMIT``
    on the same connection. Repositories that also use an asynchronous SQLite driver
    (sqlite3, the ``sqlite`` wrapper), whose own calls are awaited, are not matched.

    Severity from evidence: HIGH when the connection outlives the function (a module-level
    or injected handle, shared by everything else the process runs), MEDIUM when the
    function opened it itself (then only the held write lock hurts).

Why it matters:
    A synchronous driver has one connection per handle, and the process keeps running other
    code while this function awaits. Every statement any other request or job runs on the
    shared handle during the await executes inside this transaction: a ROLLBACK here
    silently discards their writes, and their "committed" data is not durable until this
    function commits. Meanwhile the write lock (or, after the first write, the reserved
    lock) is held for the whole network or disk wait, so other processes get SQLITE_BUSY.
    better-sqlite3 refuses async functions in ``db.transaction()`` for this reason.

Example:
    db.exec("BEGIN");
    for (const url of urls) {
      const text = await (await fetch(url)).text();
      insert.run(url, text);
    }
    db.exec("COMMIT");

Use instead:
    const pages = [];
    for (const url of urls) pages.push([url, await (await fetch(url)).text()]);
    db.transaction(() => { for (const [url, text] of pages) insert.run(url, text); })();
"""

from __future__ import annotations

from collections.abc import Iterator

import tree_sitter

from vibe_audit.chunker.parsing import node_text
from vibe_audit.rules import js, syntax
from vibe_audit.rules.base import Hit, Rule, RuleMeta
from vibe_audit.rules.context import RepoContext
from vibe_audit.schemas import Confidence, Severity

META = RuleMeta(
    id="js-sqlite-transaction-across-await",
    title="SQLite transaction held open across an await",
    severity=Severity.HIGH,
    confidence=Confidence.HIGH,
    categories={"sqlite": "Write Contention", "concurrency": "Transaction"},
    checklist=["sqlite.3B", "sqlite.2D", "concurrency.4B", "concurrency.1A"],
    problem=(
        "{function} opens a transaction with {begin} on the synchronous connection "
        "{connection} and then awaits ({awaited}) before {commit}: the transaction stays "
        "open while the process runs other code."
    ),
    scenario=(
        "While {function} waits, another request or job writes through {connection}: its "
        "statements run inside this open transaction. {after}"
    ),
    impact=(
        "Writes of unrelated requests are lost on rollback or committed together with this "
        "one, and the write lock is held for the whole wait, so other processes get "
        "SQLITE_BUSY."
    ),
    how_to_verify=(
        "Make the awaited call slow (point it at `nc -l 9999`), write through "
        "{connection} from another request meanwhile, then make {function} fail: the "
        "other request's write is gone after the ROLLBACK."
    ),
    fix=(
        "Do all awaiting first, then write in one synchronous transaction "
        "(better-sqlite3 / bun:sqlite `db.transaction(fn)()`, or BEGIN ... COMMIT with no "
        "await in between); or give this work its own connection."
    ),
    trade_off=(
        "Gathering inputs first holds them in memory and gives up all-or-nothing over the "
        "external calls; write per item with its own transaction if the set is large."
    ),
    effort_hours=(0.5, 2.0),
    languages=js.JS_LANGUAGES,
)

_ASYNC_SQLITE = ("sqlite3", "sqlite")


def check_repo(repo: RepoContext) -> Iterator[Hit]:
    files = [
        ctx
        for ctx in repo.in_language(*js.JS_LANGUAGES)
        if not syntax.is_test_path(ctx.source.path)
    ]
    if not any(ctx.imports & js.SYNC_SQLITE for ctx in files) or any(
        ctx.imports & set(_ASYNC_SQLITE) for ctx in files
    ):
        return
    for ctx in files:
        if "await" not in ctx.source.text or "BEGIN" not in ctx.source.text.upper():
            continue
        for tx in js.explicit_transactions(ctx.root):
            if tx.begin.parent is not None and tx.begin.parent.type == "await_expression":
                continue  # an awaited BEGIN: an asynchronous client
            start, end = tx.begin.end_byte, tx.commit.start_byte
            awaits = [
                node
                for node in js.own_nodes(tx.function, "await_expression", "for_in_statement")
                if start <= node.start_byte < end
                and (node.type == "await_expression" or _is_for_await(node))
            ]
            if not awaits:
                continue
            local = js.opened_here(js.root_name_of(tx.connection), tx.function)
            name = js.js_function_name(tx.function)
            awaited = node_text(awaits[0]).split("\n", 1)[0]
            yield Hit(
                path=ctx.source.path,
                start_line=syntax.line(tx.begin),
                end_line=syntax.line(awaits[0]),
                symbol=js.js_symbol(tx.begin),
                details={
                    "function": f"{name}()" if name != "<anonymous>" else "This function",
                    "begin": node_text(tx.begin),
                    "commit": node_text(tx.commit),
                    "connection": tx.connection,
                    "awaited": awaited[:80],
                    "after": (
                        "Other processes wait on the write lock for the whole await."
                        if local
                        else "When this function then fails and rolls back, their writes "
                        "are discarded with it."
                    ),
                },
                severity=Severity.MEDIUM if local else None,
                severity_reason=(
                    f"MEDIUM: {tx.connection} is opened in the function itself, so no other "
                    "code shares the open transaction; only the held lock hurts."
                    if local
                    else None
                ),
            )


def _is_for_await(node: tree_sitter.Node) -> bool:
    return node_text(node).startswith("for await")


RULE = Rule(meta=META, doc=__doc__ or "", check_repo=check_repo)
