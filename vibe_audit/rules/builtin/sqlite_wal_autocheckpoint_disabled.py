"""WAL auto-checkpoint turned off and no manual checkpoint anywhere.

What it finds:
    ``PRAGMA wal_autocheckpoint=0`` (or a negative value) in an SQL string the code runs,
    in a repository where nothing ever runs a checkpoint (no ``PRAGMA wal_checkpoint`` and
    no ``wal_checkpoint(...)`` call in any Python file).

Why it matters:
    In WAL mode every commit is appended to the -wal file; only a checkpoint copies the pages
    back into the database and lets the log restart. With auto-checkpointing disabled and
    no manual checkpoint, the -wal file grows without bound, every reader scans an ever
    longer WAL index, and the disk eventually fills.

Example:
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA wal_autocheckpoint=0")   # "checkpoints stall our writers"

Use instead:
    conn.execute("PRAGMA wal_autocheckpoint=1000")        # the default: every ~4 MB
    # or keep it off and checkpoint from a maintenance task:
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from vibe_audit.rules import syntax
from vibe_audit.rules.base import Hit, Rule, RuleMeta
from vibe_audit.rules.context import RepoContext
from vibe_audit.rules.sql import pragma_settings
from vibe_audit.schemas import Confidence, Severity

META = RuleMeta(
    id="sqlite-wal-autocheckpoint-disabled",
    title="WAL auto-checkpoint disabled and never checkpointed manually",
    severity=Severity.MEDIUM,
    confidence=Confidence.HIGH,
    categories={"sqlite": "Checkpoint", "reliability": "Resource Leak"},
    checklist=["sqlite.1B", "sqlite.3D", "sqlite.pragma.7", "sqlite.pragma.8", "reliability.4.2"],
    problem=(
        "`PRAGMA wal_autocheckpoint={value}` disables automatic WAL checkpoints, and no code in "
        "the repository runs `PRAGMA wal_checkpoint`. The -wal file is never folded back into "
        "the database."
    ),
    scenario=(
        "The service writes steadily for days: the -wal file grows to gigabytes, reads slow "
        "down as each one consults the growing WAL index, and the volume fills up, after which "
        "every write fails with 'database or disk is full'."
    ),
    impact=(
        "Unbounded disk growth and degrading read latency; an outage when the disk fills, and "
        "a long recovery checkpoint on the next open."
    ),
    how_to_verify=(
        "Run the app under write load for a while and watch `ls -l <db>-wal`: it only grows. "
        '`sqlite3 <db> "PRAGMA wal_autocheckpoint;"` on the app\'s connection prints 0.'
    ),
    fix=(
        "Remove the PRAGMA (the default checkpoints every 1000 pages) or schedule "
        '`conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")` from a maintenance task and at '
        "startup."
    ),
    trade_off=(
        "A checkpoint briefly competes with writers for I/O; a scheduled TRUNCATE checkpoint "
        "needs a moment with no long-running readers to reset the file."
    ),
    effort_hours=(0.25, 1.0),
)

_PREFILTER = re.compile(r"PRAGMA\s+(\w+\.)?wal_autocheckpoint", re.I)
_MANUAL = re.compile(r"\bwal_checkpoint\b", re.I)


def _disabled(value: str) -> bool:
    try:
        return int(value) <= 0
    except ValueError:
        return False


def check_repo(repo: RepoContext) -> Iterator[Hit]:
    files = repo.in_language("python")
    candidates = [ctx for ctx in files if _PREFILTER.search(ctx.source.text)]
    if not candidates or any(_MANUAL.search(ctx.source.text) for ctx in files):
        return
    for ctx in candidates:
        for pragma in pragma_settings(ctx, frozenset({"wal_autocheckpoint"})):
            if not _disabled(pragma.value):
                continue
            yield Hit(
                path=ctx.source.path,
                start_line=pragma.line,
                end_line=pragma.line,
                symbol=syntax.qualified_name(pragma.node),
                details={"value": pragma.value},
            )


RULE = Rule(meta=META, doc=__doc__ or "", check_repo=check_repo)
