"""Status checked in one function, then set by a helper whose UPDATE does not re-check it.

What it finds:
    A function that tests a ``status`` / ``state`` value in an ``if`` and afterwards calls a
    function (often in another file, a repository or data-access module) whose ``UPDATE
    <table> SET status = ...`` has no status condition in its WHERE clause, with no row lock
    (``FOR UPDATE``, ``BEGIN IMMEDIATE``) in either. A repository-level rule: the writers of
    each table come from the resource index (``vibe-audit index``), the exact statement from
    the writer's own code.

Why it matters:
    The check and the write are in different functions, so neither looks wrong alone. Between
    them another request or a worker can change the row: a job completed meanwhile is
    overwritten to "cancelled", or two retries both pass the check and both start it again.

Example:
    # api.py
    if job.status not in ("queued", "running"):
        raise HTTPException(409)
    repository.set_job_status(conn, job_id, "cancelled")
    # repository.py
    conn.execute("UPDATE jobs SET status = ? WHERE id = ?", (status, job_id))

Use instead:
    # repository.py: the transition is checked by the database, atomically
    cur = conn.execute(
        "UPDATE jobs SET status = 'cancelled' WHERE id = ? AND status IN ('queued', 'running')",
        (job_id,),
    )
    return cur.rowcount == 1  # the caller answers 409 when it is False
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import tree_sitter

from vibe_audit.chunker.parsing import node_text
from vibe_audit.rules import syntax
from vibe_audit.rules.base import Hit, Rule, RuleMeta, node_hit
from vibe_audit.rules.context import FileContext, RepoContext
from vibe_audit.rules.sql import SqlCall, sql_calls
from vibe_audit.rules.sqltext import LOCKS_ROWS, SETS_STATUS, STATUS_WORD, where_clause
from vibe_audit.schemas import Confidence, Severity

META = RuleMeta(
    id="status-check-then-act-across-functions",
    title="Status checked in one function, then set by a helper without a WHERE guard",
    severity=Severity.HIGH,
    confidence=Confidence.MEDIUM,
    categories={
        "concurrency": "Race Condition",
        "guardrails": "Row Locking",
        "checkpoint": "Concurrency",
    },
    checklist=[
        "concurrency.3A",
        "concurrency.3B",
        "guardrails.2A",
        "guardrails.1B",
        "checkpoint.6D",
    ],
    problem=(
        "{function}() checks a {column} in code, then calls {helper}() ({writer}), whose "
        "`{update}` does not re-check {column} in its WHERE clause. The check and the write "
        "are not atomic: the row can change in between."
    ),
    scenario=(
        "A worker changes the row between the check in {function}() and the UPDATE in "
        "{helper}(): the stale decision overwrites the newer {column} (a completed job "
        "becomes cancelled), or two concurrent callers both pass the check and both act."
    ),
    impact=(
        "Lost or impossible state transitions and duplicate processing under concurrent "
        "calls; the row ends in a state no single request chose."
    ),
    how_to_verify=(
        "Pause {function}() after its check (a breakpoint or a sleep), change {column} from "
        "another connection, resume: {helper}() overwrites it without noticing."
    ),
    fix=(
        "Put the expected state into the UPDATE and use its row count:\n"
        "    UPDATE {table} SET {column} = <new> WHERE id = ? AND {column} IN (<expected>)\n"
        "let {helper}() return cursor.rowcount == 1, and have {function}() act on that "
        "instead of on its earlier read."
    ),
    trade_off=(
        "The helper's signature grows an expected-state argument (or one helper per "
        "transition); callers must handle 'no row updated'."
    ),
    effort_hours=(0.5, 2.0),
    needs_concurrency=True,
)


@dataclass(frozen=True)
class _Writer:
    name: str
    table: str
    column: str
    update: SqlCall
    where: str  # path:line of the UPDATE


def check_repo(repo: RepoContext) -> Iterator[Hit]:
    python = {ctx.source.path: ctx for ctx in repo.in_language("python")}
    if not any(STATUS_WORD.search(ctx.source.text) for ctx in python.values()):
        return
    writers = _unguarded_writers(repo, python)
    if not writers:
        return
    for ctx in python.values():
        if not STATUS_WORD.search(ctx.source.text):
            continue
        for function in syntax.functions(ctx.root):
            hit = _check_then_call(ctx, function, writers)
            if hit is not None:
                yield hit


def _unguarded_writers(repo: RepoContext, python: dict[str, FileContext]) -> dict[str, _Writer]:
    """Functions (by bare name) that set a status column with an UPDATE whose WHERE clause
    does not test it: the index says who writes which table, the writer's code says how."""
    found: dict[str, _Writer] = {}
    for table in repo.resources.of_kind("sql-table"):
        for access in table.writers:
            ctx = python.get(access.path)
            if ctx is None or access.symbol is None or "UPDATE" not in access.operations:
                continue
            function = _function(ctx, access.symbol)
            if function is None or LOCKS_ROWS.search(node_text(function)):
                continue
            for call in sql_calls(function):
                setting = SETS_STATUS.search(call.sql) if call.verb == "UPDATE" else None
                if setting is None or call.table != table.name.lower():
                    continue
                if STATUS_WORD.search(where_clause(call.sql)):
                    continue
                name = access.symbol.split(".")[-1]
                found[name] = _Writer(
                    name, call.table, setting.group(1).lower(), call,
                    f"{access.path}:{syntax.line(call.call)}",
                )  # fmt: skip
    return found


def _function(ctx: FileContext, symbol: str) -> tree_sitter.Node | None:
    return next((f for f in syntax.functions(ctx.root) if syntax.qualified_name(f) == symbol), None)


def _check_then_call(
    ctx: FileContext, function: tree_sitter.Node, writers: dict[str, _Writer]
) -> Hit | None:
    own = syntax.function_name(function)
    if own in writers or LOCKS_ROWS.search(node_text(function)):
        return None
    checks = [  # the conditions that test a status
        condition
        for n in syntax.body_nodes(function, "if_statement")
        if (condition := n.child_by_field_name("condition")) is not None
        and STATUS_WORD.search(node_text(condition))
    ]
    if not checks:
        return None
    for call in syntax.body_nodes(function, "call"):
        writer = writers.get(syntax.last_name(syntax.callee(call)))
        if writer is None:
            continue
        check = next((c for c in checks if c.end_byte <= call.start_byte), None)
        if check is None:
            continue
        return node_hit(
            ctx,
            check,
            until=call,
            named_by=call,
            details={
                "function": own,
                "helper": writer.name,
                "writer": writer.where,
                "table": writer.table,
                "column": writer.column,
                "update": " ".join(writer.update.sql.split()),
            },
        )
    return None


RULE = Rule(meta=META, doc=__doc__ or "", check_repo=check_repo)
