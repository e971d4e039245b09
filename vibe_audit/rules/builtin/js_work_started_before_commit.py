"""Background processing of a row started before the transaction that inserts it commits (JS/TS).

What it finds:
    A JavaScript / TypeScript function that INSERTs a row inside a transaction (an explicit
    ``BEGIN`` ... ``COMMIT`` run as SQL text on one connection, or the callback of
    ``db.transaction(fn)`` / ``knex.transaction(fn)`` / ``prisma.$transaction(fn)``) and,
    still inside it, hands work about that row to something that runs on its own: a job
    queue (``queue.add(...)``, ``.enqueue(...)``, ``boss.send(...)``), a worker thread
    (``worker.postMessage(...)``), or, when the COMMIT itself waits on I/O (an awaited
    COMMIT, an async transaction callback) or an ``await`` sits between the hand-off and
    the COMMIT, a timer (``setImmediate`` / ``setTimeout`` / ``process.nextTick``). The
    hand-off must pass a name the INSERT also uses, or the result of the INSERT
    (``lastInsertRowid``, a ``RETURNING`` row). A timer inside a synchronous
    better-sqlite3 transaction is not matched: it runs after the COMMIT.

Why it matters:
    The worker or job runner starts at once on its own connection and reads the row
    before the inserting transaction commits: it finds nothing ("job not found"), or old
    data, and fails or skips the item. Whether it does depends on timing, so it passes in
    tests and fails under load. If the insert is then rolled back, the job processes a row
    that never existed.

Example:
    const insertJob = db.transaction((file) => {
      const { lastInsertRowid } = insert.run(file, "new");
      worker.postMessage({ id: lastInsertRowid });   // the worker reads before COMMIT
    });

Use instead:
    const insertJob = db.transaction((file) => insert.run(file, "new").lastInsertRowid);
    const id = insertJob(file);                      // committed
    worker.postMessage({ id });
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import tree_sitter

from vibe_audit.chunker.parsing import node_text
from vibe_audit.rules import js, syntax
from vibe_audit.rules import ports_util as pu
from vibe_audit.rules.base import Hit, Rule, RuleMeta, node_hit
from vibe_audit.rules.context import FileContext
from vibe_audit.schemas import Confidence, Severity

META = RuleMeta(
    id="js-work-started-before-commit",
    title="Background processing started before the inserted row is committed",
    severity=Severity.HIGH,
    confidence=Confidence.MEDIUM,
    categories={"sqlite": "Async", "concurrency": "Race Condition"},
    checklist=["sqlite.6C"],
    problem=(
        "{function} inserts into {table} inside a transaction and starts `{spawn}` (line "
        "{spawn_line}) before {commit}: the background work can run before the row is "
        "visible to other connections."
    ),
    scenario=(
        "The {kind} picks the work up right away on its own connection and reads {table}: "
        "the uncommitted row is not there yet, so it fails or skips the item; if the "
        "transaction then rolls back, work is done for a row that does not exist."
    ),
    impact=(
        "Intermittent 'not found' failures and items that are never processed, depending "
        "on timing, so they pass tests and show up under load."
    ),
    how_to_verify=(
        "Add a delay between `{spawn}` and the commit and let the {kind} read the row: it "
        "does not find it."
    ),
    fix=(
        "Return the new id from the transaction and start the work after it has "
        "committed; or enqueue through the same transaction (a jobs table written in it)."
    ),
    trade_off=(
        "If starting the work then fails, the row is committed without a worker: keep a "
        "status column and a sweeper that re-queues rows left 'new'."
    ),
    effort_hours=(0.1, 0.5),
    languages=js.JS_LANGUAGES,
    experimental=True,
    needs_concurrency=True,
)

_QUEUE_OWNER = re.compile(r"(queue|jobs?|boss|tasks?|bull|worker|producer)s?$", re.I)
_IMMEDIATE = {"postMessage": "worker thread", "enqueue": "job queue"}
_QUEUE_METHODS = frozenset({"add", "addBulk", "send", "sendAfter", "push", "createJob"})
_TIMERS = frozenset({"setImmediate", "setTimeout", "process.nextTick", "queueMicrotask"})


def check_file(ctx: FileContext) -> Iterator[Hit]:
    text = ctx.source.text
    if syntax.is_test_path(ctx.source.path) or not re.search(r"insert", text, re.I):
        return
    if "transaction" not in text.lower() and "BEGIN" not in text.upper():
        return
    constants = pu.js_constants(ctx.root)
    prepared = pu.js_prepared(ctx.root, constants)
    reported: set[int] = set()
    for region in pu.js_transaction_regions(ctx.root, constants):
        hit = _check_region(ctx, region, constants, prepared)
        if hit is not None and hit.start_line not in reported:
            reported.add(hit.start_line)
            yield hit


def _insert_table(
    call: tree_sitter.Node, constants: dict[str, str], prepared: dict[str, str]
) -> str | None:
    sql = pu.js_call_sql(call, constants, prepared)
    if sql is not None:
        match = pu.INSERT_SQL.match(sql)
        return match.group(2) if match else None
    callee = js.js_callee(call)
    if callee.endswith(".insert") or callee.endswith(".insertInto"):  # knex / drizzle / kysely
        args = js.js_arguments(call)
        return node_text(args[0]).strip("'\"`") if args else "the table"
    match = re.search(r"\.(\w+)\.create(Many)?$", callee)  # prisma: tx.job.create(...)
    return match.group(1) if match else None


def _hand_off(call: tree_sitter.Node) -> str | None:
    """What the call hands work to ('worker thread', 'job queue', 'timer'), else None."""
    callee = js.js_callee(call)
    if callee in _TIMERS:
        return "timer"
    if "." not in callee:
        return None
    owner, method = callee.rsplit(".", 1)
    if method in _IMMEDIATE:
        return _IMMEDIATE[method]
    last = owner.rsplit(".", 1)[-1]
    if method in _QUEUE_METHODS and _QUEUE_OWNER.search(last):
        return "job queue"
    return None


def _check_region(
    ctx: FileContext,
    region: pu.JsRegion,
    constants: dict[str, str],
    prepared: dict[str, str],
) -> Hit | None:
    scope = region.start if region.kind == "callback" else js.enclosing_function(region.start)
    if scope is None:
        return None
    calls = [c for c in js.own_nodes(scope, "call_expression") if pu.js_in_region(c, region)]
    inserts = [(c, t) for c in calls if (t := _insert_table(c, constants, prepared))]
    if not inserts:
        return None
    for insert, table in inserts:
        names = _row_names(insert)
        for spawn in calls:
            kind = _hand_off(spawn)
            if kind is None or spawn.start_byte < insert.end_byte or pu.exclusive(insert, spawn):
                continue
            if not names & _passed(spawn):
                continue
            if kind == "timer" and not _io_before_commit(scope, spawn, region):
                continue  # a timer runs after a synchronous COMMIT
            function = js.enclosing_function(region.start) if region.kind == "explicit" else None
            owner = function if function is not None else scope
            name = _name_of(owner)
            return node_hit(
                ctx,
                insert,
                until=spawn,
                named_by=insert,
                details={
                    "function": f"{name}()" if name != "<anonymous>" else "This function",
                    "table": table,
                    "spawn": js.js_callee(spawn) + "(...)",
                    "spawn_line": str(syntax.line(spawn)),
                    "commit": region.description,
                    "kind": kind,
                },
            )
    return None


def _name_of(function: tree_sitter.Node) -> str:
    """A function's name; for a transaction callback, the name its wrapper is bound to
    (``const addDocument = db.transaction((..) => ...)``)."""
    name = js.js_function_name(function)
    if name != "<anonymous>":
        return name
    current = function.parent
    while current is not None and current.type in {"arguments", "call_expression"}:
        current = current.parent
    if current is not None and current.type == "variable_declarator":
        target = current.child_by_field_name("name")
        return node_text(target) if target is not None else name
    outer = js.enclosing_function(function)
    return js.js_function_name(outer) if outer is not None else name


def _row_names(insert: tree_sitter.Node) -> set[str]:
    names: set[str] = set()
    for arg in js.js_arguments(insert)[1:] if _sql_first(insert) else js.js_arguments(insert):
        names |= pu.js_identifiers(arg)
    # values of a chained builder: tx.insert(t).values({...}).returning()
    current = insert
    while current.parent is not None and current.parent.type == "member_expression":
        outer = current.parent.parent
        if outer is None or outer.type != "call_expression":
            break
        for arg in js.js_arguments(outer):
            names |= pu.js_identifiers(arg)
        current = outer
    names |= pu.js_bound_names(insert)
    names -= {"undefined", "null", "Date", "JSON", "String", "Number", "now"}
    return names


def _sql_first(call: tree_sitter.Node) -> bool:
    """The call's first argument is SQL text (not a value bound into the statement)."""
    args = js.js_arguments(call)
    return bool(args) and js.unwrap(args[0]).type in {"string", "template_string"}


def _passed(spawn: tree_sitter.Node) -> set[str]:
    names: set[str] = set()
    for arg in js.js_arguments(spawn):
        names |= pu.js_identifiers(arg)
    return names


def _io_before_commit(
    scope: tree_sitter.Node, spawn: tree_sitter.Node, region: pu.JsRegion
) -> bool:
    if region.asynchronous:
        return True
    end = region.end.start_byte if region.kind == "explicit" else region.end.end_byte
    return any(
        spawn.end_byte <= node.start_byte < end for node in js.own_nodes(scope, "await_expression")
    )


RULE = Rule(meta=META, doc=__doc__ or "", check_file=check_file)
