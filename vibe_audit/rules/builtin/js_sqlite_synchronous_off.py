"""JS/TS SQLite connection with PRAGMA synchronous=OFF: corruption on power loss.

What it finds:
    In non-test JavaScript/TypeScript code: better-sqlite3's ``db.pragma("synchronous =
    OFF")`` (or ``= 0``), and a ``PRAGMA synchronous = OFF`` statement in SQL the code runs
    (``db.exec(...)``, ``db.run(...)``, ``db.prepare(...)``, or a ``const`` PRAGMA block),
    with any driver: better-sqlite3, node:sqlite, bun:sqlite, sqlite3. Strings in log
    calls, assertions and error messages are ignored, and so is a function (or module)
    that opens only in-memory or read-only databases. HIGH where a server or worker runs
    the code; MEDIUM for a script or one-shot load, or a database its code names a cache.

Why it matters:
    With synchronous=OFF SQLite never fsyncs: committed transactions sit in the OS page
    cache. If the operating system crashes or the machine loses power before they reach
    the disk, SQLite's documentation warns the database file may be corrupted, not just
    missing the last transactions; in rollback-journal mode the journal that would repair
    it was not synced either.

Example:
    const db = new Database("app.db");
    db.pragma("journal_mode = WAL");
    db.pragma("synchronous = OFF");   // "inserts are faster"

Use instead:
    const db = new Database("app.db");
    db.pragma("journal_mode = WAL");
    db.pragma("synchronous = NORMAL");  // consistent on power loss in WAL
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import replace

import tree_sitter

from vibe_audit.chunker.parsing import node_text
from vibe_audit.rules import js, syntax
from vibe_audit.rules.base import Hit, Rule, RuleMeta
from vibe_audit.rules.context import FileContext, RepoContext
from vibe_audit.rules.pragmas_util import SetPragma, js_pragmas
from vibe_audit.schemas import Confidence, Severity

META = RuleMeta(
    id="js-sqlite-synchronous-off",
    title="SQLite PRAGMA synchronous=OFF (corruption on power loss)",
    severity=Severity.HIGH,
    confidence=Confidence.HIGH,
    categories={"sqlite": "WAL Config", "checkpoint": "Corruption", "concurrency": "SQLite"},
    checklist=[
        "sqlite.1D",
        "sqlite.pragma.3",
        "sqlite.7C",
        "checkpoint.2B",
        "concurrency.sqlite_checklist.4",
    ],
    problem=(
        "`{text}` ({where}) turns off every fsync SQLite does: committed transactions "
        "sit in the OS page cache, and the database file's consistency depends on the OS "
        "never crashing."
    ),
    scenario=(
        "The host loses power or the kernel panics while pages of a committed transaction "
        "are still unwritten: on restart SQLite reports 'database disk image is malformed' "
        "or returns rows from a half-applied transaction."
    ),
    impact=(
        "The whole database (every table, not just the last write) can be lost; recovery "
        "means restoring a backup or rebuilding it."
    ),
    how_to_verify=(
        "Run `PRAGMA synchronous;` through the connection configured at {where}: 0 means "
        "OFF. Cut power to a VM during a write loop and run `PRAGMA integrity_check`."
    ),
    fix=(
        "Use WAL with synchronous=NORMAL, which keeps the database consistent on power loss "
        "and costs little:\n"
        '    db.pragma("journal_mode = WAL");  // node:sqlite, bun:sqlite: db.exec("PRAGMA ...")\n'
        '    db.pragma("synchronous = NORMAL");\n'
        "For one-off bulk loads, batch rows into a few large transactions instead."
    ),
    trade_off=(
        "NORMAL in WAL mode can lose the last transactions on power loss (never corrupts); "
        "FULL loses none but fsyncs every commit. Both are slower than OFF for tiny commits."
    ),
    effort_hours=(0.25, 0.5),
    languages=js.JS_LANGUAGES,
)

_OFF = frozenset({"off", "0"})
_CACHE = re.compile(r"cache", re.I)
_READONLY = re.compile(r"\breadOnly\s*:\s*true\b|\bOPEN_READONLY\b", re.I)


def check_repo(repo: RepoContext) -> Iterator[Hit]:
    files = [
        ctx
        for ctx in repo.in_language(*js.JS_LANGUAGES)
        if not syntax.is_test_path(ctx.source.path)
    ]
    graph: dict[str, tuple[set[str], str]] | None = None
    for ctx in files:
        if "ynchronous" not in ctx.source.text:
            continue
        for pragma in js_pragmas(ctx):
            if pragma.name != "synchronous" or pragma.value not in _OFF:
                continue
            if _no_writes_to_lose(ctx, pragma.node):
                continue
            if graph is None:
                graph = {c.source.path: (c.imports, c.source.text) for c in files}
            yield _graded(ctx, pragma, js.reaching_server(ctx.source.path, graph))


def _no_writes_to_lose(ctx: FileContext, node: tree_sitter.Node) -> bool:
    """The function (or module) that sets the PRAGMA opens only in-memory or read-only
    databases: nothing it writes can be corrupted on disk."""
    scope = js.enclosing_function(node) or ctx.root
    kinds = {
        "readonly" if _READONLY.search(node_text(call)) else js.opened_database(call, module)
        for call, module in js.sqlite_opens(ctx.root)
        if (js.enclosing_function(call) or ctx.root) == scope
    }
    return bool(kinds) and kinds <= {"memory", "readonly"}


def _graded(ctx: FileContext, pragma: SetPragma, served: str | None) -> Hit:
    symbol = js.js_symbol(pragma.node)
    hit = Hit(
        path=ctx.source.path,
        start_line=pragma.line,
        end_line=pragma.line,
        symbol=symbol,
        details={
            "text": pragma.text,
            "where": f"{ctx.source.path}:{pragma.line}" + (f", in {symbol}()" if symbol else ""),
        },
    )
    if _CACHE.search(f"{ctx.source.path} {symbol or ''}"):
        return replace(
            hit,
            severity=Severity.MEDIUM,
            severity_reason="MEDIUM: the database is a cache, by its code's names: a "
            "corrupt file costs a rebuild, not lost records.",
        )
    if served is None:
        return replace(
            hit,
            severity=Severity.MEDIUM,
            severity_reason="MEDIUM: no server or worker runs this code (a script or a "
            "one-shot load, by its imports): a crash mid-run usually costs a rerun.",
        )
    return replace(hit, severity_reason=f"HIGH: {served}, and its database lives on.")


RULE = Rule(meta=META, doc=__doc__ or "", check_repo=check_repo)
