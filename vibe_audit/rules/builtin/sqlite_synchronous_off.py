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

from vibe_audit.rules import syntax
from vibe_audit.rules.base import Hit, Rule, RuleMeta
from vibe_audit.rules.context import FileContext
from vibe_audit.rules.sql import pragma_settings
from vibe_audit.schemas import Confidence, Severity

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


RULE = Rule(meta=META, doc=__doc__ or "", check_file=check_file)
