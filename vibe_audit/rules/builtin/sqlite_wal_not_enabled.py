"""SQLite connections opened, WAL never enabled anywhere in the repository.

What it finds:
    Code that opens its own SQLite database file (sqlite3.connect, aiosqlite.connect) while
    no file in the audited tree sets ``PRAGMA journal_mode=WAL``. Not its own: ':memory:'
    databases, read-only connections (mode=ro), and files the caller names (a library's or
    driver's parameter, ``self.filename``, forwarded ``**kwargs``): their journal mode is the
    application's choice. A journal mode set from code (``"PRAGMA journal_mode=%s"``, a
    settings key) cannot be read statically and is left to the model. Code that opens its
    transactions with ``BEGIN EXCLUSIVE`` has chosen full serialization: WAL would change
    nothing for it.

    Severity from evidence: HIGH where the code shows concurrency (threads, async tasks, a
    server, workers), MEDIUM where it shows none.

Why it matters:
    SQLite's default rollback journal (DELETE) lets one connection write and blocks every
    reader while it does. Concurrent request handlers and background workers then serialize
    on the database file and fail with "database is locked".

Example:
    conn = sqlite3.connect("app.db")   # journal_mode stays DELETE

Use instead:
    conn = sqlite3.connect("app.db", timeout=5)
    conn.execute("PRAGMA journal_mode=WAL")
"""

from __future__ import annotations

from collections.abc import Iterator

import tree_sitter

from vibe_audit.chunker.parsing import node_text
from vibe_audit.rules import evidence, patching, syntax
from vibe_audit.rules.base import Hit, Rule, RuleMeta
from vibe_audit.rules.context import SQLITE_CONNECT, FileContext, RepoContext
from vibe_audit.schemas import Confidence, LineEdit, Patch, PatchSafety, Severity

META = RuleMeta(
    id="sqlite-wal-not-enabled",
    title="SQLite used without WAL journal mode",
    severity=Severity.HIGH,
    confidence=Confidence.HIGH,
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
        "{count} SQLite connection site(s) open the database, and no file sets "
        "PRAGMA journal_mode=WAL, so the default DELETE journal is in use. In that mode a "
        "writer locks out every reader and every other writer for the whole transaction."
    ),
    scenario=(
        "Concurrent requests or workers each open a connection (as {symbol} does) and "
        "write; while one commits, the others wait for the busy timeout and then fail with "
        "'sqlite3.OperationalError: database is locked'."
    ),
    impact=(
        "With 10+ concurrent writers, a share of requests fails with 'database is locked' and "
        "read latency spikes while writes commit."
    ),
    how_to_verify=(
        'Run `sqlite3 <your.db> "PRAGMA journal_mode;"` (prints "delete"); then run 10 threads '
        "writing concurrently and count OperationalError."
    ),
    fix=(
        "In the connection factory ({symbol}), right after connecting:\n"
        '    conn.execute("PRAGMA busy_timeout=5000")\n'
        '    conn.execute("PRAGMA journal_mode=WAL")  # persistent: set once, kept in the file'
    ),
    trade_off=(
        "WAL adds the -wal and -shm files beside the database and needs a local filesystem "
        "(not NFS); readers no longer block writers. Still one writer at a time. "
        "synchronous stays FULL (as durable as before); synchronous=NORMAL is faster but "
        "can lose the last commits on power loss."
    ),
    effort_hours=(0.5, 1.0),
)


def check_repo(repo: RepoContext) -> Iterator[Hit]:
    facts = repo.facts
    journal = facts.pragma_value("journal_mode")
    if not facts.owned_connect_sites or journal == "wal":
        return
    if journal is None and "journal_mode" in facts.pragma_mentions:
        return  # set from code (a formatted PRAGMA, a settings table): not decidable here
    if any("EXCLUSIVE" in site.text.upper() for site in facts.begin_statements):
        return  # every access takes the exclusive lock by design: WAL would change nothing
    sites = sorted(facts.owned_connect_sites, key=lambda s: (s.path, s.line))
    first = sites[0]
    by_path = {ctx.source.path: ctx for ctx in repo.files}
    concurrent = next(
        (
            reason
            for path in dict.fromkeys(site.path for site in sites)  # each file once, in order
            if (reason := evidence.reaching_concurrency(by_path[path], repo))
        ),
        None,
    )
    yield Hit(
        severity=Severity.HIGH if concurrent else Severity.MEDIUM,
        severity_reason=(
            f"HIGH: concurrent writers are possible: {concurrent}."
            if concurrent
            else "MEDIUM: no threads, async tasks, server or workers seen in the code, so "
            "writers contend only when several processes open the database at once."
        ),
        path=first.path,
        start_line=first.line,
        end_line=first.line,
        symbol=first.symbol,
        details={
            "count": str(len(facts.owned_connect_sites)),
            "symbol": first.symbol or first.path,
            # For the fixer, which sees one file: what the repository sets already.
            "fix_busy_timeout": "set" if "busy_timeout" in facts.pragma_mentions else "",
            "fix_synchronous": (facts.pragma_value("synchronous") or "?")
            if "synchronous" in facts.pragma_mentions
            else "",
        },
    )


def clears(repo: RepoContext) -> list[str]:
    """WAL set by a literal PRAGMA: the WAL items are satisfied."""
    if repo.facts.pragma_value("journal_mode") == "wal":
        return ["sqlite.1A", "sqlite.pragma.1", "concurrency.sqlite_checklist.1"]
    return []


