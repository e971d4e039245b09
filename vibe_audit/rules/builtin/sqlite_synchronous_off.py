"""PRAGMA synchronous=OFF: SQLite stops syncing to disk.

What it finds:
    ``PRAGMA synchronous=OFF`` (or ``= 0``) in an SQL string the code runs (docstrings are
    ignored).

Why it matters:
    With synchronous OFF, SQLite hands writes to the operating system and never waits for
    them to reach the disk. An application crash is survivable, but an OS crash, power loss
    or container host failure can leave the database file corrupted ("database disk image
    is malformed"), not merely missing the last transactions.

Example:
    conn.execute("PRAGMA synchronous=OFF")   # "it makes bulk inserts faster"

Use instead:
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")   # durable against corruption, fast in WAL
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from vibe_audit.chunker.parsing import node_text
from vibe_audit.rules import patching, pyflow, syntax
from vibe_audit.rules.base import Hit, Rule, RuleMeta
from vibe_audit.rules.context import FileContext
from vibe_audit.rules.sql import pragma_settings
from vibe_audit.schemas import Confidence, Patch, PatchSafety, Severity

META = RuleMeta(
    id="sqlite-synchronous-off",
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
        "`{text}` turns off every fsync SQLite does. Committed transactions sit in the OS page "
        "cache, and the database file's own consistency depends on the OS never crashing."
    ),
    scenario=(
        "The host loses power or the kernel panics while pages of a committed transaction "
        "are still unwritten: on restart SQLite reports 'database disk image is malformed' "
        "or silently returns rows from a half-applied transaction."
    ),
    impact=(
        "The whole database (every table, not just the last write) can be lost; recovery "
        "means restoring a backup."
    ),
    how_to_verify=(
        'Run `sqlite3 <db> "PRAGMA synchronous;"` through the app\'s connection: 0 means OFF. '
        "Pull the plug on a VM during a write loop and run `PRAGMA integrity_check`."
    ),
    fix=(
        "Use WAL with synchronous=NORMAL, which keeps the database consistent on power loss "
        "and costs little:\n"
        '    conn.execute("PRAGMA journal_mode=WAL")\n'
        '    conn.execute("PRAGMA synchronous=NORMAL")\n'
        "For one-off bulk loads, batch rows into a few large transactions instead."
    ),
    trade_off=(
        "NORMAL in WAL mode can lose the last transactions on power loss (never corrupts); "
        "FULL loses none but fsyncs every commit. Both are slower than OFF for tiny commits."
    ),
    effort_hours=(0.25, 0.5),
)

_OFF = frozenset({"off", "0"})
_PREFILTER = re.compile(r"PRAGMA\s+(\w+\.)?synchronous", re.I)


def check_file(ctx: FileContext) -> Iterator[Hit]:
    if not _PREFILTER.search(ctx.source.text):
        return
    for pragma in pragma_settings(ctx, frozenset({"synchronous"})):
        if pragma.value not in _OFF:
            continue
        yield Hit(
            path=ctx.source.path,
            start_line=pragma.line,
            end_line=pragma.line,
            symbol=syntax.qualified_name(pragma.node),
            details={"text": f"PRAGMA synchronous={pragma.value.upper()}"},
        )


_OFF_VALUE = re.compile(r"(PRAGMA\s+(?:\w+\.)?synchronous\s*=\s*['\"]?\s*)(off|0)(?![\w.])", re.I)


def fix(ctx: FileContext, hit: Hit) -> Patch | None:
    """Safe: synchronous=OFF becomes NORMAL where the same function (or module level) also
    sets journal_mode=WAL (consistent on power loss, as the fix says), else FULL (what
    SQLite does by default in the rollback journal: NORMAL there can still corrupt)."""
    pragma = next(
        (p for p in pragma_settings(ctx, frozenset({"synchronous"}))
         if p.line == hit.start_line and p.value in _OFF),
        None,
    )  # fmt: skip
    if pragma is None:
        return None
    text = node_text(pragma.node)
    found = list(_OFF_VALUE.finditer(text))
    if len(found) != 1:
        return None
    scope = pyflow.enclosing_function(pragma.node)
    wal = any(
        p.value == "wal" and pyflow.enclosing_function(p.node) == scope
        for p in pragma_settings(ctx, frozenset({"journal_mode"}))
    )
    old = found[0].group(2)
    new = ("1" if wal else "2") if old == "0" else ("NORMAL" if wal else "FULL")
    if old.islower():
        new = new.lower()
    start, end = found[0].span(2)
    edit = patching.replace_node(ctx, pragma.node, text[:start] + new + text[end:])
    why = (
        "journal_mode=WAL is set here: NORMAL never corrupts the database in WAL"
        if wal
        else "no journal_mode=WAL here: FULL, SQLite's default, is the durable setting"
    )
    return Patch(
        safety=PatchSafety.SAFE,
        description=f"PRAGMA synchronous={old} becomes synchronous={new} ({why})",
        edits=[edit],
    )


RULE = Rule(meta=META, doc=__doc__ or "", check_file=check_file, fix=fix)
