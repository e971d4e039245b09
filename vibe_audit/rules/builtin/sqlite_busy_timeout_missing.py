"""SQLite connections that give up on a lock at once (busy timeout 0).

What it finds:
    Repository-wide, where no code sets a non-zero busy timeout (``PRAGMA busy_timeout=N``,
    ``setbusytimeout``): ``sqlite3.connect(..., timeout=0)`` / ``aiosqlite.connect(...,
    timeout=0)``, ``PRAGMA busy_timeout=0``, and ``apsw.Connection(...)`` (apsw's default
    busy timeout is 0).

    Plain ``sqlite3.connect(path)`` is NOT flagged: Python's sqlite3 (and aiosqlite, which
    passes its keywords through) waits 5 seconds by default, which is a sane busy timeout.

Why it matters:
    With a zero busy timeout, a connection that finds the database locked by another writer
    fails immediately with "database is locked" instead of waiting the few milliseconds the
    other transaction needs. Under any concurrency a share of writes fails for no reason.

Example:
    conn = sqlite3.connect("app.db", timeout=0)

Use instead:
    conn = sqlite3.connect("app.db", timeout=5)
    # apsw: conn.setbusytimeout(5000)
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import tree_sitter

from vibe_audit.chunker.parsing import node_text
from vibe_audit.rules import syntax
from vibe_audit.rules.base import Hit, Rule, RuleMeta, node_hit
from vibe_audit.rules.context import SQLITE_CONNECT, FileContext, RepoContext
from vibe_audit.rules.sql import pragma_settings
from vibe_audit.schemas import Confidence, Severity

META = RuleMeta(
    id="sqlite-busy-timeout-missing",
    title="SQLite connection with no busy timeout (fails at once when locked)",
    severity=Severity.HIGH,
    confidence=Confidence.HIGH,
    categories={
        "sqlite": "Connection",
        "concurrency": "SQLite",
        "reliability": "Timeout",
    },
    checklist=[
        "sqlite.3A",
        "sqlite.pragma.2",
        "concurrency.1A",
        "concurrency.sqlite_checklist.2",
        "reliability.1.2",
        "reliability.9.1",
    ],
    problem=(
        "{what}, and no code in the repository sets a non-zero busy timeout. Whenever another "
        "connection holds the write lock, this connection fails immediately instead of "
        "waiting for it."
    ),
    scenario=(
        "A worker commits a status update while a request handler inserts a row: the second "
        "writer gets 'sqlite3.OperationalError: database is locked' within microseconds, "
        "although the lock would have been free a few milliseconds later."
    ),
    impact=(
        "Spurious write failures proportional to concurrency; with two or more writers a "
        "visible share of requests and jobs fail, and swallowed ones lose data."
    ),
    how_to_verify=(
        "Hold a write lock in the sqlite3 shell (`BEGIN IMMEDIATE;`) and run a write through "
        "this connection: it fails at once rather than after a wait."
    ),
    fix=(
        "Give every connection a busy timeout of a few seconds:\n"
        '    sqlite3.connect(path, timeout=5)   # or conn.execute("PRAGMA busy_timeout=5000")\n'
        "    # apsw: conn.setbusytimeout(5000)"
    ),
    trade_off=(
        "A writer may now wait up to the timeout under heavy contention; keep transactions "
        "short so the wait stays small."
    ),
    effort_hours=(0.25, 0.5),
    needs_concurrency=True,
)

_ZERO = frozenset({"0", "0.0", "0.", "False"})
_APSW = frozenset({"apsw.Connection"})
_BUSY = re.compile(r"PRAGMA\s+(\w+\.)?busy_timeout", re.I)


def _zero(node: tree_sitter.Node | None) -> bool:
    return node is not None and node_text(node).strip() in _ZERO


def _file_sites(ctx: FileContext) -> Iterator[tuple[tree_sitter.Node, str]]:
    """(node, description) of each zero-timeout connection or setting in the file."""
    if not ctx.imports & {"sqlite3", "aiosqlite", "apsw"}:
        calls: Iterator[tree_sitter.Node] = iter(())
    else:
        calls = syntax.of_type(ctx.root, "call")
    for call in calls:
        name = syntax.callee(call)
        if name in SQLITE_CONNECT:
            args = syntax.positional_args(call)
            if _zero(syntax.keyword_value(call, "timeout")) or (len(args) >= 2 and _zero(args[1])):
                yield call, f"`{name}(..., timeout=0)` opens a connection that never waits"
        elif name in _APSW:
            yield call, "`apsw.Connection(...)` opens a connection whose busy timeout is 0"
    if not _BUSY.search(ctx.source.text):
        return
    for pragma in pragma_settings(ctx, frozenset({"busy_timeout"})):
        if pragma.value in _ZERO:
            yield pragma.node, "`PRAGMA busy_timeout=0` turns waiting on locks off"


def _sets_timeout(ctx: FileContext) -> bool:
    if "busy" not in ctx.source.text:
        return False
    if "setbusytimeout" in ctx.source.text or "set_busy_timeout" in ctx.source.text:
        return True
    return any(
        p.value not in _ZERO and p.value != ""
        for p in pragma_settings(ctx, frozenset({"busy_timeout"}))
    )


def check_repo(repo: RepoContext) -> Iterator[Hit]:
    files = [
        ctx
        for ctx in repo.in_language("python")
        if (ctx.imports & {"sqlite3", "aiosqlite", "apsw"} and "connect" in ctx.source.text)
        or _BUSY.search(ctx.source.text)
    ]
    sites = [(ctx, node, what) for ctx in files for node, what in _file_sites(ctx)]
    if not sites or any(_sets_timeout(ctx) for ctx in files):
        return
    for ctx, node, what in sites:
        yield node_hit(
            ctx,
            node,
            details={"what": what},
        )


def clears(repo: RepoContext) -> list[str]:
    """Every connection gets a busy timeout (``timeout=`` on each connect call, or a
    busy_timeout PRAGMA in every file that connects): the timeout items are met."""
    files = [
        ctx
        for ctx in repo.in_language("python")
        if ctx.imports & {"sqlite3", "aiosqlite", "apsw"} and "connect" in ctx.source.text
    ]
    sites, timed = repo.facts.connect_sites, repo.facts.connect_timeouts
    if files and ((sites and len(timed) == len(sites)) or all(_sets_timeout(c) for c in files)):
        return ["sqlite.3A", "sqlite.pragma.2", "concurrency.sqlite_checklist.2"]
    return []


RULE = Rule(meta=META, doc=__doc__ or "", check_repo=check_repo, clears=clears)
