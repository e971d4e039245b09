"""Explicit deferred BEGIN, then a read, then a write: the lock upgrade fails with BUSY.

What it finds:
    In one function of a file that uses sqlite3/aiosqlite: an executed ``BEGIN`` or
    ``BEGIN DEFERRED`` (not IMMEDIATE/EXCLUSIVE), then a ``SELECT``, then an
    ``INSERT/UPDATE/DELETE/REPLACE``, with no COMMIT or ROLLBACK in between.

    Implicit transactions of the sqlite3 module are not flagged: it opens them before the
    first write, not before reads.

Why it matters:
    A deferred transaction takes a read lock at the SELECT and tries to upgrade it to a
    write lock at the first write. If another connection has written meanwhile (or holds
    the write lock), SQLite cannot wait for it without deadlocking, so it returns
    SQLITE_BUSY at once: busy_timeout does not apply. The whole transaction must be
    retried, and code that expects the timeout to protect it fails with "database is locked".

Example:
    conn.execute("BEGIN")
    row = conn.execute("SELECT balance FROM accounts WHERE id = ?", (a,)).fetchone()
    conn.execute("UPDATE accounts SET balance = ? WHERE id = ?", (row[0] - x, a))

Use instead:
    conn.execute("BEGIN IMMEDIATE")   # takes the write lock up front; waits busy_timeout
    row = conn.execute("SELECT ...").fetchone()
    conn.execute("UPDATE ...")
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import tree_sitter

from vibe_audit.chunker.parsing import node_text
from vibe_audit.rules import patching, syntax
from vibe_audit.rules.base import Hit, Rule, RuleMeta, node_hit
from vibe_audit.rules.context import FileContext
from vibe_audit.rules.literals import string_constants
from vibe_audit.rules.sql import is_sqlite_file, sql_argument
from vibe_audit.rules.sqltext import SELECT_SQL, WRITE_SQL
from vibe_audit.schemas import Confidence, Patch, PatchSafety, Severity

META = RuleMeta(
    id="sqlite-deferred-transaction-upgrade",
    title="Deferred transaction reads then writes (lock upgrade fails with SQLITE_BUSY)",
    severity=Severity.HIGH,
    confidence=Confidence.HIGH,
    categories={"sqlite": "Write Contention", "concurrency": "Transaction"},
    checklist=["sqlite.3A", "sqlite.3C", "concurrency.1A", "concurrency.4D"],
    problem=(
        "{function}() starts a deferred transaction (`{begin}`), reads, then writes. The write "
        "must upgrade a read lock to a write lock, and when another connection wrote in "
        "between SQLite returns SQLITE_BUSY immediately, ignoring busy_timeout."
    ),
    scenario=(
        "Two workers run {function}() at the same time: both BEGIN and SELECT, one writes "
        "and commits, the other's UPDATE fails at once with 'database is locked' although a "
        "5-second busy timeout is configured."
    ),
    impact=(
        "Failed transactions under even light concurrency, which look like lock timeouts "
        "but are not fixed by raising the timeout; without a retry the write is lost."
    ),
    how_to_verify=(
        "Run {function}() from two threads in a loop with a barrier after the SELECT: one of "
        "them fails with 'database is locked' without waiting."
    ),
    fix=(
        'Start the transaction with `conn.execute("BEGIN IMMEDIATE")` so the write lock is '
        "taken (and waited for, up to busy_timeout) before the read; keep the same "
        "commit/rollback points. With the sqlite3 module this needs a connection in autocommit "
        "mode (isolation_level=None, or autocommit=True on 3.12+): otherwise the module has "
        "already opened a deferred transaction and BEGIN fails with 'cannot start a "
        "transaction within a transaction'."
    ),
    trade_off=(
        "BEGIN IMMEDIATE serializes these transactions from their start, so keep the read "
        "inside it short; pure readers should keep using deferred transactions."
    ),
    effort_hours=(0.25, 0.75),
    needs_concurrency=True,
)

_DEFERRED = re.compile(r"^\W*BEGIN(\s+DEFERRED)?(\s+TRANSACTION)?\W*$", re.I)
_END = re.compile(r"^\W*(COMMIT|END|ROLLBACK)\b", re.I)


def check_file(ctx: FileContext) -> Iterator[Hit]:
    if not is_sqlite_file(ctx) or "BEGIN" not in ctx.source.text.upper():
        return
    constants = string_constants(ctx.root)
    for function in syntax.functions(ctx.root):
        hit = _upgrade(function, constants | string_constants(function))
        if hit is None:
            continue
        begin, text = hit
        yield node_hit(
            ctx,
            begin,
            named_by=function,
            details={"function": syntax.function_name(function), "begin": text},
        )


def _upgrade(
    function: tree_sitter.Node, constants: dict[str, str]
) -> tuple[tree_sitter.Node, str] | None:
    """The deferred BEGIN call of a begin-read-write sequence in the function, if any."""
    begin: tree_sitter.Node | None = None
    begin_text = ""
    read = False
    for call in syntax.own_calls(function):
        if syntax.last_name(syntax.callee(call)) in {"commit", "rollback"}:
            if begin is not None and not _conditional(call, begin):
                begin, read = None, False
            continue
        sql = sql_argument(call, constants)
        if sql is None:
            continue
        if _DEFERRED.match(sql):
            begin, begin_text, read = call, sql.strip(), False
        elif begin is None:
            continue
        elif _END.match(sql) or re.match(r"^\W*BEGIN\b", sql, re.I):
            if not _conditional(call, begin):
                begin, read = None, False
        elif SELECT_SQL.match(sql):
            read = True
        elif WRITE_SQL.match(sql):
            if read:
                return begin, begin_text
            begin = None  # wrote first: the write lock is already held, no upgrade later
    return None


_BRANCHES = frozenset({"if_statement", "elif_clause", "else_clause", "except_clause"})


def _conditional(end: tree_sitter.Node, begin: tree_sitter.Node) -> bool:
    """An end of transaction in a branch the BEGIN is not in (``if bad: ROLLBACK; return``):
    the main path still continues the transaction."""
    shared = {a.id for a in _ancestors(begin)}
    return any(a.type in _BRANCHES and a.id not in shared for a in _ancestors(end))


def _ancestors(node: tree_sitter.Node) -> Iterator[tree_sitter.Node]:
    current = node.parent
    while current is not None and current.type != "function_definition":
        yield current
        current = current.parent


_BEGIN_WORDS = re.compile(r"\bBEGIN(\s+DEFERRED)?\b", re.I)


def fix(ctx: FileContext, hit: Hit) -> Patch | None:
    """Safe: the deferred ``BEGIN`` literal becomes ``BEGIN IMMEDIATE``, as the fix says; the
    commit/rollback points stay. The code already runs an explicit BEGIN, so the connection
    is in the autocommit mode BEGIN IMMEDIATE needs. Only a literal in the call itself (a
    shared constant would change other transactions too)."""
    constants = string_constants(ctx.root)
    for function in syntax.functions(ctx.root):
        found = _upgrade(function, constants | string_constants(function))
        if found is None or syntax.line(found[0]) != hit.start_line:
            continue
        arguments = found[0].child_by_field_name("arguments")
        first = arguments.named_children[0] if arguments and arguments.named_children else None
        if first is None or first.type != "string" or syntax.string_value(first) is None:
            return None
        text = node_text(first)
        words = list(_BEGIN_WORDS.finditer(text))
        if len(words) != 1:
            return None
        old = words[0].group(0)
        new = "begin immediate" if old.islower() else "BEGIN IMMEDIATE"
        start, end = words[0].span()
        edit = patching.replace_node(ctx, first, text[:start] + new + text[end:])
        return Patch(
            safety=PatchSafety.SAFE,
            description=f"{old} becomes {new} in {syntax.function_name(function)}(): the write "
            "lock is taken (waiting up to busy_timeout) before the read, so the later write "
            "never fails to upgrade; commit and rollback stay where they are",
            edits=[edit],
        )
    return None


RULE = Rule(meta=META, doc=__doc__ or "", check_file=check_file, fix=fix)
