"""sqlx SQLite pool on a database the code creates, without WAL.

What it finds:
    A Rust repository using sqlx 0.7 or later (its ``Cargo.toml``) that creates its SQLite
    database itself (``SqliteConnectOptions::create_if_missing(true)``, or a connect URL
    with ``mode=rwc``), serves it through a pool of several connections (``SqlitePool`` /
    ``SqlitePoolOptions``, not ``max_connections(1)``), and never sets a journal mode: no
    ``journal_mode`` / ``SqliteJournalMode`` in the Rust code or its ``.sql`` files.

Why it matters:
    sqlx does not set a journal mode by default (since 0.6: changing it needs an exclusive
    lock), so a database file the application creates stays in SQLite's default rollback
    journal (DELETE). Only databases created by sqlx-cli start in WAL. In DELETE mode a
    writer waits for every reader to finish and readers wait during a commit: the pool's
    connections (10 by default) block one another, and past the 5 s busy timeout queries
    fail with "database is locked".

Example:
    let options = SqliteConnectOptions::from_str(&url)?.create_if_missing(true);
    let pool = SqlitePoolOptions::new().max_connections(8).connect_with(options).await?;

Use instead:
    let options = SqliteConnectOptions::from_str(&url)?
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal);
    let pool = SqlitePoolOptions::new().max_connections(8).connect_with(options).await?;
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import tree_sitter

from vibe_audit.chunker.parsing import node_text
from vibe_audit.rules import patching, rust, syntax
from vibe_audit.rules.base import Hit, Rule, RuleMeta, node_hit
from vibe_audit.rules.context import FileContext, RepoContext
from vibe_audit.schemas import Confidence, LineEdit, Patch, PatchSafety, Severity

META = RuleMeta(
    id="rust-sqlx-sqlite-wal-not-enabled",
    title="SQLite (sqlx) pool without WAL journal mode",
    severity=Severity.HIGH,
    confidence=Confidence.MEDIUM,
    categories={
        "sqlite": "WAL Config",
        "concurrency": "SQLite",
        "reliability": "Concurrency",
        "checkpoint": "Concurrency",
    },
    # Readers blocking the writer lose no data: in the integrity audit it is MEDIUM.
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
        "{function}() creates the SQLite database ({call}) and the code serves it through a "
        "sqlx pool, but no code sets a journal mode: sqlx leaves new databases in the "
        "default rollback journal (DELETE), where the pool's writer and readers block "
        "each other."
    ),
    scenario=(
        "Concurrent requests share the pool: one connection commits a write while others "
        "read; each side waits for the file lock and, after the 5 s busy timeout, the "
        "query fails with 'database is locked'."
    ),
    impact=(
        "Under concurrent load, latency spikes on every commit and a share of queries fail "
        "with 'database is locked'."
    ),
    how_to_verify=(
        'Run `sqlite3 <db> "PRAGMA journal_mode;"` on the file the application created '
        '(prints "delete"); then run concurrent writes and reads through the app.'
    ),
    fix=(
        "Set WAL on the connect options in {function}():\n"
        "    .journal_mode(SqliteJournalMode::Wal)\n"
        "    .synchronous(SqliteSynchronous::Normal)"
    ),
    trade_off=(
        "WAL adds the -wal and -shm files beside the database and needs a local "
        "filesystem (not NFS); readers no longer block the writer. Still one writer at a "
        "time."
    ),
    effort_hours=(0.25, 0.5),
    languages=["rust"],
)

_JOURNAL = re.compile(r"journal_mode|JournalMode", re.I)
_POOL = re.compile(r"\bSqlitePool(Options)?\b|Pool<\s*Sqlite\s*>")
_ONE_CONNECTION = re.compile(r"max_connections\(\s*1\s*\)")
_VERSION = re.compile(
    r"^\s*sqlx\s*=\s*(?:\"[=^~]?(\d+)\.(\d+)|\{[^}\n]*version\s*=\s*\"[=^~]?(\d+)\.(\d+))"
    r"|^\[(?:workspace\.)?dependencies\.sqlx\]\s*\n\s*version\s*=\s*\"[=^~]?(\d+)\.(\d+)",
    re.M,
)


def _sqlx_version(manifests: list[str]) -> tuple[int, int] | None:
    """The sqlx version the manifests ask for (the first one written), else None."""
    for text in manifests:
        found = _VERSION.search(text)
        if found:
            numbers = [g for g in found.groups() if g is not None]
            return int(numbers[0]), int(numbers[1])
    return None


def _creates(ctx: FileContext) -> Iterator[tree_sitter.Node]:
    """``create_if_missing(true)`` calls and ``mode=rwc`` URL strings, outside test code."""
    for node in syntax.of_type(ctx.root, "call_expression", "string_literal"):
        if node.type == "call_expression":
            if rust.method_name(node) != "create_if_missing":
                continue
            args = rust.call_arguments(node)
            if not args or node_text(args[0]) != "true":
                continue
        elif "mode=rwc" not in (rust.rust_string(node) or ""):
            continue
        function = rust.enclosing_function(node)
        if function is not None and "memory" in node_text(function).lower():
            continue
        if not rust.is_rust_test(node, ctx.source.path):
            yield node


def check_repo(repo: RepoContext) -> Iterator[Hit]:
    files = [ctx for ctx in repo.in_language("rust") if not syntax.is_test_path(ctx.source.path)]
    texts = [ctx.source.text for ctx in files]
    if not any("sqlx" in t for t in texts) or not any(_POOL.search(t) for t in texts):
        return
    if any(_ONE_CONNECTION.search(t) for t in texts):
        return  # one connection: nothing for it to contend with
    sql = [s.text for s in repo.other_sources if s.path.endswith(".sql")]
    if any(_JOURNAL.search(t) for t in texts + sql):
        return  # set (or decided) in code
    manifests = [s.text for s in repo.other_sources if s.path.endswith("Cargo.toml")]
    version = _sqlx_version(manifests)
    if version is None or version < (0, 7):
        return  # unknown, or a release that may still default to WAL
    for ctx in files:
        for node in _creates(ctx):
            function = rust.enclosing_function(node)
            yield node_hit(
                ctx,
                node,
                details={
                    "function": rust.rust_function_name(function) if function else "main",
                    "call": ctx.lines[syntax.line(node) - 1].strip(),
                },
            )
            return


_JOURNAL_MODE = "sqlx::sqlite::SqliteJournalMode"


def fix(ctx: FileContext, hit: Hit) -> Patch | None:
    """Safe: ``.journal_mode(SqliteJournalMode::Wal)`` right after the connect options'
    ``create_if_missing(true)`` (on a line of its own when the chain is one call per line),
    and ``use sqlx::sqlite::SqliteJournalMode;`` after the file's last ``use`` when it is
    not imported. Not for a ``mode=rwc`` URL."""
    call = next(
        (
            n
            for n in _creates(ctx)
            if n.type == "call_expression" and syntax.line(n) == hit.start_line
        ),
        None,
    )
    arguments = call.child_by_field_name("arguments") if call is not None else None
    function = call.child_by_field_name("function") if call is not None else None
    field = function.child_by_field_name("field") if function is not None else None
    if arguments is None or field is None or arguments.start_point[0] != arguments.end_point[0]:
        return None
    uses = rust.use_paths(ctx.root)
    edits: list[LineEdit] = []
    if uses.get("SqliteJournalMode") == _JOURNAL_MODE:
        mode = "SqliteJournalMode::Wal"
    else:
        last_use = next(
            (c for c in reversed(ctx.root.named_children) if c.type == "use_declaration"), None
        )
        if last_use is None or "SqliteJournalMode" in uses:
            mode = f"{_JOURNAL_MODE}::Wal"
        else:
            mode = "SqliteJournalMode::Wal"
            edits.append(patching.insert_after(ctx, last_use, [f"use {_JOURNAL_MODE};"]))
    row = field.start_point[0]
    before = ctx.lines[row].encode("utf-8")[: field.start_point[1]].decode("utf-8", "ignore")
    own_line = before.strip() == "."
    indent = before[: len(before) - len(before.lstrip())]
    joint = f"\n{indent}" if own_line else ""
    edits.append(
        patching.replace_node(ctx, arguments, f"{node_text(arguments)}{joint}.journal_mode({mode})")
    )
    return Patch(
        safety=PatchSafety.SAFE,
        description=f"set the journal mode to WAL on the connect options in "
        f"{hit.details.get('function')}() (persistent: kept in the database file); the "
        "pool's readers no longer block its writer",
        edits=edits,
    )


RULE = Rule(meta=META, doc=__doc__ or "", check_repo=check_repo, fix=fix)
