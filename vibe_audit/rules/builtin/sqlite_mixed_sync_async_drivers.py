"""The same SQLite database opened through both sqlite3 and aiosqlite.

What it finds:
    Repository-wide (test files excluded): ``sqlite3.connect(X)`` and
    ``aiosqlite.connect(X)`` where both name the same database (the same literal, or
    names/attributes ending in the same identifier, such as ``DB_PATH`` and
    ``settings.DB_PATH``, or a local computed from one: ``target = path or DB_PATH``).
    In-memory databases are ignored.

Why it matters:
    Two drivers with different concurrency models now write one file: aiosqlite runs each
    connection on its own thread and is used from the event loop, sqlite3 blocks the thread
    that calls it. Connection setup (PRAGMAs, busy timeout, isolation level, row factory)
    is usually configured for one of them only, so one path runs without WAL or busy
    timeout. Sync calls made from async code block the loop while they wait for the lock
    the async side holds, and transactions cannot span the two.

Example:
    # db.py
    conn = sqlite3.connect(DB_PATH)            # used by the worker
    # api.py
    db = await aiosqlite.connect(DB_PATH)      # used by the handlers

Use instead:
    One access layer per database: either aiosqlite everywhere in the service (the worker
    runs its own event loop), or sqlite3 everywhere with blocking calls moved off the
    event loop via asyncio.to_thread; one connection factory that sets the PRAGMAs.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import tree_sitter

from vibe_audit.chunker.parsing import node_text
from vibe_audit.rules import syntax
from vibe_audit.rules.base import Hit, Rule, RuleMeta
from vibe_audit.rules.context import SYNC_CONNECT, FileContext, RepoContext
from vibe_audit.schemas import Confidence, Severity

META = RuleMeta(
    id="sqlite-mixed-sync-async-drivers",
    title="One SQLite database opened with both sqlite3 and aiosqlite",
    severity=Severity.MEDIUM,
    confidence=Confidence.MEDIUM,
    categories={"sqlite": "Async", "concurrency": "SQLite"},
    checklist=["sqlite.5C", "sqlite.5D", "sqlite.2B", "concurrency.1B"],
    problem=(
        "`{database}` is opened synchronously with sqlite3 ({sync_site}) and asynchronously "
        "with aiosqlite ({async_site}). Two drivers with different threading and locking "
        "assumptions write the same file, each with its own connection setup."
    ),
    scenario=(
        "The async API holds a write transaction on an aiosqlite connection while a sync "
        "helper called from the same process waits for the lock, blocking its thread (or the "
        "event loop) for the whole busy timeout; PRAGMAs set on one side are missing on the "
        "other."
    ),
    impact=(
        "Intermittent 'database is locked' errors and event-loop stalls that depend on "
        "which code path ran first; configuration drift between the two access paths."
    ),
    how_to_verify=(
        "List every connection factory for `{database}` and compare their PRAGMAs; run the "
        "async handlers and the sync path concurrently and watch for lock errors and loop "
        "lag (asyncio debug mode reports slow callbacks)."
    ),
    fix=(
        "Pick one driver per process: aiosqlite for code on the event loop (run the sync "
        "path's queries through it too), or sqlite3 wrapped in asyncio.to_thread; share one "
        "connection factory that applies WAL, busy_timeout and foreign_keys."
    ),
    trade_off=(
        "Converting a sync module to async (or wrapping it) touches every caller; a shared "
        "factory is the cheap first step."
    ),
    effort_hours=(1.0, 4.0),
)

_ASYNC_CONNECT = frozenset({"aiosqlite.connect"})
_TEST_PATH = re.compile(r"(^|/)(tests?|testing)/|(^|/)test_[^/]*\.py$|_test\.py$|conftest\.py$")


Site = tuple[FileContext, tree_sitter.Node]


def check_repo(repo: RepoContext) -> Iterator[Hit]:
    if "aiosqlite" not in repo.facts.imports or "sqlite3" not in repo.facts.imports:
        return
    sync: dict[str, Site] = {}
    async_: dict[str, Site] = {}
    for ctx in repo.in_language("python"):
        if _TEST_PATH.search(ctx.source.path) or not ctx.imports & {"sqlite3", "aiosqlite"}:
            continue
        for call in syntax.of_type(ctx.root, "call"):
            name = syntax.callee(call)
            target = sync if name in SYNC_CONNECT else async_ if name in _ASYNC_CONNECT else None
            if target is None:
                continue
            for key in _databases(call):
                target.setdefault(key, (ctx, call))
    reported: set[tuple[str, int]] = set()
    for key in sorted(sync.keys() & async_.keys()):
        (sync_ctx, sync_call), (async_ctx, async_call) = sync[key], async_[key]
        where = (async_ctx.source.path, syntax.line(async_call))
        if where in reported:
            continue
        reported.add(where)
        yield Hit(
            path=async_ctx.source.path,
            start_line=syntax.line(async_call),
            end_line=syntax.end_line(async_call),
            symbol=syntax.qualified_name(async_call),
            details={
                "database": key,
                "sync_site": f"{sync_ctx.source.path}:{syntax.line(sync_call)}",
                "async_site": f"{async_ctx.source.path}:{syntax.line(async_call)}",
            },
        )


def _databases(call: tree_sitter.Node) -> set[str]:
    """The database's key, plus the names a local variable argument was computed from
    (``target = path or _db_path`` then ``connect(target)`` also names ``_db_path``)."""
    key = _database(call)
    if key is None:
        return set()
    keys = {key}
    arg = syntax.positional_args(call)[0]
    function = syntax.enclosing(call, "function_definition")
    unknown = _parameters(function) if function is not None else set()
    if arg.type == "identifier" and function is not None:
        for node in syntax.body_nodes(function):
            if node.type != "assignment" or node.start_byte > call.start_byte:
                continue
            left, right = node.child_by_field_name("left"), node.child_by_field_name("right")
            if left is None or right is None or node_text(left) != key:
                continue
            for node in syntax.walk(right):
                if node.type == "attribute":  # settings.DB_PATH names DB_PATH
                    keys.add(syntax.last_name(node_text(node)))
                elif node.type == "identifier" and (
                    node.parent is None or node.parent.type != "attribute"
                ):
                    keys.add(node_text(node))
    return keys - unknown  # a parameter says nothing about which database is opened


def _parameters(function: tree_sitter.Node) -> set[str]:
    parameters = function.child_by_field_name("parameters")
    if parameters is None:
        return set()
    names = set()
    for parameter in parameters.named_children:
        name = parameter.child_by_field_name("name") if parameter.type != "identifier" else None
        node = parameter if parameter.type == "identifier" else name
        if node is None and parameter.named_children:
            node = parameter.named_children[0]
        if node is not None and node.type == "identifier":
            names.add(node_text(node))
    return names


def _database(call: tree_sitter.Node) -> str | None:
    """What the connection opens: a literal path, or the last name of a variable/attribute."""
    args = syntax.positional_args(call)
    if not args:
        return None
    arg = args[0]
    literal = syntax.string_value(arg)
    if literal is not None:
        return None if ":memory:" in literal or not literal else literal
    if arg.type in {"identifier", "attribute"}:
        return syntax.last_name(node_text(arg))
    if arg.type == "call" and syntax.last_name(syntax.callee(arg)) in {"str", "fspath"}:
        inner = syntax.positional_args(arg)
        if len(inner) == 1 and inner[0].type in {"identifier", "attribute"}:
            return syntax.last_name(node_text(inner[0]))
    return None


RULE = Rule(meta=META, doc=__doc__ or "", check_repo=check_repo)
