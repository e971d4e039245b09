"""SQLite file opened from several connections in JS/TS, WAL never enabled.

What it finds:
    A repository whose JavaScript/TypeScript code opens its own SQLite database file with
    better-sqlite3 (``new Database(file)``), node:sqlite (``new DatabaseSync(file)``),
    bun:sqlite (``new Database(file)``) or sqlite3 (``new sqlite3.Database(file)``) from
    more than one place (two open sites, e.g. a writer and a read-only handle, or an open in
    a module that worker_threads / cluster run several times), while no string sets
    ``journal_mode`` to WAL (``db.pragma("journal_mode = WAL")``,
    ``db.exec("PRAGMA journal_mode=WAL")``). Not counted: in-memory databases, and files
    a function's parameter names (a library's or factory's caller chooses the file and its
    journal mode). A journal mode set from a variable cannot be read and is left alone; so is
    a repository with a single connection (one connection never waits on itself).

Why it matters:
    None of these drivers enables WAL: the database stays in SQLite's rollback-journal
    (DELETE) mode, where a writer locks out every reader and every other writer for the
    whole transaction, and a long read blocks the writer's commit. A second connection (an
    API process and a worker, a read-only export handle) then waits for the busy timeout
    (5 s in better-sqlite3, 1 s in sqlite3, none in node:sqlite and bun:sqlite) and fails
    with SQLITE_BUSY.

Example:
    export const db = new Database(dbPath);          // api.ts and worker.ts both import it
    export const openReadonly = () => new Database(dbPath, { readonly: true });

Use instead:
    export const db = new Database(dbPath);
    db.pragma("journal_mode = WAL");                  // persistent: kept in the file
"""

from __future__ import annotations

from collections.abc import Iterator

from vibe_audit.chunker.parsing import node_text
from vibe_audit.rules import js, syntax
from vibe_audit.rules.base import Hit, Rule, RuleMeta
from vibe_audit.rules.context import RepoContext
from vibe_audit.schemas import Confidence, Severity

META = RuleMeta(
    id="js-sqlite-wal-not-enabled",
    title="SQLite opened by several connections without WAL journal mode",
    severity=Severity.HIGH,
    confidence=Confidence.HIGH,
    categories={"sqlite": "WAL Config", "concurrency": "SQLite", "reliability": "Concurrency"},
    audit_severity={"concurrency": Severity.MEDIUM},
    checklist=[
        "sqlite.1A",
        "sqlite.pragma.1",
        "concurrency.1A",
        "concurrency.sqlite_checklist.1",
        "reliability.9.1",
    ],
    problem=(
        "The SQLite database is opened with {module} {connections}, and no code sets "
        "journal_mode to WAL, so the default rollback journal is in use: a writer locks out "
        "every reader and every other writer for the whole transaction."
    ),
    scenario=(
        "While one connection commits (or a long read holds its shared lock), the other "
        "connection's write waits for the busy timeout and then fails with SQLITE_BUSY "
        "('database is locked')."
    ),
    impact=(
        "Writes fail intermittently under modest load and reads stall behind writes; the "
        "failures grow with the number of processes and the length of transactions."
    ),
    how_to_verify=(
        'Run `sqlite3 <db file> "PRAGMA journal_mode;"` (prints "delete"), then write from '
        "both connections at once (e.g. a long export while saving) and watch for "
        "SQLITE_BUSY."
    ),
    fix=(
        "Right after opening the database ({where}), enable WAL once (it persists in the "
        'file): `db.pragma("journal_mode = WAL")` (better-sqlite3) or '
        '`db.exec("PRAGMA journal_mode = WAL")` (node:sqlite, bun:sqlite, sqlite3), and set a '
        "busy timeout for the driver that has none."
    ),
    trade_off=(
        "WAL adds -wal and -shm files beside the database and needs a local filesystem (not "
        "NFS); there is still one writer at a time, but readers no longer block it."
    ),
    effort_hours=(0.25, 1.0),
    languages=js.JS_LANGUAGES,
)


def check_repo(repo: RepoContext) -> Iterator[Hit]:
    files = [
        ctx
        for ctx in repo.in_language(*js.JS_LANGUAGES)
        if not syntax.is_test_path(ctx.source.path)
    ]
    for ctx in files:
        if "journal_mode" not in ctx.source.text:
            continue
        for _node, name, value in js.pragma_settings(ctx.root):
            if name == "journal_mode" and (value in {"wal", ""} or not value.isalpha()):
                return  # WAL set, or a journal mode chosen in code: nothing to say
        if any("journal_mode" in text and "${" in text for _, text in js.strings(ctx.root)):
            return
    opens = js.sqlite_open_sites(files)
    writers = [o for o in opens if o.kind == "owned"]
    connections = js.several_connections(files, opens) if writers else None
    if connections is None:
        return
    first = writers[0]
    yield Hit(
        path=first.path,
        start_line=syntax.line(first.call),
        end_line=syntax.line(first.call),
        symbol=js.js_symbol(first.call),
        details={
            "module": first.module,
            "connections": connections,
            "text": node_text(first.call),
        },
    )


RULE = Rule(meta=META, doc=__doc__ or "", check_repo=check_repo)
