"""Explicit SQLite transaction with no ROLLBACK when a statement in it throws (JS/TS).

What it finds:
    A function that runs ``BEGIN`` (``db.exec("BEGIN IMMEDIATE")``, ``db.run("BEGIN")``,
    ``db.prepare("BEGIN").run()``) and later ``COMMIT`` on the same connection, where no
    catch or finally clause of that function runs ``ROLLBACK`` (or calls a ``*rollback*``
    function), in a repository that uses a driver whose failed statements throw
    (better-sqlite3, node:sqlite, bun:sqlite, or the promise-based ``sqlite`` wrapper).
    better-sqlite3's ``db.transaction(fn)`` rolls back by itself and is not matched.

    Severity from evidence: HIGH when the connection outlives the function (a module-level
    or injected handle: every later statement runs inside the abandoned transaction),
    MEDIUM when the function opened the connection itself.

Why it matters:
    When a statement between BEGIN and COMMIT throws (a constraint, a missing field, a
    busy database), the exception skips the COMMIT and the connection stays inside the open
    transaction. It keeps the write lock, so other processes get SQLITE_BUSY; every later
    write on the connection silently joins the transaction and is never committed; and the
    next BEGIN fails with "cannot start a transaction within a transaction".

Example:
    db.exec("BEGIN IMMEDIATE");
    for (const row of rows) upsert.run(row);
    db.exec("COMMIT");

Use instead:
    const restore = db.transaction((rows) => {   // better-sqlite3: COMMIT or ROLLBACK
      for (const row of rows) upsert.run(row);
    });
    restore.immediate(rows);
    // or: BEGIN; try { ...; COMMIT } catch (err) { ROLLBACK; throw err; }
"""

from __future__ import annotations

from collections.abc import Iterator

from vibe_audit.chunker.parsing import node_text
from vibe_audit.rules import js, syntax
from vibe_audit.rules.base import Hit, Rule, RuleMeta
from vibe_audit.rules.context import RepoContext
from vibe_audit.schemas import Confidence, Severity

META = RuleMeta(
    id="js-sqlite-transaction-without-rollback",
    title="SQLite BEGIN without ROLLBACK on the error path",
    severity=Severity.HIGH,
    confidence=Confidence.HIGH,
    categories={"sqlite": "Error Handling", "reliability": "Error Handling"},
    checklist=["sqlite.7B", "sqlite.7D", "sqlite.3C", "reliability.7.2"],
    problem=(
        "{function} runs {begin} and then {commit} on {connection}, but nothing rolls the "
        "transaction back when a statement in between throws: the exception skips the "
        "COMMIT and leaves {connection} inside an open transaction."
    ),
    scenario=(
        "One statement of {function} fails (a constraint violation, bad input, "
        "SQLITE_BUSY): the error propagates, the transaction stays open and keeps the "
        "write lock; {after}"
    ),
    impact=(
        "Other processes get SQLITE_BUSY until the connection closes; writes made "
        "afterwards on {connection} are never committed, and the next BEGIN fails with "
        "'cannot start a transaction within a transaction'."
    ),
    how_to_verify=(
        "Make one statement in {function} throw (e.g. violate a NOT NULL column) and then "
        "check `{connection}.inTransaction` (better-sqlite3, node:sqlite) or run another "
        "BEGIN on it: the transaction is still open."
    ),
    fix=(
        "Let the driver manage the transaction (better-sqlite3 / bun:sqlite "
        "`db.transaction(fn)`, which commits or rolls back), or wrap the statements: "
        '`db.exec("BEGIN"); try { ...; db.exec("COMMIT"); } catch (err) { '
        'db.exec("ROLLBACK"); throw err; }`.'
    ),
    trade_off=(
        "None for correctness; db.transaction(fn) cannot span an await (by design), so "
        "fetch asynchronous inputs before the transaction starts."
    ),
    effort_hours=(0.25, 0.5),
    languages=js.JS_LANGUAGES,
)

# Drivers (and the promise wrapper) whose failing statements throw.
THROWING = frozenset({*js.SYNC_SQLITE, "sqlite"})


def check_repo(repo: RepoContext) -> Iterator[Hit]:
    files = [
        ctx
        for ctx in repo.in_language(*js.JS_LANGUAGES)
        if not syntax.is_test_path(ctx.source.path)
    ]
    if not any(ctx.imports & THROWING or _requires(ctx.source.text) for ctx in files):
        return
    for ctx in files:
        if "BEGIN" not in ctx.source.text.upper():
            continue
        for tx in js.explicit_transactions(ctx.root):
            if tx.rolls_back:
                continue
            local = js.opened_here(js.root_name_of(tx.connection), tx.function)
            name = js.js_function_name(tx.function)
            yield Hit(
                path=ctx.source.path,
                start_line=syntax.line(tx.begin),
                end_line=syntax.line(tx.commit),
                symbol=js.js_symbol(tx.begin),
                details={
                    "function": f"{name}()" if name != "<anonymous>" else "This function",
                    "begin": node_text(tx.begin),
                    "commit": node_text(tx.commit),
                    "connection": tx.connection,
                    "after": (
                        "until the connection is garbage-collected, other processes wait."
                        if local
                        else f"{tx.connection} is shared, so every later write on it joins "
                        "the abandoned transaction."
                    ),
                },
                severity=Severity.MEDIUM if local else None,
                severity_reason=(
                    f"MEDIUM: {tx.connection} is opened in the function itself, so the open "
                    "transaction ends when that connection is closed or collected."
                    if local
                    else None
                ),
            )


def _requires(text: str) -> bool:
    return any(f'require("{m}")' in text or f"require('{m}')" in text for m in THROWING)


RULE = Rule(meta=META, doc=__doc__ or "", check_repo=check_repo)
