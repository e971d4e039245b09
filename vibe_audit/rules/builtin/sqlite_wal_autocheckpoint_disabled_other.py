"""WAL auto-checkpoint turned off and no manual checkpoint anywhere (JS/TS).

What it finds:
    ``PRAGMA wal_autocheckpoint = 0`` (or a negative value) set by code the repository
    runs, in a repository where nothing ever runs a checkpoint: no ``wal_checkpoint``
    (``PRAGMA wal_checkpoint(TRUNCATE)``, ``sqlite3_wal_checkpoint_v2``) in any file of the
    same language: better-sqlite3's ``db.pragma("wal_autocheckpoint = 0")`` and
    ``db.exec/run("PRAGMA wal_autocheckpoint = 0")`` (node:sqlite, bun:sqlite, sqlite3).
    Test code is skipped; the Rust rule in this module reads rusqlite and sqlx.

Why it matters:
    In WAL mode every commit is appended to the -wal file; only a checkpoint copies the pages
    back into the database and lets the log restart. With auto-checkpointing disabled and
    no manual checkpoint, the -wal file grows without bound, every reader scans an ever
    longer WAL index, and the disk eventually fills.

Example:
    db.pragma("journal_mode = WAL");
    db.pragma("wal_autocheckpoint = 0");   // "checkpoints stall our writers"

Use instead:
    db.pragma("wal_autocheckpoint = 1000");        // the default: every ~4 MB
    // or keep it off and checkpoint from a maintenance timer and at startup:
    db.pragma("wal_checkpoint(TRUNCATE)");
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from vibe_audit.rules import js, syntax
from vibe_audit.rules.base import Hit, Rule, RuleMeta
from vibe_audit.rules.context import FileContext, RepoContext
from vibe_audit.rules.pragmas_util import SetPragma, js_pragmas, rust_pragmas
from vibe_audit.schemas import Confidence, Severity

_TEXTS = {
    "title": "WAL auto-checkpoint disabled and never checkpointed manually",
    "problem": (
        "`{text}` disables automatic WAL checkpoints, and no code in the repository runs "
        "`PRAGMA wal_checkpoint`. The -wal file is never folded back into the database."
    ),
    "scenario": (
        "The service writes steadily for days: the -wal file grows to gigabytes, reads slow "
        "down as each one consults the growing WAL index, and the volume fills up, after "
        "which every write fails with 'database or disk is full'."
    ),
    "impact": (
        "Unbounded disk growth and degrading read latency; an outage when the disk fills, and "
        "a long recovery checkpoint on the next open."
    ),
    "how_to_verify": (
        "Run the app under write load for a while and watch `ls -l <db>-wal`: it only grows. "
        "`PRAGMA wal_autocheckpoint;` on the app's connection returns 0."
    ),
    "trade_off": (
        "A checkpoint briefly competes with writers for I/O; a scheduled TRUNCATE checkpoint "
        "needs a moment with no long-running readers to reset the file."
    ),
}
_CHECKLIST = ["sqlite.1B", "sqlite.3D", "sqlite.pragma.7", "sqlite.pragma.8", "reliability.4.2"]
_CATEGORIES = {"sqlite": "Checkpoint", "reliability": "Resource Leak"}


def _disabled(value: str) -> bool:
    try:
        return int(value) <= 0
    except ValueError:
        return False


def _checker(
    languages: list[str], settings: Callable[[FileContext], list[SetPragma]]
) -> Callable[[RepoContext], Iterator[Hit]]:
    def check_repo(repo: RepoContext) -> Iterator[Hit]:
        files = [
            ctx for ctx in repo.in_language(*languages) if not syntax.is_test_path(ctx.source.path)
        ]
        candidates = [ctx for ctx in files if "wal_autocheckpoint" in ctx.source.text]
        if not candidates or any("wal_checkpoint" in ctx.source.text for ctx in files):
            return
        for ctx in candidates:
            for pragma in settings(ctx):
                if pragma.name != "wal_autocheckpoint" or not _disabled(pragma.value):
                    continue
                yield Hit(
                    path=ctx.source.path,
                    start_line=pragma.line,
                    end_line=pragma.line,
                    details={"text": pragma.text, "value": pragma.value},
                )

    return check_repo


_JS_META = RuleMeta(
    id="js-sqlite-wal-autocheckpoint-disabled",
    title=_TEXTS["title"],
    severity=Severity.MEDIUM,
    confidence=Confidence.HIGH,
    categories=_CATEGORIES,
    checklist=_CHECKLIST,
    problem=_TEXTS["problem"],
    scenario=_TEXTS["scenario"],
    impact=_TEXTS["impact"],
    how_to_verify=_TEXTS["how_to_verify"],
    fix=(
        "Remove the PRAGMA (the default checkpoints every 1000 pages) or run "
        '`db.pragma("wal_checkpoint(TRUNCATE)")` (node:sqlite, bun:sqlite: '
        '`db.exec("PRAGMA wal_checkpoint(TRUNCATE)")`) at startup and from a maintenance timer.'
    ),
    trade_off=_TEXTS["trade_off"],
    effort_hours=(0.25, 1.0),
    languages=js.JS_LANGUAGES,
)
_RUST_META = _JS_META.model_copy(
    update={
        "id": "rust-sqlite-wal-autocheckpoint-disabled",
        "fix": (
            "Remove the PRAGMA (the default checkpoints every 1000 pages) or run a checkpoint "
            "at startup and from a maintenance task: "
            '`conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);")?` (sqlx: '
            '`sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)").execute(&pool).await?`).'
        ),
        "languages": ["rust"],
    }
)

_RUST_DOC = """WAL auto-checkpoint turned off and no manual checkpoint anywhere (Rust).

What it finds:
    ``PRAGMA wal_autocheckpoint = 0`` (or a negative value) set by non-test Rust code --
    rusqlite's ``conn.pragma_update(None, "wal_autocheckpoint", 0)``, sqlx's
    ``SqliteConnectOptions::pragma("wal_autocheckpoint", "0")`` or the PRAGMA in a SQL
    string -- in a repository where no Rust file runs a checkpoint (no ``wal_checkpoint``:
    ``PRAGMA wal_checkpoint(TRUNCATE)``, ``sqlite3_wal_checkpoint_v2``).

Why it matters:
    In WAL mode every commit is appended to the -wal file; only a checkpoint copies the pages
    back into the database and lets the log restart. With auto-checkpointing disabled and
    no manual checkpoint, the -wal file grows without bound, every reader scans an ever
    longer WAL index, and the disk eventually fills.

Example:
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "wal_autocheckpoint", 0)?;   // "checkpoints stall writers"

Use instead:
    conn.pragma_update(None, "wal_autocheckpoint", 1000)?; // the default: every ~4 MB
    // or keep it off and checkpoint from a maintenance task and at startup:
    conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);")?;
"""

RULES = [
    Rule(meta=_JS_META, doc=__doc__ or "", check_repo=_checker(js.JS_LANGUAGES, js_pragmas)),
    Rule(meta=_RUST_META, doc=_RUST_DOC, check_repo=_checker(["rust"], rust_pragmas)),
]