# synchronous values as durable in WAL as in the rollback journal (NORMAL is not: in WAL it
# can lose the last commits on power loss).
_DURABLE_SYNCHRONOUS = frozenset({"", "full", "2", "extra", "3"})


def fix(ctx: FileContext, hit: Hit) -> Patch | None:
    """Safe: in the one connection factory, right after the connect, set busy_timeout (when
    the code sets none: the 5000 ms Python's sqlite3 waits by default) and then
    journal_mode=WAL. Not when several sites open databases, nor where the code lowers
    synchronous (NORMAL in WAL can lose the last commits on power loss)."""
    if hit.details.get("count") != "1":
        return None
    if hit.details.get("fix_synchronous", "") not in _DURABLE_SYNCHRONOUS:
        return None
    call = connect_call(ctx, hit.start_line)
    if call is None:
        return None
    pragmas = ["PRAGMA journal_mode=WAL"]
    timeout = syntax.keyword_value(call, "timeout") is not None or (
        len(syntax.positional_args(call)) > 1
    )
    if not timeout and not hit.details.get("fix_busy_timeout"):
        pragmas.insert(0, "PRAGMA busy_timeout=5000")
    setup = after_connect(ctx, call, pragmas)
    if setup is None:
        return None
    edit, name = setup
    said = " and ".join(f"{p.split()[1]}" for p in pragmas)
    return Patch(
        safety=PatchSafety.SAFE,
        description=f"set {said} on {name} right after {syntax.callee(call)}() "
        "(journal_mode=WAL is kept in the database file; synchronous stays as durable as "
        "before)",
        edits=[edit],
    )


def connect_call(ctx: FileContext, line: int) -> tree_sitter.Node | None:
    """The one sqlite3/aiosqlite connect call on ``line`` of the file."""
    calls = [
        c
        for c in syntax.of_type(ctx.root, "call")
        if syntax.line(c) == line and syntax.callee(c) in SQLITE_CONNECT
    ]
    return calls[0] if len(calls) == 1 else None


def after_connect(
    ctx: FileContext, call: tree_sitter.Node, pragmas: list[str]
) -> tuple[LineEdit, str] | None:
    """The edit that runs ``pragmas`` on a new connection right after ``call`` opens it, and
    the connection's name, for the shapes a connection factory takes:
    ``conn = sqlite3.connect(...)`` (also ``self.conn``, ``await aiosqlite.connect``),
    ``with sqlite3.connect(...) as conn:`` / ``async with aiosqlite.connect(...) as db:``, and
    ``return sqlite3.connect(...)``. None for anything else, and for a connection opened
    with autocommit=False (a transaction is already open: the PRAGMAs would not apply)."""
    keywords = syntax.keyword_names(call)
    autocommit = syntax.keyword_value(call, "autocommit")
    if "**" in keywords or (autocommit is not None and node_text(autocommit) != "True"):
        return None
    aio = syntax.callee(call) == "aiosqlite.connect"
    node = call.parent if call.parent is not None and call.parent.type == "await" else call
    awaited = node is not call
    parent = node.parent
    if parent is None:
        return None
    if parent.type == "assignment" and aio == awaited:
        left, statement = parent.child_by_field_name("left"), parent.parent
        if (
            left is None
            or left.type not in {"identifier", "attribute"}
            or parent.child_by_field_name("right") != node
            or statement is None
            or statement.type != "expression_statement"
            or statement.parent is None
            or statement.parent.type not in {"block", "module"}
            or not patching.whole_lines(ctx, statement)
        ):
            return None
        name = node_text(left)
        run = "await " if aio else ""
        lines = [f'{run}{name}.execute("{p}")' for p in pragmas]
        return patching.insert_after(ctx, statement, lines), name
    if parent.type == "as_pattern" and not awaited:
        return _in_with(ctx, parent, aio, pragmas)
    if parent.type == "return_statement" and not aio and patching.whole_lines(ctx, parent):
        function = syntax.enclosing(parent, "function_definition")
        if function is None or any(
            node_text(n) == "conn" for n in syntax.of_type(function, "identifier")
        ):
            return None
        indent = patching.indent_of(ctx, syntax.line(parent))
        text = f"conn = {node_text(call)}\n"
        text += "".join(f'{indent}conn.execute("{p}")\n' for p in pragmas)
        text += f"{indent}return conn"
        return patching.replace_node(ctx, parent, text), "conn"
    return None


def _in_with(
    ctx: FileContext, pattern: tree_sitter.Node, aio: bool, pragmas: list[str]
) -> tuple[LineEdit, str] | None:
    """``with connect(...) as conn:``: the PRAGMAs become the first lines of its body."""
    alias = pattern.child_by_field_name("alias")
    statement = syntax.enclosing(pattern, "with_statement")
    item = pattern.parent
    if alias is None or statement is None or item is None or item.type != "with_item":
        return None
    names = [n for n in syntax.of_type(alias, "identifier")]
    if len(names) != 1 or node_text(alias).strip() != node_text(names[0]):
        return None
    is_async = any(c.type == "async" for c in statement.children)
    body = statement.child_by_field_name("body")
    if is_async != aio or body is None or not body.named_children:
        return None
    first = body.named_children[0]
    if first.start_point[0] == statement.start_point[0]:
        return None  # with ... as conn: body on the same line
    name = node_text(names[0])
    run = "await " if aio else ""
    lines = [f'{run}{name}.execute("{p}")' for p in pragmas]
    return patching.insert_before_line(ctx, syntax.line(first), lines), name


RULE = Rule(meta=META, doc=__doc__ or "", check_repo=check_repo, clears=clears, fix=fix)
