"""Worker claims queued rows with SELECT-then-UPDATE and no lock or atomic claim.

What it finds:
    In one function: an executed ``SELECT`` that picks rows by a waiting status
    (``status = 'pending'``, ``'queued'``, ``'new'``...), followed by an ``UPDATE ... SET
    status = ...``, where the SELECT has no ``FOR UPDATE [SKIP LOCKED]``, the UPDATE is
    neither guarded (``WHERE ... AND status = 'pending'``) nor an ``UPDATE ... RETURNING``
    claim, and no ``BEGIN IMMEDIATE``/``EXCLUSIVE`` makes the pair one locked transaction.

Why it matters:
    Between the SELECT and the UPDATE another worker runs the same SELECT and sees the same
    pending row. Both mark it 'processing' and both process it: duplicate work, duplicate
    side effects (two API calls, two exports, two emails), and results overwriting each
    other.

Example:
    row = conn.execute("SELECT id FROM jobs WHERE status = 'pending' LIMIT 1").fetchone()
    conn.execute("UPDATE jobs SET status = 'processing' WHERE id = ?", (row[0],))

Use instead:
    # PostgreSQL
    SELECT id FROM jobs WHERE status = 'pending' LIMIT 1 FOR UPDATE SKIP LOCKED
    # SQLite >= 3.35 (or any database): one atomic claim
    UPDATE jobs SET status = 'processing'
    WHERE id = (SELECT id FROM jobs WHERE status = 'pending' LIMIT 1)
    RETURNING id
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import tree_sitter

from vibe_audit.chunker.parsing import node_text
from vibe_audit.rules import syntax
from vibe_audit.rules.base import Hit, Rule, RuleMeta, node_hit
from vibe_audit.rules.context import FileContext
from vibe_audit.rules.files import functions_matching
from vibe_audit.rules.literals import string_constants
from vibe_audit.rules.sql import sql_argument
from vibe_audit.rules.sqltext import SELECT_SQL
from vibe_audit.schemas import Confidence, Severity

META = RuleMeta(
    id="queue-claim-without-skip-locked",
    title="Queue rows claimed with SELECT then UPDATE, without a lock or atomic claim",
    severity=Severity.HIGH,
    confidence=Confidence.MEDIUM,
    categories={
        "guardrails": "Row Locking",
        "concurrency": "Race Condition",
        "sqlite": "Write Contention",
    },
    # Double processing is not a lock error: in the SQLite audit it is at most MEDIUM.
    audit_severity={"sqlite": Severity.MEDIUM},
    checklist=[
        "guardrails.2A",
        "guardrails.6B",
        "concurrency.3B",
        "concurrency.3A",
        "concurrency.4B",
        "sqlite.6A",
    ],
    problem=(
        "{function}() selects {status} rows and then marks them with a separate UPDATE. "
        "Nothing locks the selected rows or makes the claim conditional, so two workers can "
        "claim the same row."
    ),
    scenario=(
        "Two workers poll at the same moment: both SELECT the same pending job, both UPDATE "
        "it to 'processing' (the second UPDATE succeeds too) and both process it."
    ),
    impact=(
        "Duplicate processing proportional to the number of workers and the poll rate: "
        "double external calls and side effects, and results overwriting each other."
    ),
    how_to_verify=(
        "Insert one pending row and run {function}() from two threads with a barrier after "
        "the SELECT: both return the same id."
    ),
    fix=(
        "Claim atomically: on PostgreSQL `SELECT ... FOR UPDATE SKIP LOCKED` inside the "
        "transaction; on SQLite a single `UPDATE ... SET status = 'processing' WHERE id = "
        "(SELECT id ... WHERE status = 'pending' LIMIT 1) RETURNING id`, or guard the UPDATE "
        "with `AND status = 'pending'` and check rowcount."
    ),
    trade_off=(
        "SKIP LOCKED gives up strict FIFO order; a guarded UPDATE means a worker sometimes "
        "loses the race and must select again."
    ),
    effort_hours=(0.5, 1.5),
    needs_concurrency=True,
)

_PREFILTER = re.compile(r"\b(status|state)\s*(=|IN\b)", re.I)
_UPDATE = re.compile(r"\bUPDATE\s", re.I)
_FUNCTION_FILTER = re.compile(r"execute", re.I)
_WAITING = r"(pending|queued|new|waiting|ready|todo|scheduled|created|submitted)"
_SELECT_WAITING = re.compile(
    rf"\bWHERE\b.*\b(status|state)\s*(=|IN)\s*\(?\s*'{_WAITING}'", re.I | re.S
)
_SELECT_PARAM = re.compile(
    r"\bWHERE\b.*\b(status|state)\s*=\s*(\?|%s|:\w+|%\(\w+\)s|\$\d)", re.I | re.S
)
_WAITING_ARG = re.compile(rf"""['"]{_WAITING}['"]""", re.I)
_UPDATE_STATUS = re.compile(
    r"^\W*UPDATE\s+(?:\w+\.)?[\"`\[]?(\w+)\b.*\bSET\b.*\b(?:status|state)\s*=", re.I | re.S
)
_FROM = re.compile(r"\bFROM\s+(?:\w+\.)?[\"`\[]?(\w+)", re.I)
_GUARDED = re.compile(r"\bWHERE\b.*\b(status|state)\s*(=|IN|<>|!=)", re.I | re.S)
_LOCKED = re.compile(r"\bFOR\s+(NO\s+KEY\s+)?UPDATE\b|\bSKIP\s+LOCKED\b", re.I)
_EXCLUSIVE = re.compile(r"^\W*BEGIN\s+(IMMEDIATE|EXCLUSIVE)\b|\bLOCK\s+TABLE\b", re.I)


