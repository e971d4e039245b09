"""Status read, checked in Python, then updated without a guard in the WHERE clause.

What it finds:
    A function that SELECTs a ``status`` / ``state`` column, tests it in an ``if``, and then
    runs ``UPDATE <same table> SET status = ...`` whose WHERE clause does not mention the
    status, with no row lock (``FOR UPDATE``, ``BEGIN IMMEDIATE``/``EXCLUSIVE``) in between.

Why it matters:
    Between the SELECT and the UPDATE another request or worker can change the row. Both
    callers see "failed", both set "pending", both start processing: a check-then-act race.
    The database can make the transition atomic; Python cannot.

Example:
    row = conn.execute("SELECT status FROM jobs WHERE id = ?", (job_id,)).fetchone()
    if row["status"] == "failed":
        conn.execute("UPDATE jobs SET status = 'pending' WHERE id = ?", (job_id,))

Use instead:
    cur = conn.execute(
        "UPDATE jobs SET status = 'pending' WHERE id = ? AND status = 'failed'", (job_id,)
    )
    if cur.rowcount == 0:
        ...  # someone else got there first, or the job is not failed
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from vibe_audit.chunker.parsing import node_text
from vibe_audit.rules import syntax
from vibe_audit.rules.base import Hit, Rule, RuleMeta, node_hit
from vibe_audit.rules.context import FileContext
from vibe_audit.rules.sql import sql_calls
from vibe_audit.rules.sqltext import LOCKS_ROWS, SETS_STATUS, STATUS_WORD, where_clause
from vibe_audit.schemas import Confidence, Severity

META = RuleMeta(
    id="status-check-then-act",
    title="Status checked in code, then updated without a WHERE guard (check-then-act race)",
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
        "{function}() reads {column} from {table}, decides in code, then runs "
        "`{update}` whose WHERE clause does not re-check {column}. Nothing stops the row "
        "from changing between the read and the write."
    ),
    scenario=(
        "Two requests (or a request and a worker) run {function}() for the same row at once: "
        "both read the old {column}, both pass the check, both update it, and the follow-up "
        "work (processing, notification, charge) runs twice."
    ),
    impact=(
        "Duplicate processing and lost transitions under concurrent calls; a terminal state "
        "can be overwritten by a stale decision."
    ),
    how_to_verify=(
        "Call {function}() twice concurrently for one row (two threads with a barrier after "
        "the SELECT) and count how many callers take the branch: both do."
    ),
    fix=(
        "Move the check into the UPDATE and use its row count:\n"
        "    UPDATE {table} SET {column} = <new> WHERE id = ? AND {column} = <expected>\n"
        "and act only when cursor.rowcount == 1 (or UPDATE ... RETURNING)."
    ),
    trade_off=(
        "Callers must handle 'no row updated' (someone else won); the logic moves partly into SQL."
    ),
    effort_hours=(0.5, 1.5),
    needs_concurrency=True,
)


def check_file(ctx: FileContext) -> Iterator[Hit]:
    text = ctx.source.text
    if "UPDATE" not in text.upper() or not STATUS_WORD.search(text):
        return
    for function in syntax.functions(ctx.root):
        if LOCKS_ROWS.search(node_text(function)):
            continue
        calls = sql_calls(function)
        reads = {
            c.table: c for c in calls if c.verb == "SELECT" and STATUS_WORD.search(_selected(c.sql))
        }
        if not reads:
            continue
        checks = [
            n
            for n in syntax.body_nodes(function, "if_statement")
            if (condition := n.child_by_field_name("condition")) is not None
            and STATUS_WORD.search(node_text(condition))
        ]
        for update in calls:
            setting = SETS_STATUS.search(update.sql) if update.verb == "UPDATE" else None
            read = reads.get(update.table)
            if setting is None or read is None:
                continue
            if STATUS_WORD.search(where_clause(update.sql)):
                continue  # the transition is guarded in SQL
            check = next(
                (c for c in checks if read.call.start_byte < c.start_byte < update.call.start_byte),
                None,
            )
            if check is None:
                continue
            yield node_hit(
                ctx,
                check,
                until=update.call,
                named_by=update.call,
                details={
                    "function": syntax.function_name(function),
                    "table": update.table,
                    "column": setting.group(1).lower(),
                    "update": " ".join(update.sql.split()),
                },
            )
            break  # one finding per function


def _selected(sql: str) -> str:
    """The column list of a SELECT ('*' counts as every column)."""
    columns = re.split(r"\bFROM\b", sql, maxsplit=1, flags=re.I)[0]
    return "status" if "*" in columns else columns


RULE = Rule(meta=META, doc=__doc__ or "", check_file=check_file)
