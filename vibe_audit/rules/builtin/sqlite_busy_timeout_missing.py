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
from vibe_audit.rules import patching, syntax
from vibe_audit.rules.base import Hit, Rule, RuleMeta, node_hit
from vibe_audit.rules.context import SQLITE_CONNECT, FileContext, RepoContext
from vibe_audit.rules.sql import pragma_settings
from vibe_audit.schemas import Confidence, LineEdit, Patch, PatchSafety, Severity

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


_ZERO_PRAGMA = re.compile(r"(PRAGMA\s+(?:\w+\.)?busy_timeout\s*=\s*)(0)(?![\w.])", re.I)


def fix(ctx: FileContext, hit: Hit) -> Patch | None:
    """Safe: the zero busy timeout becomes a few seconds, as the fix says: ``timeout=5`` on
    the connect call (Python's own default), ``PRAGMA busy_timeout=5000``, or
    ``conn.setbusytimeout(5000)`` after an apsw connection is opened."""
    node = next(
        (n for n, what in _file_sites(ctx) if syntax.line(n) == hit.start_line
         and what == hit.details.get("what")),
        None,
    )  # fmt: skip
    if node is None:
        return None
    edit: LineEdit | None = None
    if node.type == "string":
        text = node_text(node)
        if len(_ZERO_PRAGMA.findall(text)) != 1:
            return None
        edit = patching.replace_node(ctx, node, _ZERO_PRAGMA.sub(r"\g<1>5000", text))
        said = "PRAGMA busy_timeout=0 becomes PRAGMA busy_timeout=5000 (wait up to 5 s for a lock)"
    elif syntax.callee(node) in SQLITE_CONNECT:
        value = syntax.keyword_value(node, "timeout")
        args = syntax.positional_args(node)
        if value is None and len(args) >= 2:
            value = args[1]
        if value is None or not _zero(value):
            return None
        edit = patching.replace_node(ctx, value, "5")
        said = f"{syntax.callee(node)}() waits up to 5 s for a lock (timeout=5, Python's default)"
    else:
        edit, said = _apsw_timeout(ctx, node)
    if edit is None:
        return None
    return Patch(safety=PatchSafety.SAFE, description=said, edits=[edit])


def _apsw_timeout(ctx: FileContext, call: tree_sitter.Node) -> tuple[LineEdit | None, str]:
    """``conn = apsw.Connection(...)``: ``conn.setbusytimeout(5000)`` on the next line."""
    parent = call.parent
    statement = parent.parent if parent is not None else None
    left = parent.child_by_field_name("left") if parent is not None else None
    if (
        parent is None
        or parent.type != "assignment"
        or parent.child_by_field_name("right") != call
        or left is None
        or left.type not in {"identifier", "attribute"}
        or statement is None
        or statement.type != "expression_statement"
        or statement.parent is None
        or statement.parent.type not in {"block", "module"}
        or not patching.whole_lines(ctx, statement)
    ):
        return None, ""
    name = node_text(left)
    edit = patching.insert_after(ctx, statement, [f"{name}.setbusytimeout(5000)"])
    return edit, f"{name} waits up to 5 s for a lock ({name}.setbusytimeout(5000))"


RULE = Rule(meta=META, doc=__doc__ or "", check_repo=check_repo, clears=clears, fix=fix)
