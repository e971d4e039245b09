"""rusqlite database opened per operation without WAL: readers and writers lock each other.

What it finds:
    A Rust repository that opens a rusqlite file database (``Connection::open`` /
    ``Connection::open_with_flags``, not in memory, not read-only), never mentions
    ``journal_mode`` anywhere, and holds more than one connection at a time while the code
    runs concurrently: either a connection pool (``r2d2_sqlite``, ``deadpool_sqlite``) or a
    connection opened per operation (a function other than a constructor opens one, directly
    or through the repository's own opener, uses it and drops it) in code that runs async
    tasks, threads or a server. Reported once, at the ``Connection::open`` call.

Why it matters:
    rusqlite applies no journal mode of its own, so the database uses SQLite's default
    rollback journal (DELETE). In that mode a writer needs every reader gone to commit, and
    readers wait for a commit to finish: with several connections at once, reads and writes
    block each other and, once rusqlite's 5 s busy timeout runs out, fail with "database is
    locked". WAL lets readers proceed during a write.

Example:
    fn open_conn(path: &Path) -> rusqlite::Result<Connection> {
        let conn = Connection::open(path)?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        Ok(conn)
    }

Use instead:
    fn open_conn(path: &Path) -> rusqlite::Result<Connection> {
        let conn = Connection::open(path)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;  // persistent, kept in the file
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        Ok(conn)
    }
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import tree_sitter

from vibe_audit.rules import evidence, patching, rust, syntax
from vibe_audit.rules.base import Hit, Rule, RuleMeta
from vibe_audit.rules.context import FileContext, RepoContext
from vibe_audit.schemas import Confidence, LineEdit, Patch, PatchSafety, Severity

META = RuleMeta(
    id="rust-rusqlite-wal-not-enabled",
    title="SQLite (rusqlite) used by several connections without WAL",
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
        "{function}() opens the SQLite database with rusqlite and no code sets "
        "journal_mode, so the default rollback journal (DELETE) is in use while {several}. "
        "In that mode a writer and the readers block each other for the whole transaction."
    ),
    scenario=(
        "A write commits while {user} reads through another connection: one side waits "
        "for the lock and, after rusqlite's 5 s busy timeout, fails with 'database is "
        "locked'."
    ),
    impact=(
        "Under concurrent use, reads stall behind writes and a share of operations fail "
        "with 'database is locked'; latency spikes whenever a write commits."
    ),
    how_to_verify=(
        'Run `sqlite3 <db> "PRAGMA journal_mode;"` on the database file (prints "delete"); '
        "then hold a write open (`BEGIN IMMEDIATE;` plus an INSERT in the sqlite3 shell) and "
        "call {user}: it blocks, then fails."
    ),
    fix=(
        "Right after opening, in {function}():\n"
        '    conn.pragma_update(None, "journal_mode", "WAL")?;  // persistent: kept in the file\n'
        '    conn.pragma_update(None, "synchronous", "NORMAL")?;'
    ),
    trade_off=(
        "WAL adds the -wal and -shm files beside the database and needs a local filesystem "
        "(not NFS); readers no longer block the writer. Still one writer at a time."
    ),
    effort_hours=(0.25, 1.0),
    languages=["rust"],
)

_POOLS = re.compile(r"\b(r2d2_sqlite|SqliteConnectionManager|deadpool_sqlite)\b")


def check_repo(repo: RepoContext) -> Iterator[Hit]:
    files = [
        ctx
        for ctx in repo.in_language("rust")
        if "rusqlite" in ctx.source.text and not syntax.is_test_path(ctx.source.path)
    ]
    if not files:
        return
    every = [ctx for ctx in repo.in_language("rust") if not syntax.is_test_path(ctx.source.path)]
    if any(re.search(r"journal_mode|JournalMode", ctx.source.text, re.I) for ctx in every):
        return  # set (or decided) in code
    opens: list[tuple[FileContext, tree_sitter.Node]] = []
    openers: set[str] = set()  # the repository's own functions that return a connection
    for ctx in files:
        uses = rust.use_paths(ctx.root)
        found = list(rust.rusqlite_opens(ctx.root, uses, ctx.imports, ctx.source.path))
        opens += [(ctx, call) for call in found]
        openers |= rust.connection_openers(ctx.root, found)
    if not opens:
        return
    several = _pool(files) or _per_operation(every, openers)
    if several is None:
        return
    ctx, call = opens[0]
    function = rust.enclosing_function(call)
    yield Hit(
        path=ctx.source.path,
        start_line=syntax.line(call),
        end_line=syntax.end_line(call),
        symbol=rust.rust_symbol(call),
        details={
            "function": rust.rust_function_name(function) if function is not None else "",
            "several": several[0],
            "user": several[1],
            "opens": str(len(opens)),
        },
        severity_reason=f"HIGH: {several[0]}.",
    )


def _pool(files: list[FileContext]) -> tuple[str, str] | None:
    for ctx in files:
        found = _POOLS.search(ctx.source.text)
        if found:
            return (
                f"a connection pool ({found.group(1)}, {ctx.source.path}) hands out several "
                "connections at once",
                "another pooled connection",
            )
    return None


def _per_operation(files: list[FileContext], openers: set[str]) -> tuple[str, str] | None:
    """A connection opened, used and dropped inside an operation that runs concurrently."""
    for ctx in files:
        uses = rust.use_paths(ctx.root)
        for function, call in rust.per_call_opens(ctx.root, uses, openers, ctx.source.path):
            name = rust.rust_function_name(function)
            concurrent = (
                f"{name}() is async" if rust.is_async_fn(function) else None
            ) or evidence.concurrency(ctx)
            if concurrent is not None:
                return (
                    f"{name}() ({ctx.source.path}:{syntax.line(call)}) opens a connection of "
                    f"its own per call, and {concurrent}",
                    f"{name}()",
                )
    return None


def fix(ctx: FileContext, hit: Hit) -> Patch | None:
    """Safe: switch the database to WAL right after the one ``Connection::open`` of the
    repository (its connection factory), where ``?`` on a rusqlite error compiles.

    ``pragma_update_and_check`` rather than ``pragma_update``: the journal_mode PRAGMA
    answers with a row, which ``pragma_update`` rejects (ExecuteReturnedResults) when
    rusqlite is built with its ``extra_check`` feature."""
    if hit.details.get("opens") != "1":
        return None  # several opens: which one runs first (or which database) is not known
    edit = rust_pragma_after_open(ctx, hit, '"journal_mode", "WAL", |_| Ok(())', check=True)
    if edit is None:
        return None
    function = hit.details.get("function") or "the connection factory"
    return Patch(
        safety=PatchSafety.SAFE,
        description=f"set PRAGMA journal_mode=WAL right after Connection::open in {function}() "
        "(persistent: kept in the database file); readers no longer block the writer",
        edits=[edit],
    )


def rust_pragma_after_open(
    ctx: FileContext, hit: Hit, arguments: str, *, check: bool = False
) -> LineEdit | None:
    """``NAME.pragma_update(None, <arguments>)?;`` (``pragma_update_and_check`` with
    ``check``) inserted after ``let NAME = Connection::open(..)?;`` at the hit, when ``?`` on
    a rusqlite error compiles there; else None."""
    uses = rust.use_paths(ctx.root)
    call = next(
        (
            c
            for c in rust.rusqlite_opens(ctx.root, uses, ctx.imports, ctx.source.path)
            if syntax.line(c) == hit.start_line
        ),
        None,
    )
    binding = rust.open_binding(call) if call is not None else None
    if binding is None:
        return None
    statement, name, direct = binding
    if not rust.question_mark_converts(statement, direct, uses):
        return None
    if not rust.ends_its_line(statement, ctx.lines):
        return None
    method = "pragma_update_and_check" if check else "pragma_update"
    return patching.insert_after(ctx, statement, [f"{name}.{method}(None, {arguments})?;"])


RULE = Rule(meta=META, doc=__doc__ or "", check_repo=check_repo, fix=fix)
