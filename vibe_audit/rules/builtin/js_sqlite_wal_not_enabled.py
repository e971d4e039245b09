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

import tree_sitter

from vibe_audit.chunker.parsing import node_text
from vibe_audit.rules import js, patching, syntax
from vibe_audit.rules.base import Hit, Rule, RuleMeta
from vibe_audit.rules.builtin.js_sqlite_busy_timeout_missing import _has_timeout
from vibe_audit.rules.context import FileContext, RepoContext
from vibe_audit.schemas import Confidence, Patch, PatchSafety, Severity

META = RuleMeta(
    id="js-sqlite-wal-not-enabled",
    title="SQLite opened by several connections without WAL journal mode",
    severity=Severity.HIGH,
    confidence=Confidence.HIGH,
    categories={
        "sqlite": "WAL Config",
        "concurrency": "SQLite",
        "reliability": "Concurrency",
        "checkpoint": "Concurrency",
    },
    audit_severity={"concurrency": Severity.MEDIUM},
    checklist=[
        "sqlite.1A",
        "sqlite.pragma.1",
        "concurrency.1A",
        "concurrency.sqlite_checklist.1",
        "reliability.9.1",
        "checkpoint.6A",
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


def fix(ctx: FileContext, hit: Hit) -> Patch | None:
    """Safe: right after the statement that opens the database, switch it to WAL
    (``db.pragma("journal_mode = WAL")`` for better-sqlite3, ``db.exec("PRAGMA journal_mode
    = WAL")`` for node:sqlite, ``db.run(...)`` for bun:sqlite), after a 5 s busy timeout
    for the drivers that have none, so that the switch waits for another connection's lock
    instead of failing.
    Not for sqlite3 (asynchronous: a failed PRAGMA without a callback becomes an 'error'
    event), nor for an open that is not bound by a statement of its own (a class field, a
    ``return``), nor for options that defer the open or may make it read-only."""
    found = js.sqlite_open_at(ctx, hit.start_line)
    if found is None or found[1] == "sqlite3":
        return None
    call, module = found
    if js.open_option_keys(call) & {"open", "readonly", "readOnly", "..."}:
        return None
    bound = js.bound_statement(call)
    if bound is None:
        return None
    statement, name = bound
    quote = js.quote_style(ctx.root)
    semicolon = ";" if node_text(statement).rstrip().endswith(";") else ""
    statements = []
    waits = ""
    if module in {"node:sqlite", "bun:sqlite"} and not _has_timeout(call):
        setting = _busy_timeout_after(statement, name)
        if setting is not None:
            statement = setting  # the WAL switch goes after the file's own busy timeout
            waits = " and its busy timeout"
        else:
            statements.append(js.run_pragma(module, name, "busy_timeout = 5000", quote, semicolon))
    statements.append(js.run_pragma(module, name, "journal_mode = WAL", quote, semicolon))
    if len(statements) > 1:
        waits = (
            " (after a 5 s busy timeout, so that the switch waits for another connection's lock)"
        )
    return Patch(
        safety=PatchSafety.SAFE,
        description=f"switch the database opened as {name} to WAL journal mode right after "
        f"the open{waits}: readers no longer block the writer, and the mode persists in the "
        "file",
        edits=[patching.insert_after(ctx, statement, statements)],
    )


def _busy_timeout_after(statement: tree_sitter.Node, connection: str) -> tree_sitter.Node | None:
    """The statement right after the open's (blank lines and comments aside) when it sets
    PRAGMA busy_timeout on ``connection`` (``db.exec("PRAGMA busy_timeout = 2000")``)."""
    following = statement.next_named_sibling
    while following is not None and following.type == "comment":
        following = following.next_named_sibling
    if following is None or following.type != "expression_statement":
        return None
    for node, name, value in js.pragma_settings(following):
        call = node.parent.parent if node.parent is not None else None
        if (
            name == "busy_timeout"
            and (not value.isdigit() or int(value) > 0)
            and call is not None
            and call.parent == following
            and js.js_callee(call).rsplit(".", 1)[0] == connection
            and js.ends_its_line(following)
        ):
            return following
    return None


RULE = Rule(meta=META, doc=__doc__ or "", check_repo=check_repo, fix=fix)
