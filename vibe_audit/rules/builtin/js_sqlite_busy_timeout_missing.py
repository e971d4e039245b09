"""node:sqlite / bun:sqlite connection with no busy timeout, where several connections meet.

What it finds:
    ``new DatabaseSync(file)`` (node:sqlite) without a positive ``timeout`` option, or
    ``new Database(file)`` (bun:sqlite), opening the application's own database file, in a
    repository that opens that database from more than one place (or runs code in
    worker_threads / cluster), while no string sets ``PRAGMA busy_timeout`` to a positive
    value. better-sqlite3 (``timeout`` defaults to 5000 ms) and sqlite3 (a 1000 ms busy
    timeout is set on open) are not matched; neither are in-memory databases, files a
    function's caller names, or a busy timeout set from a variable.

Why it matters:
    node:sqlite's ``timeout`` defaults to 0 and bun:sqlite sets none, so SQLite's busy
    handler is off: the moment another connection holds the write lock (or, in rollback
    mode, a read lock during a commit), a statement fails at once with SQLITE_BUSY
    ("database is locked") instead of waiting a few milliseconds for the lock. WAL does not
    remove this: two writers still take turns.

Example:
    export const db = new DatabaseSync(DB_FILE);                 // the API process
    const reader = new DatabaseSync(DB_FILE, { readOnly: true }); // the export job

Use instead:
    export const db = new DatabaseSync(DB_FILE, { timeout: 5000 });
    // bun:sqlite: db.run("PRAGMA busy_timeout = 5000");
"""

from __future__ import annotations

from collections.abc import Iterator

import tree_sitter

from vibe_audit.chunker.parsing import node_text
from vibe_audit.rules import js, patching, syntax
from vibe_audit.rules.base import Hit, Rule, RuleMeta
from vibe_audit.rules.context import FileContext, RepoContext
from vibe_audit.schemas import Confidence, Patch, PatchSafety, Severity

META = RuleMeta(
    id="js-sqlite-busy-timeout-missing",
    title="SQLite connection without a busy timeout (node:sqlite / bun:sqlite)",
    severity=Severity.HIGH,
    confidence=Confidence.HIGH,
    categories={"sqlite": "Connection", "concurrency": "SQLite", "reliability": "Timeout"},
    checklist=[
        "sqlite.3A",
        "sqlite.pragma.2",
        "concurrency.1A",
        "concurrency.sqlite_checklist.2",
        "reliability.1.2",
    ],
    problem=(
        "{text} opens the database with {module}, which sets no busy timeout ({default}), "
        "and the database is opened {connections}; no code sets PRAGMA busy_timeout, so a "
        "statement that meets another connection's lock fails at once."
    ),
    scenario=(
        "Another connection is committing (or holds the write lock in a transaction) when "
        "a statement runs on the connection opened at {where}: SQLite returns SQLITE_BUSY "
        "('database is locked') immediately instead of waiting for the lock."
    ),
    impact=(
        "Writes and reads fail intermittently under light concurrent use, and the error "
        "reaches callers that have no retry."
    ),
    how_to_verify=(
        "Hold a write transaction open from one connection (`BEGIN IMMEDIATE` in the sqlite3 "
        "shell) and run a write through the connection opened at {where}: it fails at once "
        "with 'database is locked'."
    ),
    fix=(
        "Give every connection a busy timeout: node:sqlite `new DatabaseSync(file, { timeout: "
        '5000 })`; bun:sqlite `db.run("PRAGMA busy_timeout = 5000")` right after opening.'
    ),
    trade_off=(
        "A statement may now wait up to the timeout for a lock, so a stuck transaction "
        "surfaces as latency before it surfaces as an error; keep transactions short."
    ),
    effort_hours=(0.1, 0.5),
    languages=js.JS_LANGUAGES,
)

_DEFAULTS = {"node:sqlite": "its `timeout` option defaults to 0", "bun:sqlite": "none by default"}


