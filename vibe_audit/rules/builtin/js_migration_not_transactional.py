"""Schema migration of several steps run outside a transaction (JS/TS).

What it finds:
    A JavaScript / TypeScript function that changes the schema in two or more steps, at
    least one of them an ``ALTER``, a ``DROP`` without ``IF EXISTS`` or a
    ``PRAGMA user_version = ...`` bump, with nothing making the steps one transaction:
    separate ``db.exec`` / ``db.run`` / ``client.query`` calls, or one SQLite ``exec()`` of
    a script of several statements (SQLite's exec runs each statement in autocommit).
    Not matched: a function with a ``BEGIN`` / ``SAVEPOINT``, steps inside
    ``db.transaction(() => ...)`` (or a function wrapped by it), one PostgreSQL
    ``query()`` of several statements (the server runs it as one transaction), knex /
    node-pg-migrate ``up`` / ``down`` functions (their runners wrap each migration in a
    transaction), MySQL (its DDL commits implicitly anyway), idempotent
    ``CREATE ... IF NOT EXISTS`` lists, and steps that each guard themselves (inside an
    ``if`` or their own ``try`` / ``catch``).

Why it matters:
    Each step commits on its own. A crash, a full disk or a failing statement halfway
    leaves the schema half-migrated: the first ALTERs are applied, the rest are not, and
    the version marker says either "old" (the rerun fails on "duplicate column") or
    "new" (the code then runs against columns that do not exist). The process fails on
    every start until someone repairs the database by hand.

Example:
    db.exec(`
      ALTER TABLE jobs ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;
      ALTER TABLE jobs ADD COLUMN last_error TEXT;
      PRAGMA user_version = 2;
    `);

Use instead:
    db.transaction(() => {
      db.exec("ALTER TABLE jobs ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0");
      db.exec("ALTER TABLE jobs ADD COLUMN last_error TEXT");
      db.pragma("user_version = 2");
    })();
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
    id="js-migration-not-transactional",
    title="Schema migration of several steps run outside a transaction",
    severity=Severity.MEDIUM,
    confidence=Confidence.MEDIUM,
    categories={"concurrency": "Transaction"},
    checklist=["concurrency.1D"],
    problem=(
        "{function} changes the schema in {count} steps ({steps}) with no transaction "
        "around them: each step commits on its own."
    ),
    scenario=(
        "The process stops or a statement fails after the first step: the schema is left "
        "half-migrated, and the next start either fails on the steps already applied or "
        "runs against columns that are missing."
    ),
    impact=(
        "The application fails on every start until the database is repaired by hand; "
        "data in a dropped or renamed table can be lost."
    ),
    how_to_verify=(
        "Make the last step of {function} fail (a typo in its SQL), run it, fix the typo "
        "and run it again: the rerun fails on the steps that were already applied."
    ),
    fix=(
        "Run the steps and the version bump in one transaction: better-sqlite3 / "
        "bun:sqlite `db.transaction(() => {{ ... }})()`, or `BEGIN` ... `COMMIT` with "
        "`ROLLBACK` on error (SQLite and PostgreSQL DDL is transactional)."
    ),
    trade_off="None for SQLite; a long migration holds the write lock until it commits.",
    effort_hours=(0.25, 1.0),
    languages=js.JS_LANGUAGES,
    experimental=True,
)

_DDL = re.compile(r"^\W*(CREATE|ALTER|DROP)\b", re.I)
_RISKY = re.compile(
    r"^\W*(ALTER\b|DROP\s+(TABLE|INDEX|VIEW|TRIGGER|COLUMN)\s+(?!IF\s+EXISTS)"
    r"|PRAGMA\s+user_version\s*=)",
    re.I,
)
_VERSION = re.compile(r"^\W*PRAGMA\s+user_version\s*=", re.I)
_BEGIN = re.compile(r"\b(BEGIN|SAVEPOINT|START\s+TRANSACTION)\b", re.I)
_SQLITE = frozenset({"better-sqlite3", "bun:sqlite", "node:sqlite", "sqlite3", "sqlite"})
_MYSQL = frozenset({"mysql", "mysql2", "mysql2/promise"})
_FRAMEWORK_PARAMS = re.compile(r"^\(?\s*(knex|pgm|queryInterface|db:\s*Kysely)", re.I)


def check_file(ctx: FileContext) -> Iterator[Hit]:
    text = ctx.source.text
    if syntax.is_test_path(ctx.source.path) or not re.search(r"\b(ALTER|DROP)\b", text):
        return
    if ctx.imports & _MYSQL:
        return
    sqlite = bool(ctx.imports & _SQLITE) or "sqlite" in text.lower()
    constants = pu.js_constants(ctx.root)
    prepared = pu.js_prepared(ctx.root, constants)
    wrapped = _wrapped_by_transaction(ctx.root)
    callbacks = [r for r in pu.js_transaction_regions(ctx.root, constants) if r.kind == "callback"]
    for function in syntax.of_type(ctx.root, *js.JS_FUNCTION_TYPES):
        name = js.js_function_name(function)
        if name in wrapped or name in {"up", "down"} or _framework(function):
            continue
        if any(r.start == function for r in callbacks):
            continue
        hit = _check_function(ctx, function, name, constants, prepared, sqlite, callbacks)
        if hit is not None:
            yield hit


def _check_function(
    ctx: FileContext,
    function: tree_sitter.Node,
    name: str,
    constants: dict[str, str],
    prepared: dict[str, str],
    sqlite: bool,
    callbacks: list[pu.JsRegion],
) -> Hit | None:
    steps: list[tuple[tree_sitter.Node, str]] = []
    for call in js.own_nodes(function, "call_expression"):
        sql = pu.js_call_sql(call, constants, prepared)
        if sql is None and js.js_callee(call).endswith(".pragma"):
            value = pu.js_first_string(call, constants)
            sql = f"PRAGMA {value}" if value is not None else None
        if sql is None:
            continue
        if _BEGIN.search(sql) and not _DDL.match(sql):
            return None  # the function manages its own transaction
        if any(pu.js_in_region(call, r) for r in callbacks):
            continue
        statements = [s.strip() for s in sql.split(";") if s.strip()]
        method = js.js_callee(call).rsplit(".", 1)[-1]
        if len(statements) > 1 and not (sqlite and method == "exec"):
            continue  # one multi-statement query: PostgreSQL runs it as one transaction
        if any(_BEGIN.match(s) for s in statements):
            return None
        for statement in statements:
            if _DDL.match(statement) or _VERSION.match(statement):
                steps.append((call, statement))
    if len(steps) < 2:
        return None
    risky = [(c, s) for c, s in steps if _RISKY.match(s)]
    calls = [c for c, _ in steps]
    if not risky or all(_guarded(c, function, calls) for c, _ in risky):
        return None
    drops = any(re.match(r"^\W*DROP\s+TABLE", s, re.I) for _, s in risky)
    first = steps[0][0]
    shown = ", ".join(sorted({" ".join(s.split()[:2]).upper() for _, s in steps}))
    return _with_severity(
        node_hit(
            ctx,
            first,
            until=steps[-1][0],
            named_by=first,
            details={
                "function": f"{name}()" if name != "<anonymous>" else "This function",
                "count": str(len(steps)),
                "steps": shown,
            },
        ),
        drops,
    )


def _with_severity(hit: Hit, drops: bool) -> Hit:
    if not drops:
        return hit
    return Hit(
        path=hit.path,
        start_line=hit.start_line,
        end_line=hit.end_line,
        symbol=hit.symbol,
        details=hit.details,
        severity=Severity.HIGH,
        severity_reason=(
            "HIGH: a DROP TABLE is among the steps, so a half-run migration can lose data."
        ),
    )


def _guarded(
    call: tree_sitter.Node, function: tree_sitter.Node, steps: list[tree_sitter.Node]
) -> bool:
    """The step alone sits in an ``if`` or in a ``try`` with a catch, within the function
    (it checks or tolerates its own prior application). An ``if`` or ``try`` around
    several steps guards none of them: the steps inside still commit one by one."""
    current = call.parent
    while current is not None and current != function:
        guard = current.type in {"if_statement", "ternary_expression"} or (
            current.type == "try_statement" and current.child_by_field_name("handler")
        )
        if guard:
            inside = {
                s.id
                for s in steps
                if current.start_byte <= s.start_byte and s.end_byte <= current.end_byte
            }
            return len(inside) <= 1
        current = current.parent
    return False


def _framework(function: tree_sitter.Node) -> bool:
    parameters = function.child_by_field_name("parameters") or function.child_by_field_name(
        "parameter"
    )
    return parameters is not None and bool(_FRAMEWORK_PARAMS.match(node_text(parameters)))


def _wrapped_by_transaction(root: tree_sitter.Node) -> set[str]:
    """Names of functions passed to ``x.transaction(name)``."""
    names: set[str] = set()
    for call in syntax.of_type(root, "call_expression"):
        if re.search(r"(^|\.)\$?transaction$", js.js_callee(call)):
            for arg in js.js_arguments(call):
                if arg.type == "identifier":
                    names.add(node_text(arg))
                elif arg.type == "member_expression":
                    names.add(node_text(arg).rsplit(".", 1)[-1])
    return names


RULE = Rule(meta=META, doc=__doc__ or "", check_file=check_file)
