"""A write not yet committed, read back through another connection in the same function.

What it finds:
    A Python function that writes a table on one connection (INSERT / UPDATE / DELETE /
    REPLACE through ``conn.execute(...)``) and then, before any ``commit()``, opens a second
    connection (``sqlite3.connect(...)`` / ``aiosqlite.connect(...)``, assigned or in a
    ``with`` / ``async with``) and SELECTs from the same table on it. Python's sqlite3 keeps
    the write in an implicit, still open transaction, which the second connection cannot
    see. Files that open connections in autocommit mode (``isolation_level=None``,
    ``autocommit=True``) are skipped, and so is a write inside a ``with conn:`` block that
    ends before the read (it is committed by then).

Why it matters:
    The second connection reads the last committed state: the row just inserted is
    missing, the update is not there yet. The function then acts on stale data (reports
    "not found", recomputes from the old values, validates against the old row), and the
    writer's transaction also keeps the write lock, so a write through the second
    connection waits and fails with "database is locked".

Example:
    conn.execute("INSERT INTO jobs (id, name) VALUES (?, ?)", (job_id, name))
    with sqlite3.connect(DB_PATH) as check:
        row = check.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
        # row is None: the insert is not committed

Use instead:
    conn.execute("INSERT INTO jobs (id, name) VALUES (?, ?)", (job_id, name))
    conn.commit()   # or read through the same connection, or use RETURNING
    with sqlite3.connect(DB_PATH) as check:
        row = check.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import tree_sitter

from vibe_audit.chunker.parsing import node_text
from vibe_audit.rules import pytxn_util as tx
from vibe_audit.rules import syntax
from vibe_audit.rules.base import Hit, Rule, RuleMeta, node_hit
from vibe_audit.rules.context import FileContext, RepoContext
from vibe_audit.rules.sql import is_sqlite_file
from vibe_audit.schemas import Confidence, Severity

META = RuleMeta(
    id="sqlite-read-through-other-connection-before-commit",
    title="Uncommitted write read back through another connection",
    severity=Severity.MEDIUM,
    confidence=Confidence.MEDIUM,
    categories={"concurrency": "SQLite"},
    checklist=["concurrency.1C"],
    problem=(
        "{function}() writes {table} (`{write}`) without committing, then reads {table} "
        "through a second connection ({connection}, line {read_line}): that connection "
        "cannot see the uncommitted write."
    ),
    scenario=(
        "The SELECT on the second connection returns the state before the {verb}: the "
        "function acts on a missing or stale row, and a write through the second "
        "connection would wait on the first one's lock and fail with 'database is locked'."
    ),
    impact="Logic that silently works on stale data, or 'database is locked' errors.",
    how_to_verify=(
        "Call {function}() and log what the second connection's SELECT returns: it does "
        "not contain the {verb}."
    ),
    fix=(
        "Commit the write before reading through another connection (`conn.commit()` or a "
        "`with conn:` block that ends before), or read through the same connection."
    ),
    trade_off="An earlier commit ends the transaction: later writes are no longer atomic with it.",
    effort_hours=(0.1, 0.5),
    experimental=True,
)

_CONNECT = frozenset({"sqlite3.connect", "aiosqlite.connect"})
_AUTOCOMMIT = re.compile(r"isolation_level\s*=\s*None|autocommit\s*=\s*True")


def check_repo(repo: RepoContext) -> Iterator[Hit]:
    for ctx in repo.in_language("python"):
        if not is_sqlite_file(ctx) or syntax.is_test_path(ctx.source.path):
            continue
        if _AUTOCOMMIT.search(ctx.source.text):
            continue
        for function in syntax.functions(ctx.root):
            hit = _check_function(ctx, function)
            if hit is not None:
                yield hit


def _check_function(ctx: FileContext, function: tree_sitter.Node) -> Hit | None:
    opened = _opened_connections(function)
    if not opened:
        return None
    stmts = tx.statements(function, tx.constants_of(ctx, function))
    commit_calls = tx.commits(function)
    blocks = tx.transaction_blocks(function)
    for write in (s for s in stmts if tx.is_write(s)):
        for read in stmts:
            if read.verb != "SELECT" or read.table != write.table:
                continue
            if read.call.start_byte < write.call.end_byte or tx.exclusive(write.call, read.call):
                continue
            base = read.receiver.split(".")[0]
            opening = opened.get(base)
            if opening is None or opening.start_byte < write.call.end_byte:
                continue  # not a connection opened after the write
            if base == write.receiver.split(".")[0]:
                continue
            if any(
                write.call.end_byte <= c.start_byte <= read.call.start_byte for c in commit_calls
            ):
                continue
            if any(tx.inside(write.call, b) and not tx.inside(read.call, b) for b in blocks):
                continue
            return node_hit(
                ctx,
                write.call,
                until=read.call,
                named_by=function,
                details={
                    "function": syntax.function_name(function),
                    "table": write.table,
                    "write": tx.short_sql(write.sql, 60),
                    "verb": write.verb,
                    "connection": " ".join(node_text(opening).split())[:50],
                    "read_line": str(syntax.line(read.call)),
                },
            )
    return None


def _opened_connections(function: tree_sitter.Node) -> dict[str, tree_sitter.Node]:
    """Names bound in the function to a new sqlite3 / aiosqlite connection, with the node
    that opens it."""
    found: dict[str, tree_sitter.Node] = {}
    for call in syntax.body_nodes(function, "call"):
        if syntax.callee(call) not in _CONNECT:
            continue
        parent = call.parent
        if parent is not None and parent.type == "await":
            parent = parent.parent
        if parent is not None and parent.type == "assignment":
            left = parent.child_by_field_name("left")
            if left is not None and left.type == "identifier":
                found[node_text(left)] = call
        elif parent is not None and parent.type == "as_pattern":
            target = parent.child_by_field_name("alias") or (
                parent.named_children[-1] if parent.named_children else None
            )
            if target is not None:
                found[node_text(target).strip()] = call
    return found


RULE = Rule(meta=META, doc=__doc__ or "", check_repo=check_repo)
