"""Writes to two tables in one function, each committed on its own (JS/TS).

What it finds:
    A JavaScript / TypeScript function that runs INSERT / UPDATE / DELETE / REPLACE
    statements on two or more different tables (a result and the job's status, a queue
    removal and its history) as separate statements, where two of them can run in one call
    (not only in different branches of an ``if`` / ``switch``), with no transaction around
    them: not inside a ``db.transaction(() => …)`` / ``prisma.$transaction`` /
    ``withTransaction`` callback, no ``BEGIN`` in the function, and not a function the
    repository calls from a transaction (or passes to one). Drivers: better-sqlite3,
    bun:sqlite, node:sqlite, sqlite3, the ``sqlite`` wrapper, pg, mysql2, mssql, and the
    ORMs Prisma (``prisma.order.create(...)``, not inside ``prisma.$transaction``) and
    Drizzle (``db.insert(orders).values(...)``). Not counted: writes
    whose failure the function handles (a ``.catch()`` on the call, a ``catch`` that does
    not rethrow) and writes to log / audit / history / event / metric tables, whose loss
    leaves no inconsistent state.

    Severity from evidence: HIGH when the writes are awaited (the event loop runs other
    requests between them and the caller can be cancelled mid-way), MEDIUM for a synchronous
    driver, where only a failing second statement leaves the half-done state.

Why it matters:
    Each statement outside a transaction commits by itself. When the second one fails (a
    constraint, SQLITE_BUSY, a dropped connection) or the process stops between the two,
    the first stays committed: a job marked done with no result row, a job removed from
    the queue with no result, an order without its lines. Concurrent readers also see the
    half-done state in between, and no code path repairs it.

Example:
    async function complete(jobId, output) {
      await db.run("INSERT INTO results (job_id, output) VALUES (?, ?)", jobId, output);
      await db.run("UPDATE jobs SET status = 'done' WHERE id = ?", jobId);
    }

Use instead:
    const complete = db.transaction((jobId, output) => {   // better-sqlite3
      db.prepare("INSERT INTO results (job_id, output) VALUES (?, ?)").run(jobId, output);
      db.prepare("UPDATE jobs SET status = 'done' WHERE id = ?").run(jobId);
    });
    // pg: const client = await pool.connect(); BEGIN ... COMMIT, ROLLBACK in catch
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import replace
from itertools import combinations

import tree_sitter

from vibe_audit.chunker.parsing import node_text
from vibe_audit.rules import js, syntax
from vibe_audit.rules import js_sqlite_util as util
from vibe_audit.rules.base import Hit, Rule, RuleMeta
from vibe_audit.rules.context import FileContext, RepoContext
from vibe_audit.schemas import Confidence, Severity

META = RuleMeta(
    id="js-sql-writes-outside-transaction",
    title="Writes to several tables without a transaction",
    severity=Severity.HIGH,
    confidence=Confidence.MEDIUM,
    categories={"guardrails": "Transactions", "concurrency": "Transaction"},
    checklist=[
        "guardrails.1A",
        "guardrails.6A",
        "concurrency.4A",
        "concurrency.sqlite_checklist.7",
    ],
    problem=(
        "{function} writes {tables} with {count} separate statements ({statements}), each "
        "committed on its own: no transaction makes them all-or-nothing."
    ),
    scenario=(
        "The first write commits, then the second fails (constraint, lock timeout, dropped "
        "connection) or the process stops in between: the database keeps a half-applied "
        "change (e.g. {first_table} written, {second_table} not) that no code path repairs."
    ),
    impact=(
        "Inconsistent rows (status says done without the result, or the reverse), visible "
        "to concurrent readers between the writes and permanently after a failure."
    ),
    how_to_verify=(
        "Make the second statement fail (drop its table, or add a failing CHECK) and call "
        "{function}: the first write stays committed."
    ),
    fix=(
        "Run the statements in one transaction: better-sqlite3 / bun:sqlite "
        "`db.transaction(() => {{ ... }})()`; pg: a client from `pool.connect()` with "
        "BEGIN ... COMMIT and ROLLBACK in a catch; Prisma `$transaction([...])`; or "
        "`BEGIN IMMEDIATE` ... `COMMIT` on SQLite."
    ),
    trade_off=(
        "A transaction holds locks until commit: keep slow work (HTTP calls, file I/O) "
        "outside it. On SQLite, start write transactions with BEGIN IMMEDIATE to avoid "
        "upgrade deadlocks."
    ),
    effort_hours=(0.5, 1.5),
    experimental=True,  # 2 TP of 4 on 17 packages outside the corpus
    languages=js.JS_LANGUAGES,
)

_WRAPPING = frozenset({"await_expression", "parenthesized_expression"})
_SIDE_TABLE = re.compile(r"log|audit|history|event|metric|stat|telemetry|cache|trace", re.I)


def check_repo(repo: RepoContext) -> Iterator[Hit]:
    files = [
        ctx
        for ctx in repo.in_language(*js.JS_LANGUAGES)
        if not syntax.is_test_path(ctx.source.path)
    ]
    prisma = any("@prisma/client" in ctx.imports for ctx in files)
    drizzle = any(any(m.startswith("drizzle-orm") for m in ctx.imports) for ctx in files)
    if not (prisma or drizzle or any(util.drivers_used(ctx) for ctx in files)):
        return
    orm = (prisma, drizzle)
    names: util.TransactionNames | None = None
    wrappers = util.sql_wrappers(files)
    for ctx in files:
        text = ctx.source.text
        if not any(
            word in text.upper() for word in ("INSERT", "UPDATE", "DELETE", "REPLACE", "CREATE")
        ):
            continue  # (Prisma's create / update / delete and Drizzle's insert say so too)
        if names is None:
            names = util.transaction_names(files)
        yield from _check(ctx, names, wrappers, orm)


def _check(
    ctx: FileContext,
    names: util.TransactionNames,
    wrappers: frozenset[str],
    orm: tuple[bool, bool],
) -> Iterator[Hit]:
    constants = util.string_constants(ctx.root)
    prepared = util.prepared_statements(ctx.root, constants)
    for function in syntax.of_type(ctx.root, *js.JS_FUNCTION_TYPES):
        runs = list(util.sql_runs(function, constants, prepared, wrappers=wrappers))
        if any(orm):
            runs = sorted(
                runs + list(util.orm_writes(function, *orm)), key=lambda r: r.call.start_byte
            )
        writes = [
            run
            for run in runs
            if run.writes
            and run.table
            and not _SIDE_TABLE.search(run.table)
            and not _handled(run.call, function)
        ]
        if len({w.table for w in writes}) < 2:
            continue
        pairs = [
            (a, b)
            for a, b in combinations(writes, 2)
            if a.table != b.table and not _exclusive(a.call, b.call)
        ]
        if not pairs:
            continue
        if any(util.begins(run) for run in runs) or util.in_transaction(writes[0], runs, names):
            continue
        first, second = pairs[0]
        chosen = [w for w in writes if w.table in {first.table, second.table}]
        tables = sorted({w.table for w in writes})
        hit = Hit(
            path=ctx.source.path,
            start_line=syntax.line(first.call),
            end_line=syntax.end_line(second.call),
            symbol=js.js_symbol(first.call),
            details={
                "function": _describe(function),
                "tables": " and ".join(tables) if len(tables) <= 3 else ", ".join(tables),
                "count": str(len(chosen)),
                "statements": ", ".join(
                    f"{w.verb} {w.table} at line {syntax.line(w.call)}" for w in chosen[:4]
                ),
                "first_table": first.table,
                "second_table": second.table,
            },
        )
        if not (first.awaited or second.awaited):
            hit = replace(
                hit,
                severity=Severity.MEDIUM,
                severity_reason=(
                    "MEDIUM: the driver is synchronous, so no other code of this process "
                    "runs between the writes; only a failing second statement (or a crash) "
                    "leaves the half-done state."
                ),
            )
        yield hit


def _handled(call: tree_sitter.Node, function: tree_sitter.Node) -> bool:
    """The write's failure is handled where it runs: ``.catch()`` on it, or a ``catch``
    clause around it that does not rethrow (a best-effort write, or a probe)."""
    node = call
    while node.parent is not None and node.parent.type in _WRAPPING:
        node = node.parent
    parent = node.parent
    if parent is not None and parent.type == "member_expression":
        prop = parent.child_by_field_name("property")
        if prop is not None and node_text(prop) in {"catch", "then"}:
            return True
    for clause in js.handler_clauses(call):
        if clause.type == "catch_clause" and "throw" not in node_text(clause):
            return True
    return False


def _exclusive(a: tree_sitter.Node, b: tree_sitter.Node) -> bool:
    """``a`` and ``b`` sit in different branches of one if / ternary, or different cases of
    one switch."""
    ancestors: dict[int, tree_sitter.Node] = {}
    child, current = a, a.parent
    while current is not None:
        ancestors[current.id] = child
        child, current = current, current.parent
    child, current = b, b.parent
    while current is not None and current.id not in ancestors:
        child, current = current, current.parent
    if current is None:
        return False
    under_a, under_b = ancestors[current.id], child
    if under_a.id == under_b.id:
        return False
    if current.type == "switch_body":
        return True
    if current.type in {"if_statement", "ternary_expression"}:
        condition = current.child_by_field_name("condition")
        return condition is None or condition.id not in {under_a.id, under_b.id}
    return False


def _describe(function: tree_sitter.Node) -> str:
    name = js.js_function_name(function)
    if name != "<anonymous>":
        return f"{name}()"
    call = syntax.enclosing(function, "call_expression")
    return f"the {js.js_callee(call)}() callback" if call is not None else "This function"


RULE = Rule(meta=META, doc=__doc__ or "", check_repo=check_repo)
