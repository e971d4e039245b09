"""Status read and checked in JS/TS, then updated with no status guard after an await.

What it finds:
    A JavaScript / TypeScript function that runs a SQL ``SELECT`` reading a ``status`` /
    ``state`` column (or ``*``) of a table, tests that column in an ``if`` / ``switch``, and
    then runs ``UPDATE <same table> SET status = ...`` whose WHERE clause names neither the
    status nor a version column, when the event loop can run other work between the read
    and the write: the SELECT is awaited or answers through a callback (pg, mysql2,
    node-sqlite3, the ``sqlite`` wrapper), or an ``await`` sits between the two. Not
    matched: a function that takes a row lock (``FOR UPDATE``, ``BEGIN IMMEDIATE`` /
    ``EXCLUSIVE``, an advisory lock) or checks the update's ``changes`` / ``rowCount`` /
    ``affectedRows``, and a synchronous driver (better-sqlite3, node:sqlite, bun:sqlite)
    with no await between the read and the write: one process cannot interleave there.

Why it matters:
    While the function waits for the SELECT's answer (or for anything else it awaits),
    the same process serves other requests: a second call reads the same old status, both
    pass the check, both update the row and both do the follow-up work. The database can
    make the transition atomic; the check in JavaScript cannot.

Example:
    const job = await db.get("SELECT status FROM jobs WHERE id = ?", id);
    if (job.status === "failed") {
      await db.run("UPDATE jobs SET status = 'pending' WHERE id = ?", id);
    }

Use instead:
    const result = await db.run(
      "UPDATE jobs SET status = 'pending' WHERE id = ? AND status = 'failed'", id);
    if (result.changes === 0) {
      // someone else got there first, or the job is not failed
    }
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import tree_sitter

from vibe_audit.chunker.parsing import node_text
from vibe_audit.rules import js, sqltext, syntax
from vibe_audit.rules.base import Hit, Rule, RuleMeta, node_hit
from vibe_audit.rules.context import FileContext
from vibe_audit.schemas import Confidence, Severity

META = RuleMeta(
    id="js-status-check-then-act",
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
        "guardrails.6B",
    ],
    problem=(
        "Code in {function} reads {column} from {table}, decides, then runs "
        "`{update}` whose WHERE clause does not re-check {column}; {boundary}, so the row "
        "can change between the read and the write."
    ),
    scenario=(
        "Two requests (or a request and a worker) run {function} for the same row at once: "
        "both read the old {column}, both pass the check, both update it, and the follow-up "
        "work (processing, notification, charge) runs twice."
    ),
    impact=(
        "Duplicate processing and lost transitions under concurrent calls; a terminal state "
        "can be overwritten by a stale decision."
    ),
    how_to_verify=(
        "Call {function} twice concurrently for one row (e.g. two requests started with "
        "Promise.all) and count how many calls take the branch: both do."
    ),
    fix=(
        "Move the check into the UPDATE and use its row count:\n"
        "    UPDATE {table} SET {column} = <new> WHERE id = ? AND {column} = <expected>\n"
        "and act only when the result's changes / rowCount is 1 (or use UPDATE ... "
        "RETURNING)."
    ),
    trade_off=(
        "Callers must handle 'no row updated' (someone else won); the logic moves partly into SQL."
    ),
    effort_hours=(0.5, 1.5),
    needs_concurrency=True,
    languages=js.JS_LANGUAGES,
)

# A WHERE clause that already guards the transition: the status itself, or a version /
# timestamp column (optimistic locking).
_GUARDED = re.compile(
    sqltext.STATUS_COLUMN + r"|\b\w*(version|revision)\b|\b(updated|modified)_?at\b", re.I
)
_STATUS = re.compile(sqltext.STATUS_COLUMN, re.I)
_SETS_STATUS = re.compile(r"\bSET\b.*?(" + sqltext.STATUS_COLUMN + r")\s*=", re.I | re.S)
_ROW_COUNT = re.compile(r"\.(changes|rowCount|affectedRows)\b|\bRETURNING\b", re.I)


def check_file(ctx: FileContext) -> Iterator[Hit]:
    text = ctx.source.text
    if (
        "UPDATE" not in text.upper()
        or not _STATUS.search(text)
        or syntax.is_test_path(ctx.source.path)
    ):
        return
    sql = [
        (node, value, parsed)
        for node, value in js.strings(ctx.root)
        if (parsed := sqltext.statement(value)) is not None
    ]
    selects = [
        (node, table)
        for node, value, (verb, table) in sql
        if verb == "SELECT" and _STATUS.search(_selected(value))
    ]
    for update, value, (verb, table) in sql:
        setting = _SETS_STATUS.search(value) if verb == "UPDATE" else None
        if setting is None or _GUARDED.search(sqltext.where_clause(value)):
            continue
        found = _read_before(update, table, selects)
        if found is None:
            continue
        function, read = found
        body = node_text(function)
        if sqltext.LOCKS_ROWS.search(body) or sqltext.ROW_LOCK.search(body):
            continue
        if _ROW_COUNT.search(ctx.source.text[update.start_byte : function.end_byte]):
            continue
        check = _status_check(function, read, update)
        boundary = _boundary(function, read, update)
        if check is None or boundary is None:
            continue
        yield node_hit(
            ctx,
            check,
            until=update,
            named_by=update,
            details={
                "function": _describe(function),
                "table": table,
                "column": setting.group(1).lower(),
                "update": " ".join(value.split()),
                "boundary": boundary,
            },
        )


def _read_before(
    update: tree_sitter.Node, table: str, selects: list[tuple[tree_sitter.Node, str]]
) -> tuple[tree_sitter.Node, tree_sitter.Node] | None:
    """The innermost function around ``update`` that reads ``table``'s status before it,
    with that read."""
    function = js.enclosing_function(update)
    while function is not None:
        reads = [
            node
            for node, read_table in selects
            if read_table == table
            and function.start_byte <= node.start_byte
            and node.end_byte <= update.start_byte
        ]
        if reads:
            return function, reads[-1]
        function = js.enclosing_function(function)
    return None


def _status_check(
    function: tree_sitter.Node, read: tree_sitter.Node, update: tree_sitter.Node
) -> tree_sitter.Node | None:
    """An if / switch between the read and the update that tests a status/state value."""
    for node in syntax.of_type(function, "if_statement", "switch_statement"):
        if not read.end_byte <= node.start_byte < update.start_byte:
            continue
        condition = node.child_by_field_name("condition") or node.child_by_field_name("value")
        if condition is not None and _STATUS.search(node_text(condition)):
            return node
    return None


def _boundary(
    function: tree_sitter.Node, read: tree_sitter.Node, update: tree_sitter.Node
) -> str | None:
    """How other work can run between the read and the update, else None."""
    for node in syntax.of_type(function, "await_expression"):
        if read.end_byte <= node.end_byte <= update.start_byte:
            return (
                "the read is awaited"
                if node.start_byte <= read.start_byte
                else f"`{_first_line(node)}` is awaited in between"
            )
    # A callback of the read's call (node-sqlite3's db.get(sql, args, cb)) or a .then().
    inner = js.enclosing_function(update)
    while inner is not None and inner.start_byte > read.end_byte:
        call = syntax.enclosing(inner, "call_expression")
        if call is not None and (
            call.start_byte <= read.start_byte or js.js_callee(call).endswith(".then")
        ):
            return "the read answers through a callback"
        inner = js.enclosing_function(inner)
    return None


def _describe(function: tree_sitter.Node) -> str:
    """'retryJob()' or, for an anonymous callback, 'the app.post() callback'."""
    name = js.js_function_name(function)
    if name != "<anonymous>":
        return f"{name}()"
    call = syntax.enclosing(function, "call_expression")
    return f"the {js.js_callee(call)}() callback" if call is not None else "this function"


def _first_line(node: tree_sitter.Node) -> str:
    text = node_text(node).splitlines()[0]
    return text if len(text) <= 60 else text[:57] + "..."


def _selected(sql: str) -> str:
    """The column list of a SELECT ('*' counts as every column)."""
    columns = re.split(r"\bFROM\b", sql, maxsplit=1, flags=re.I)[0]
    return "status" if "*" in columns else columns


RULE = Rule(meta=META, doc=__doc__ or "", check_file=check_file)
