"""A value read with SELECT, changed in JS/TS, and written back with no check that it is
still the value read (lost update).

What it finds:
    A JavaScript / TypeScript function that reads a column with ``SELECT col FROM t WHERE
    ...`` (or ``SELECT *``), computes a new value from the row in code, and writes it back
    with ``UPDATE t SET col = ? WHERE ...`` whose WHERE clause checks neither ``col`` nor a
    version / ``updated_at`` column, when the event loop can run other work between the
    read and the write: the SELECT is awaited (pg, mysql2, the ``sqlite`` wrapper), or an
    ``await`` sits between them, and the UPDATE's values use the row read. Not matched: a
    function that locks the row (``FOR UPDATE``, ``BEGIN IMMEDIATE`` / ``EXCLUSIVE``, an
    advisory lock) or checks the update's ``changes`` / ``rowCount`` / ``affectedRows``;
    increments done in SQL (``SET n = n + ?``); status / state columns (see
    js-status-check-then-act); and a synchronous driver (better-sqlite3, node:sqlite,
    bun:sqlite) with no await between the read and the write.

Why it matters:
    Two calls for the same row interleave at the await: both read the same old value, both
    compute their change from it, and the second UPDATE overwrites the first. A counter
    loses increments, a balance loses a payment, a JSON document loses one of two edits,
    and nothing reports an error.

Example:
    const row = await db.get("SELECT balance FROM accounts WHERE id = ?", id);
    const balance = row.balance + amount;
    await db.run("UPDATE accounts SET balance = ? WHERE id = ?", balance, id);

Use instead:
    await db.run("UPDATE accounts SET balance = balance + ? WHERE id = ?", amount, id);
    // or optimistic locking: ... WHERE id = ? AND version = ?, and retry when changes is 0
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import tree_sitter

from vibe_audit.chunker.parsing import node_text
from vibe_audit.rules import js, sqltext, syntax
from vibe_audit.rules import js_sqlite_util as util
from vibe_audit.rules.base import Hit, Rule, RuleMeta, node_hit
from vibe_audit.rules.context import FileContext, RepoContext
from vibe_audit.schemas import Confidence, Severity

META = RuleMeta(
    id="js-sql-lost-update",
    title="Read-modify-write of a column without a version check (lost update)",
    severity=Severity.HIGH,
    confidence=Confidence.MEDIUM,
    categories={"concurrency": "Race Condition"},
    checklist=["concurrency.3C"],
    problem=(
        "{function} reads {column} of {table}, computes the new value in code and writes it "
        "back with `{update}`, whose WHERE clause does not check that {column} is still the "
        "value read; {boundary}."
    ),
    scenario=(
        "Two calls of {function} for the same {table} row run at once: both read the same "
        "{column}, both compute their change from it, and the second UPDATE overwrites the "
        "first one's change."
    ),
    impact=(
        "Silently lost changes: counters that miss increments, balances that miss payments, "
        "documents that lose one of two concurrent edits."
    ),
    how_to_verify=(
        "Call {function} twice for the same row at once (Promise.all) with different "
        "changes, then read {column}: only one change is there."
    ),
    fix=(
        "Compute the change in SQL (`SET {column} = {column} + ?`), or guard the write with "
        "the value (or a version column) read: `... WHERE id = ? AND {column} = ?` / "
        "`AND version = ?`, and retry when the update changed no row; or lock the row "
        "(`SELECT ... FOR UPDATE` in a transaction, `BEGIN IMMEDIATE` on SQLite)."
    ),
    trade_off=("Optimistic checks need a retry path; row locks serialize the writers of one row."),
    effort_hours=(0.5, 2.0),
    needs_concurrency=True,
    languages=js.JS_LANGUAGES,
    # Its shape was not found in the precision corpus: off by default until it shows one.
    experimental=True,
)

_LOCKS = re.compile(
    r"FOR\s+(NO\s+KEY\s+)?UPDATE|BEGIN\s+(IMMEDIATE|EXCLUSIVE)|pg_advisory|GET_LOCK\(", re.I
)
_ROW_COUNT = re.compile(r"\.(changes|rowCount|affectedRows)\b|\bRETURNING\b", re.I)
_VERSION = re.compile(r"\b\w*(version|revision|etag)\b|\b(updated|modified)_?at\b", re.I)
_STATUS = re.compile(sqltext.STATUS_COLUMN, re.I)
_PLACEHOLDER = r"(?:\?\d*|\$\d+|:\w+|@\w+|\$\{[^}]*\})"
_ASSIGNMENT = re.compile(r"[\"`\[]?(\w+)[\"`\]]?\s*=\s*(" + _PLACEHOLDER + r")", re.I)


def check_repo(repo: RepoContext) -> Iterator[Hit]:
    files = [
        ctx
        for ctx in repo.in_language(*js.JS_LANGUAGES)
        if not syntax.is_test_path(ctx.source.path)
    ]
    if not any(util.drivers_used(ctx) for ctx in files):
        return
    wrappers = util.sql_wrappers(files)
    for ctx in files:
        text = ctx.source.text.upper()
        if "UPDATE" not in text or "SELECT" not in text:
            continue
        yield from _check(ctx, wrappers)


def _check(ctx: FileContext, wrappers: frozenset[str]) -> Iterator[Hit]:
    constants = util.string_constants(ctx.root)
    prepared = util.prepared_statements(ctx.root, constants)
    for function in syntax.of_type(ctx.root, *js.JS_FUNCTION_TYPES):
        body = node_text(function)
        if _LOCKS.search(body):
            continue
        runs = list(util.sql_runs(function, constants, prepared, wrappers=wrappers))
        for index, update in enumerate(runs):
            parsed = sqltext.parse_update(update.sql) if update.verb == "UPDATE" else None
            if parsed is None or _VERSION.search(parsed.where):
                continue
            for select in reversed(runs[:index]):
                if select.verb != "SELECT" or select.table != parsed.table:
                    continue
                hit = _lost_update(ctx, function, select, update, parsed)
                if hit is not None:
                    yield hit
                break


def _lost_update(
    ctx: FileContext,
    function: tree_sitter.Node,
    select: util.SqlRun,
    update: util.SqlRun,
    parsed: sqltext.Update,
) -> Hit | None:
    selected = _selected(select.sql)
    columns = [
        m.group(1).lower()
        for m in _ASSIGNMENT.finditer(parsed.assignments)
        if (selected == {"*"} or m.group(1).lower() in selected)
        and not _STATUS.fullmatch(m.group(1))
        and not re.search(rf"\b{re.escape(m.group(1))}\b", parsed.where, re.I)
    ]
    if not columns:
        return None
    if _ROW_COUNT.search(ctx.source.text[update.call.start_byte : function.end_byte]):
        return None
    derived = _derived_names(function, select, update)
    arguments = js.js_arguments(update.call)
    if arguments and update.text_node is not None and js.unwrap(arguments[0]) == update.text_node:
        arguments = arguments[1:]  # db.run(sql, ...values): the values only
    if not derived or not any(_mentions(arg, derived) for arg in arguments):
        return None
    boundary = _boundary(function, select, update)
    if boundary is None:
        return None
    return node_hit(
        ctx,
        select.call,
        until=update.call,
        named_by=function,
        details={
            "function": _describe(function),
            "table": parsed.table,
            "column": columns[0],
            "update": " ".join(update.sql.split())[:120],
            "boundary": boundary,
        },
    )


def _selected(sql: str) -> set[str]:
    columns = re.split(r"\bFROM\b", sql, maxsplit=1, flags=re.I)[0]
    columns = re.sub(r"^\s*SELECT\s+(DISTINCT\s+)?", "", columns, flags=re.I)
    columns = re.sub(r"\w+\(\s*\*\s*\)", "aggregate", columns)  # COUNT(*)
    if "*" in columns:
        return {"*"}
    names: set[str] = set()
    for part in columns.split(","):
        words = [w.lower() for w in re.findall(r"\w+", part)]
        if words:
            names.add(words[-1])  # "t.col" -> col; "col AS alias" -> alias
        if "as" in words[1:]:
            names.add(words[words.index("as", 1) - 1])  # and col
    return names


def _derived_names(
    function: tree_sitter.Node, select: util.SqlRun, update: util.SqlRun
) -> set[str]:
    """Names bound to the SELECT's result, and names computed from them before the
    update."""
    names: set[str] = set()
    nodes = [
        n
        for n in js.own_nodes(function, "variable_declarator", "assignment_expression")
        if n.start_byte <= select.call.start_byte < n.end_byte
        or select.call.end_byte <= n.start_byte < update.call.start_byte
    ]
    for node in nodes:
        if node.type == "variable_declarator":
            target, value = node.child_by_field_name("name"), node.child_by_field_name("value")
        else:
            target, value = node.child_by_field_name("left"), node.child_by_field_name("right")
        if target is None or value is None:
            continue
        holds_select = value.start_byte <= select.call.start_byte < value.end_byte
        if holds_select or _mentions(value, names):
            if target.type == "identifier":
                names.add(node_text(target))
            for ident in syntax.of_type(
                target, "identifier", "shorthand_property_identifier_pattern"
            ):
                names.add(node_text(ident))
            if target.type == "member_expression":
                names.add(js.root_name(target))
    return names


def _mentions(node: tree_sitter.Node, names: set[str]) -> bool:
    return any(
        node_text(ident) in names
        for ident in syntax.of_type(node, "identifier", "shorthand_property_identifier")
    ) or (node.type == "identifier" and node_text(node) in names)


def _boundary(function: tree_sitter.Node, select: util.SqlRun, update: util.SqlRun) -> str | None:
    for node in syntax.of_type(function, "await_expression"):
        if select.call.start_byte <= node.end_byte <= update.call.start_byte:
            return (
                "the read is awaited, so other calls run in between"
                if node.start_byte <= select.call.start_byte
                else f"`{node_text(node).splitlines()[0][:60]}` is awaited in between"
            )
    return None


def _describe(function: tree_sitter.Node) -> str:
    name = js.js_function_name(function)
    if name != "<anonymous>":
        return f"{name}()"
    call = syntax.enclosing(function, "call_expression")
    return f"the {js.js_callee(call)}() callback" if call is not None else "This function"


RULE = Rule(meta=META, doc=__doc__ or "", check_repo=check_repo)
