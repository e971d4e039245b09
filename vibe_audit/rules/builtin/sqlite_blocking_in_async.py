"""Blocking sqlite3 calls inside ``async def``.

What it finds:
    An ``async def`` that opens a sqlite3 connection (directly or through a function of the
    repository that calls sqlite3.connect) and calls it synchronously: connect, execute,
    commit, fetch. One finding per async function, at its first blocking call.

Why it matters:
    sqlite3 blocks the calling thread. Inside a coroutine that thread is the event loop:
    while one query waits on a lock (up to the busy timeout), every other request, WebSocket
    and background task on that worker is frozen.

Example:
    @app.post("/jobs/{job_id}/status")
    async def set_status(job_id: str):
        conn = get_connection()
        conn.execute("UPDATE jobs SET status=? WHERE id=?", ("done", job_id))

Use instead:
    async def set_status(job_id: str):
        await asyncio.to_thread(update_status, job_id, "done")   # or aiosqlite
"""

from __future__ import annotations

from collections.abc import Iterator
from collections.abc import Set as AbstractSet

import tree_sitter

from vibe_audit.chunker.parsing import node_text
from vibe_audit.rules import syntax
from vibe_audit.rules.base import Hit, Rule, RuleMeta
from vibe_audit.rules.context import SYNC_CONNECT, FileContext, RepoContext, resolved_call
from vibe_audit.schemas import Confidence, Severity

META = RuleMeta(
    id="sqlite-blocking-call-in-async",
    title="Blocking sqlite3 call inside an async function",
    severity=Severity.HIGH,
    confidence=Confidence.HIGH,
    categories={"sqlite": "Async", "reliability": "Concurrency"},
    checklist=["sqlite.2B", "sqlite.5A", "reliability.1.2"],
    problem=(
        "async {function}() calls sqlite3 synchronously ({call}). The call blocks the event "
        "loop thread for the whole query, including any wait for the write lock."
    ),
    scenario=(
        "While one request waits on 'database is locked' for the busy timeout, every other "
        "coroutine on this worker (requests, WebSocket pings, background tasks) is frozen."
    ),
    impact=(
        "Under 10+ concurrent requests, p99 latency climbs to the busy timeout (seconds); "
        "health checks time out and the worker looks dead."
    ),
    how_to_verify=(
        "Run with PYTHONASYNCIODEBUG=1 (asyncio logs 'Executing <Task ...> took N seconds'), or "
        "fire 20 concurrent requests and watch an unrelated endpoint's latency."
    ),
    fix=(
        "Move the database work into a sync helper and await it off the loop:\n"
        "    result = await asyncio.to_thread(<helper>, ...)\n"
        "or switch this path to aiosqlite (`async with aiosqlite.connect(DB) as conn: await "
        "conn.execute(...)`)."
    ),
    trade_off=(
        "asyncio.to_thread uses the default thread pool (bounded); aiosqlite adds a dependency "
        "and runs one thread per connection. Either keeps the loop responsive."
    ),
    effort_hours=(0.5, 2.0),
)

_BLOCKING_METHODS = frozenset(
    {"execute", "executemany", "executescript", "commit", "rollback", "fetchone", "fetchall",
     "fetchmany", "cursor", "close"}
)  # fmt: skip


def check_repo(repo: RepoContext) -> Iterator[Hit]:
    openers = SYNC_CONNECT | repo.facts.sync_db_functions
    for ctx in repo.in_language("python"):
        for function in syntax.functions(ctx.root):
            if not syntax.is_async(function):
                continue
            calls = _blocking_calls(function, openers, ctx)
            if calls:
                first = calls[0]
                yield Hit(
                    path=ctx.source.path,
                    start_line=syntax.line(first),
                    end_line=syntax.line(first),
                    symbol=syntax.qualified_name(function),
                    details={
                        "function": syntax.function_name(function),
                        "call": node_text(first).split("(")[0] + "(...)",
                    },
                )


def _opens(call: tree_sitter.Node, openers: AbstractSet[str], ctx: FileContext) -> bool:
    """sqlite3.connect(...) or a call of a repository function that opens a connection."""
    name = syntax.callee(call)
    return name in SYNC_CONNECT or resolved_call(name, ctx) in openers


def _blocking_calls(
    function: tree_sitter.Node, openers: AbstractSet[str], ctx: FileContext
) -> list[tree_sitter.Node]:
    connections: set[str] = set()
    blocking: list[tree_sitter.Node] = []
    nodes = list(syntax.body_nodes(function))
    for node in nodes:
        if node.type == "call" and _opens(node, openers, ctx) and not _awaited(node):
            blocking.append(node)
            bound = _bound_name(node)
            if bound:
                connections.add(bound)
    for node in nodes:
        if node.type != "call" or _awaited(node):
            continue
        name = syntax.callee(node)
        receiver, _, method = name.rpartition(".")
        if method in _BLOCKING_METHODS and receiver.split(".")[0] in connections:
            blocking.append(node)
    return sorted(blocking, key=lambda n: n.start_byte)


def _awaited(call: tree_sitter.Node) -> bool:
    return call.parent is not None and call.parent.type == "await"


def _bound_name(call: tree_sitter.Node) -> str | None:
    """The name a connection is bound to: ``conn = connect()`` or ``with connect() as conn``."""
    parent = call.parent
    if parent is not None and parent.type == "assignment":
        left = parent.child_by_field_name("left")
        return node_text(left) if left is not None and left.type == "identifier" else None
    if parent is not None and parent.type == "as_pattern":
        alias = parent.child_by_field_name("alias")
        return node_text(alias).strip() if alias is not None else None
    return None


RULE = Rule(meta=META, doc=__doc__ or "", check_repo=check_repo)
