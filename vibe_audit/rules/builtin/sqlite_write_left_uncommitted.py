"""SQLite write left in an open transaction, where every sibling writer commits its own.

What it finds:
    A function in a sqlite3 / aiosqlite module that executes an INSERT / UPDATE / DELETE /
    REPLACE and neither commits nor rolls back, runs it in no ``with conn:`` block and no
    explicit BEGIN ... COMMIT, while at least three other functions of the same file that
    write do commit their own writes (the module's convention is one transaction per
    function), and no function of the repository that calls it commits after the call.
    Connections opened in autocommit mode (``isolation_level=None``, ``autocommit=True``)
    anywhere in the repository silence it.

Why it matters:
    Python's sqlite3 opens a transaction implicitly before a DML statement and keeps it open
    until ``commit()``. A write that is not committed holds SQLite's write lock (RESERVED)
    for as long as the connection goes on without a commit: every other writer waits for the
    busy timeout and then fails with "database is locked". The write also becomes part of
    whatever commits next on that connection, or is silently lost when the connection is
    rolled back or closed (a pool that rolls back on release, a crash).

Example:
    def set_stage(conn, job_id, stage):
        conn.execute("UPDATE jobs SET stage = ? WHERE id = ?", (stage, job_id))
        # no commit: the write lock stays held while the caller works for minutes

Use instead:
    def set_stage(conn, job_id, stage):
        with conn:  # commits (or rolls back) right here
            conn.execute("UPDATE jobs SET stage = ? WHERE id = ?", (stage, job_id))
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import tree_sitter

from vibe_audit.rules import syntax
from vibe_audit.rules.base import Hit, Rule, RuleMeta, node_hit
from vibe_audit.rules.context import RepoContext, resolved_call
from vibe_audit.rules.sql import SqlCall, is_sqlite_file, sql_calls
from vibe_audit.schemas import Confidence, Severity

META = RuleMeta(
    id="sqlite-write-left-uncommitted",
    title="SQLite write left in an open transaction (no commit where sibling writers commit)",
    severity=Severity.HIGH,
    confidence=Confidence.MEDIUM,
    categories={"sqlite": "Write Contention", "concurrency": "Transaction"},
    checklist=["sqlite.3B", "sqlite.3C", "concurrency.4B"],
    problem=(
        "{function}() runs `{statement}` and does not commit, while {siblings} in "
        "{file} commit their own writes; no caller of {function}() commits after it either. "
        "The implicit transaction stays open, holding the database's write lock."
    ),
    scenario=(
        "After {function}() returns, the connection keeps its transaction open while the "
        "caller goes on working; other connections that try to write wait for the busy "
        "timeout and fail with 'database is locked', and the {verb} is only committed by "
        "whatever commits next on this connection, or lost if it is rolled back or closed."
    ),
    impact=(
        "Intermittent 'database is locked' errors for every other writer while the caller "
        "runs, and a write that is committed late, together with unrelated changes, or not "
        "at all."
    ),
    how_to_verify=(
        "Call {function}() and, before anything else commits on that connection, check "
        "`conn.in_transaction` (True), or try a write from a second connection: it waits "
        "and fails with 'database is locked'."
    ),
    fix=(
        "Commit in {function}() like its sibling writers (`with conn:` around the "
        "statement), or make it part of its caller's transaction and commit there right "
        "after the call."
    ),
    trade_off="One more commit (an fsync in WAL mode with synchronous=FULL) per call.",
    effort_hours=(0.1, 0.5),
    needs_concurrency=True,
)

_MIN_SIBLINGS = 3
_AUTOCOMMIT = re.compile(r"isolation_level\s*=\s*None|autocommit\s*=\s*True")
_ENDS_TRANSACTION = re.compile(r"\bCOMMIT\b|\bEND\b|\bROLLBACK\b|\bBEGIN\b", re.I)
_WRITE_VERBS = frozenset({"INSERT", "UPDATE", "DELETE", "REPLACE"})


def check_repo(repo: RepoContext) -> Iterator[Hit]:
    files = [ctx for ctx in repo.in_language("python") if is_sqlite_file(ctx)]
    if not files or any(_AUTOCOMMIT.search(ctx.source.text) for ctx in repo.files):
        return
    candidates = []
    for ctx in files:
        writers: list[tuple[tree_sitter.Node, SqlCall, bool]] = []
        for function in syntax.functions(ctx.root):
            writes = [c for c in sql_calls(function) if c.verb in _WRITE_VERBS]
            if writes:
                ends = _ends_transaction(function) or all(
                    _in_with_block(w.call, function) for w in writes
                )
                writers.append((function, writes[0], ends))
        committing = [syntax.function_name(f) for f, _, ends in writers if ends]
        if len(committing) < _MIN_SIBLINGS:
            continue
        for function, write, ends in writers:
            if not ends:
                candidates.append((ctx, function, write, committing))
    if not candidates:
        return
    committed_after = _committed_after_call(repo)
    for ctx, function, write, committing in candidates:
        name = syntax.function_name(function)
        if name in committed_after or name.startswith("__"):
            continue
        shown = ", ".join(f"{n}()" for n in committing[:3])
        yield node_hit(
            ctx,
            write.call,
            named_by=function,
            details={
                "function": name,
                "statement": " ".join(write.sql.split())[:80],
                "siblings": shown + (" and others" if len(committing) > 3 else ""),
                "verb": write.verb,
            },
        )


def _ends_transaction(function: tree_sitter.Node) -> bool:
    """The function commits or rolls back: a call, or COMMIT / BEGIN / ROLLBACK in its SQL."""
    for call in syntax.body_nodes(function, "call"):
        short = syntax.last_name(syntax.callee(call))
        if short in {"commit", "rollback", "executescript"}:
            return True
        args = syntax.positional_args(call)
        if short in {"execute", "exec_driver_sql"} and args:
            text = syntax.string_value(args[0]) or ""
            if _ENDS_TRANSACTION.match(text.strip()):
                return True
    return False


def _in_with_block(call: tree_sitter.Node, function: tree_sitter.Node) -> bool:
    """The statement runs inside a ``with`` block of the function (``with conn:``, a
    transaction context manager, a helper that commits on exit)."""
    node = call.parent
    while node is not None and node.id != function.id:
        if node.type == "with_statement":
            return True
        node = node.parent
    return False


def _committed_after_call(repo: RepoContext) -> set[str]:
    """Functions some caller in the repository commits after calling, or calls from inside
    a ``with`` block: the caller owns the transaction."""
    owned: set[str] = set()
    for ctx in repo.in_language("python"):
        if "commit" not in ctx.source.text and "with " not in ctx.source.text:
            continue
        for function in syntax.functions(ctx.root):
            calls = syntax.own_calls(function)
            commits = [
                c.start_byte
                for c in calls
                if syntax.last_name(syntax.callee(c)) in {"commit", "rollback"}
            ]
            for call in calls:
                target = resolved_call(syntax.callee(call), ctx) or syntax.last_name(
                    syntax.callee(call)
                )
                if any(byte > call.start_byte for byte in commits) or _in_with_block(
                    call, function
                ):
                    owned.add(target)
    return owned


RULE = Rule(meta=META, doc=__doc__ or "", check_repo=check_repo)