def check_repo(repo: RepoContext) -> Iterator[Hit]:
    files = [
        ctx
        for ctx in repo.in_language(*js.JS_LANGUAGES)
        if not syntax.is_test_path(ctx.source.path)
    ]
    for ctx in files:
        if "busy_timeout" not in ctx.source.text:
            continue
        for _node, name, value in js.pragma_settings(ctx.root):
            if name == "busy_timeout" and (not value.isdigit() or int(value) > 0):
                return  # set, or set from a variable
        if any("busy_timeout" in text and "${" in text for _, text in js.strings(ctx.root)):
            return
    opens = js.sqlite_open_sites(files)
    bare = [o for o in opens if o.module in _DEFAULTS and not _has_timeout(o.call)]
    connections = js.several_connections(files, opens) if bare else None
    if connections is None:
        return
    first = bare[0]
    yield Hit(
        path=first.path,
        start_line=syntax.line(first.call),
        end_line=syntax.line(first.call),
        symbol=js.js_symbol(first.call),
        details={
            "module": first.module,
            "default": _DEFAULTS[first.module],
            "connections": connections,
            "text": node_text(first.call).split("\n", 1)[0],
        },
    )


def _has_timeout(call: tree_sitter.Node) -> bool:
    """The open call passes a ``timeout`` option that is not 0, or options it cannot see."""
    for option in js.js_arguments(call)[1:]:
        option = js.unwrap(option)
        if option.type != "object":
            return True
        for pair in option.named_children:
            if pair.type == "spread_element":
                return True
            key = pair.child_by_field_name("key") if pair.type == "pair" else None
            value = pair.child_by_field_name("value") if pair.type == "pair" else None
            if key is not None and node_text(key) == "timeout":
                return value is None or node_text(value) != "0"
    return False


def fix(ctx: FileContext, hit: Hit) -> Patch | None:
    """Safe: node:sqlite: add ``timeout: 5000`` to the open's options (a new ``{ timeout:
    5000 }`` argument when it has none); bun:sqlite: run ``PRAGMA busy_timeout = 5000``
    right after the statement that opens it. Not for an explicit ``timeout: 0`` (a choice),
    options it cannot see, or a bun:sqlite open not bound by a statement of its own."""
    found = js.sqlite_open_at(ctx, hit.start_line)
    if found is None or found[1] not in _DEFAULTS or _has_timeout(found[0]):
        return None
    call, module = found
    if "timeout" in js.open_option_keys(call):
        return None  # timeout: 0, written on purpose
    if module == "node:sqlite":
        args = js.js_arguments(call)
        arguments = call.child_by_field_name("arguments")
        if len(args) == 1 and arguments is not None:
            edit = patching.append_item(ctx, arguments, "{ timeout: 5000 }")
        elif len(args) == 2 and js.unwrap(args[1]).type == "object":
            edit = patching.append_item(ctx, js.unwrap(args[1]), "timeout: 5000", pad=" ")
        else:
            return None
        if edit is None:
            return None
        return Patch(
            safety=PatchSafety.SAFE,
            description="open the database with timeout: 5000: a statement that meets another "
            "connection's lock waits up to 5 s for it instead of failing with SQLITE_BUSY",
            edits=[edit],
        )
    bound = js.bound_statement(call)
    if bound is None:
        return None
    statement, name = bound
    semicolon = ";" if node_text(statement).rstrip().endswith(";") else ""
    pragma = js.run_pragma(module, name, "busy_timeout = 5000", js.quote_style(ctx.root), semicolon)
    return Patch(
        safety=PatchSafety.SAFE,
        description=f"set PRAGMA busy_timeout = 5000 on {name} right after the open: a "
        "statement that meets another connection's lock waits up to 5 s for it instead of "
        "failing with SQLITE_BUSY",
        edits=[patching.insert_after(ctx, statement, [pragma])],
    )


RULE = Rule(meta=META, doc=__doc__ or "", check_repo=check_repo, fix=fix)
