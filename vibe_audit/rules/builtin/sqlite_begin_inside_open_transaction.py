"""BEGIN on a sqlite3 connection that already has a transaction open in the same function.

What it finds:
    In one function of a file that uses sqlite3/aiosqlite, an executed ``BEGIN`` on a
    connection (or one of its cursors) after an earlier ``BEGIN``, or after an
    ``INSERT/UPDATE/DELETE/REPLACE`` while the connection is in the sqlite3 module's default
    transaction handling, with no ``commit()``/``rollback()``, ``COMMIT``/``ROLLBACK``,
    ``executescript()`` or ``with conn:`` block end in between, on the same path. Repositories
    that set ``isolation_level`` or ``autocommit`` anywhere are only checked for the
    BEGIN-after-BEGIN case.

Why it matters:
    SQLite has no nested transactions: BEGIN inside an open transaction fails with
    "cannot start a transaction within a transaction". The sqlite3 module (and aiosqlite,
    which wraps it) opens a transaction implicitly before the first INSERT/UPDATE/DELETE/
    REPLACE unless ``isolation_level=None`` (or ``autocommit=True``): an explicit BEGIN after
    a write in the same unit of work raises, and the write's transaction stays open, holding
    the write lock until someone commits or closes the connection.

Example:
    conn.execute("INSERT INTO audit_log (event) VALUES (?)", (event,))
    conn.execute("BEGIN IMMEDIATE")   # OperationalError: the INSERT opened a transaction
    conn.execute("UPDATE accounts SET balance = balance - ? WHERE id = ?", (amount, src))
    conn.commit()

Use instead:
    conn.execute("INSERT INTO audit_log (event) VALUES (?)", (event,))
    conn.commit()                       # end the first unit of work
    conn.execute("BEGIN IMMEDIATE")
    ...
    # or a SAVEPOINT for a nested unit: conn.execute("SAVEPOINT transfer") / RELEASE
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import tree_sitter

from vibe_audit.rules import syntax
from vibe_audit.rules.base import Hit, Rule, RuleMeta, node_hit
from vibe_audit.rules.context import FileContext, RepoContext
from vibe_audit.rules.literals import string_constants
from vibe_audit.rules.sql import is_sqlite_file, sql_argument
from vibe_audit.rules.sqltext import WRITE_SQL
from vibe_audit.schemas import Confidence, Severity

META = RuleMeta(
    id="sqlite-begin-inside-open-transaction",
    title="BEGIN inside a transaction that is already open (SQLite has no nesting)",
    severity=Severity.HIGH,
    confidence=Confidence.MEDIUM,
    categories={"sqlite": "Write Contention", "concurrency": "Transaction"},
    checklist=["concurrency.4C"],
    problem=(
        "{function}() runs `{begin}` on `{connection}` after `{opener}` (line {opener_line}) "
        "with no commit or rollback in between: {why}, so the BEGIN fails with 'cannot start "
        "a transaction within a transaction'."
    ),
    scenario=(
        "{function}() reaches `{begin}`: sqlite3 raises OperationalError, the work after it "
        "never runs, and the transaction opened at line {opener_line} stays open with its "
        "write lock until the connection commits or closes; other writers wait on it and "
        "fail with 'database is locked'."
    ),
    impact=(
        "The operation fails every time this path runs, and a transaction left open blocks "
        "every other writer to the database."
    ),
    how_to_verify=(
        "Run {function}() on a test database along the path through line {opener_line}: it "
        "raises 'cannot start a transaction within a transaction' at `{begin}`."
    ),
    fix=(
        "End the first unit of work before the BEGIN (`conn.commit()`), or open the "
        "connection with `isolation_level=None` and manage every transaction explicitly; "
        "for a nested unit of work use `SAVEPOINT name` / `RELEASE name` / `ROLLBACK TO name`."
    ),
    trade_off=(
        "Committing before the BEGIN makes the earlier write durable on its own; if both "
        "must succeed or fail together, move the BEGIN before the first write instead."
    ),
    effort_hours=(0.25, 0.75),
    # No real same-function case found yet (the bug reports are across functions or
    # threads): off by default until the precision corpus shows one.
    experimental=True,
)

_BEGIN = re.compile(r"^\W*BEGIN\b", re.I)
_END = re.compile(r"^\W*(COMMIT|END|ROLLBACK)\b", re.I)
_ENDS = frozenset({"commit", "rollback", "executescript", "close"})


def check_repo(repo: RepoContext) -> Iterator[Hit]:
    implicit = not any(
        "isolation_level" in ctx.source.text or "autocommit" in ctx.source.text
        for ctx in repo.in_language("python")
    )
    for ctx in repo.in_language("python"):
        if not is_sqlite_file(ctx) or "BEGIN" not in ctx.source.text.upper():
            continue
        constants = string_constants(ctx.root)
        for function in syntax.functions(ctx.root):
            yield from _check(ctx, function, constants | string_constants(function), implicit)


def _check(
    ctx: FileContext, function: tree_sitter.Node, constants: dict[str, str], implicit: bool
) -> Iterator[Hit]:
    open_by: dict[str, tuple[tree_sitter.Node, str]] = {}
    for call in syntax.own_calls(function):
        name = syntax.callee(call)
        if "." not in name:
            continue
        if syntax.last_name(name) in _ENDS:
            open_by.clear()
            continue
        sql = sql_argument(call, constants)
        if sql is None:
            continue
        receiver = _connection(name)
        if _END.match(sql):
            open_by.clear()
        elif _BEGIN.match(sql):
            opened = open_by.get(receiver)
            if opened is not None and _same_path(opened[0], call):
                yield _hit(ctx, function, call, sql, receiver, opened)
            open_by[receiver] = (call, sql.strip())
        elif implicit and WRITE_SQL.match(sql) and receiver not in open_by:
            open_by[receiver] = (call, sql.strip())


def _connection(callee: str) -> str:
    """The connection a call runs on: ``self.db.cursor().execute`` -> ``self.db``."""
    receiver = callee.rsplit(".", 1)[0]
    return receiver.removesuffix(".cursor()")


def _same_path(opener: tree_sitter.Node, begin: tree_sitter.Node) -> bool:
    """The opener runs on every path to the BEGIN: it is in no block (of a branch, loop,
    ``try`` or ``with``) that the BEGIN is not also in; a ``with conn:`` block commits at its
    end."""
    shared = {a.id for a in _ancestors(begin)}
    return not any(a.type == "block" and a.id not in shared for a in _ancestors(opener))


def _ancestors(node: tree_sitter.Node) -> Iterator[tree_sitter.Node]:
    current = node.parent
    while current is not None and current.type != "function_definition":
        yield current
        current = current.parent


def _hit(
    ctx: FileContext,
    function: tree_sitter.Node,
    begin: tree_sitter.Node,
    sql: str,
    receiver: str,
    opened: tuple[tree_sitter.Node, str],
) -> Hit:
    opener, opener_sql = opened
    first_line = opener_sql.splitlines()[0] if opener_sql else opener_sql
    why = (
        "a transaction begun there is still open"
        if _BEGIN.match(opener_sql)
        else "the sqlite3 module opened a transaction implicitly before that write"
    )
    return node_hit(
        ctx,
        begin,
        named_by=function,
        details={
            "function": syntax.function_name(function),
            "begin": sql.strip(),
            "connection": receiver,
            "opener": first_line[:60] + ("..." if len(first_line) > 60 else ""),
            "opener_line": str(syntax.line(opener)),
            "why": why,
        },
    )


RULE = Rule(meta=META, doc=__doc__ or "", check_repo=check_repo)