def check_file(ctx: FileContext) -> Iterator[Hit]:
    text = ctx.source.text
    if not (_WAITING_ARG.search(text) and _UPDATE.search(text) and _PREFILTER.search(text)):
        return
    constants: dict[str, str] | None = None
    for function in functions_matching(ctx, _FUNCTION_FILTER):
        constants = string_constants(ctx.root) if constants is None else constants
        found = _claim(function, constants | string_constants(function))
        if found is None:
            continue
        select, status = found
        yield node_hit(
            ctx,
            select,
            named_by=function,
            details={"function": syntax.function_name(function), "status": status},
        )


def _claim(
    function: tree_sitter.Node, constants: dict[str, str]
) -> tuple[tree_sitter.Node, str] | None:
    """The unlocked SELECT of a select-then-update claim in ``function``, and its status."""
    calls = syntax.own_calls(function)
    if any("with_for_update" in syntax.callee(c) for c in calls):
        return None
    select: tuple[tree_sitter.Node, str] | None = None
    table: str | None = None
    for call in calls:
        sql = sql_argument(call, constants)
        if sql is None:
            continue
        if _EXCLUSIVE.search(sql):
            return None
        if select is None and SELECT_SQL.match(sql) and not _LOCKED.search(sql):
            status = _waiting_status(call, sql)
            source = _FROM.search(sql)
            if status is not None and source is not None:
                select, table = (call, status), source.group(1).lower()
        elif select is not None and (update := _UPDATE_STATUS.match(sql)):
            if update.group(1).lower() != table:
                continue  # another table's status (a batch, a counter): not this claim
            if "RETURNING" in sql.upper() or _GUARDED.search(
                re.split(r"\bSET\b", sql, maxsplit=1, flags=re.I)[-1]
            ):
                return None
            return select
    return None


def _waiting_status(call: tree_sitter.Node, sql: str) -> str | None:
    match = _SELECT_WAITING.search(sql)
    if match:
        return f"'{match.group(3).lower()}'"
    if _SELECT_PARAM.search(sql):
        arguments = call.child_by_field_name("arguments")
        found = _WAITING_ARG.search(node_text(arguments) if arguments is not None else "")
        if found:
            return found.group(0).replace('"', "'").lower()
    return None


RULE = Rule(meta=META, doc=__doc__ or "", check_file=check_file)
