"""Schema migration run as separately committed statements (rusqlite).

What it finds:
    A non-test Rust function, in a file using rusqlite (tokio-rusqlite, r2d2 / deadpool
    connections included), that changes a SQLite schema in two or more steps, at least one
    of them an ``ALTER``, a ``DROP`` without ``IF EXISTS`` or a ``user_version`` bump
    (``PRAGMA user_version = N`` or ``pragma_update(None, "user_version", N)``), with no
    transaction around them: the steps are ``execute_batch`` scripts (a literal or a file
    ``const``) and ``execute`` / ``pragma_update`` calls, and the function opens no
    transaction (``transaction()``, ``unchecked_transaction()``,
    ``transaction_with_behavior()``, ``savepoint()``, a ``BEGIN`` statement), runs them on
    no ``Transaction`` (a receiver named ``tx`` / ``txn`` / ``transaction`` or a parameter
    typed ``Transaction``), and is not called in this file from a function that opens
    one. ``execute_batch`` runs each statement of its script in autocommit mode unless a
    transaction is open. ``CREATE ... IF NOT EXISTS`` and ``DROP ... IF EXISTS`` are not
    steps (re-runnable); migration libraries (sqlx ``migrate!``, refinery,
    rusqlite_migration) run each migration in a transaction and are not matched.

Why it matters:
    A migration that stops midway (the process is killed during a deploy, a statement fails
    on data it did not expect, the disk fills up) leaves the schema half-changed: a column
    added while ``user_version`` still says the old version, so the next start runs the
    ALTER again and fails with "duplicate column name", or a table dropped before its
    replacement was renamed into place, so its rows are gone. SQLite supports
    transactional DDL; the migration only has to ask for it.

Example:
    if version < 2 {
        conn.execute_batch(
            "ALTER TABLE items ADD COLUMN hidden INTEGER NOT NULL DEFAULT 0;
             CREATE INDEX idx_items_hidden ON items (hidden);",
        )?;
        conn.pragma_update(None, "user_version", 2)?;
    }

Use instead:
    if version < 2 {
        let tx = conn.transaction()?;
        tx.execute_batch(
            "ALTER TABLE items ADD COLUMN hidden INTEGER NOT NULL DEFAULT 0;
             CREATE INDEX idx_items_hidden ON items (hidden);",
        )?;
        tx.pragma_update(None, "user_version", 2)?;
        tx.commit()?;
    }
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

import tree_sitter

from vibe_audit.chunker.parsing import node_text
from vibe_audit.rules import rust, syntax
from vibe_audit.rules.base import Hit, Rule, RuleMeta, node_hit
from vibe_audit.rules.context import FileContext
from vibe_audit.rules.sqltext import SQL_COMMENT
from vibe_audit.schemas import Confidence, Severity

META = RuleMeta(
    id="rust-rusqlite-migration-not-transactional",
    title="Schema migration runs as separately committed statements (rusqlite)",
    severity=Severity.MEDIUM,
    confidence=Confidence.MEDIUM,
    categories={"concurrency": "Transaction"},
    checklist=["concurrency.1D"],
    problem=(
        "{function}() changes the schema in {count} steps ({steps}) with no transaction "
        "around them: outside a transaction rusqlite commits every statement on its own, "
        "execute_batch included."
    ),
    scenario=(
        "The process stops or a statement fails after the first step: the schema is "
        "half-migrated ({first} applied, the rest not), and the next start either repeats "
        "the applied step and fails, or runs against a schema that matches no version."
    ),
    impact=(
        "An application that no longer starts until someone repairs the database by hand; "
        "with a DROP before its replacement is in place, lost rows."
    ),
    how_to_verify=(
        "Make the second step fail (return an error right before it, or point it at a "
        "missing table), run {function}() on a copy of the database, then inspect the "
        "schema (`.schema`, `PRAGMA user_version`): the first step is applied."
    ),
    fix=(
        "Run all steps, and the user_version bump, in one transaction: "
        "`let tx = conn.transaction()?;` (with only `&Connection`: "
        "`conn.unchecked_transaction()?`), the steps on `tx` "
        '(`tx.execute_batch(..)`, `tx.pragma_update(None, "user_version", n)`), then '
        '`tx.commit()?`; or wrap the script in "BEGIN; ... COMMIT;". A migration library '
        "(rusqlite_migration, refinery) does this per migration."
    ),
    trade_off=(
        "The migration holds the write lock until it commits; fine at startup, but a "
        "long data backfill inside it blocks other writers meanwhile."
    ),
    effort_hours=(0.25, 1.0),
    languages=["rust"],
    experimental=True,
)

_TRANSACTIONS = frozenset(
    {"transaction", "unchecked_transaction", "transaction_with_behavior", "savepoint",
     "savepoint_with_name"}
)  # fmt: skip
_TX_RECEIVER = re.compile(r"^(tx|txn|trans|transaction|\w*_tx|\w*_txn|\w*_transaction)$")
_BEGIN = re.compile(r"^\s*(BEGIN|SAVEPOINT)\b", re.I)
_VERSION = re.compile(r"^\s*PRAGMA\s+(\w+\.)?user_version\s*=", re.I)
_GUARDED = re.compile(r"^\s*(CREATE\b.*?\bIF\s+NOT\s+EXISTS|DROP\b.*?\bIF\s+EXISTS)\b", re.I | re.S)
_KINDS = re.compile(r"^\s*(ALTER|DROP|CREATE|INSERT|UPDATE|DELETE|REPLACE)\b", re.I)


@dataclass(frozen=True)
class _Step:
    kind: str  # ALTER, DROP, CREATE, VERSION, DML
    call: tree_sitter.Node


def check_file(ctx: FileContext) -> Iterator[Hit]:
    text = ctx.source.text
    if "rusqlite" not in text or syntax.is_test_path(ctx.source.path):
        return
    if not re.search(r"\b(ALTER|DROP|user_version)\b", text, re.I):
        return
    constants = rust.string_constants(ctx.root)
    functions = list(rust.rust_functions(ctx.root))
    in_transaction = _called_in_transactions(functions)
    for function in functions:
        name = rust.rust_function_name(function)
        if name in in_transaction or rust.is_rust_test(function, ctx.source.path):
            continue
        found = _steps(function, constants)
        if found is None:
            continue
        steps = next((group for group in _units(found) if _one_migration(group)), None)
        if steps is None:
            continue
        yield node_hit(
            ctx,
            steps[0].call,
            until=steps[-1].call,
            named_by=function,
            details={
                "function": name,
                "count": str(len(steps)),
                "steps": ", ".join(_describe(steps)),
                "first": steps[0].kind if steps[0].kind != "VERSION" else "the version bump",
            },
        )


def _one_migration(steps: list[_Step]) -> bool:
    return len(steps) >= 2 and any(s.kind in {"ALTER", "DROP", "VERSION"} for s in steps)


def _units(steps: list[_Step]) -> list[list[_Step]]:
    """The steps grouped by the block they run in: each ``if version < N { .. }`` of a
    versioned migration is one unit of its own."""
    groups: dict[int, list[_Step]] = {}
    for step in steps:
        block = step.call.parent
        while block is not None and block.type != "block":
            block = block.parent
        groups.setdefault(block.id if block is not None else 0, []).append(step)
    return list(groups.values())


def _describe(steps: list[_Step]) -> list[str]:
    counts: dict[str, int] = {}
    for step in steps:
        counts[step.kind] = counts.get(step.kind, 0) + 1
    words = {"VERSION": "user_version bump"}
    return [
        f"{n} {words.get(kind, kind)}" if n == 1 else f"{n} {words.get(kind, kind)}s"
        for kind, n in counts.items()
    ]


def _steps(function: tree_sitter.Node, constants: dict[str, str]) -> list[_Step] | None:
    """The schema steps the function runs outside a transaction; None when it runs them in
    one (or opens one anywhere)."""
    if next(rust.rust_method_calls(function, *_TRANSACTIONS), None) is not None:
        return None
    transaction_params = _transaction_parameters(function)
    steps: list[_Step] = []
    for call in rust.rust_method_calls(function, "execute", "execute_batch", "pragma_update"):
        target = rust.receiver(call)
        if target is None:
            continue
        root = re.split(r"[.\s(\[]", node_text(target).lstrip("&*").strip(), maxsplit=1)[0]
        last = re.split(r"[.:]", node_text(target))[-1]
        if _TX_RECEIVER.match(root) or _TX_RECEIVER.match(last) or root in transaction_params:
            return None
        if not _must_succeed(call):
            continue  # `let _ = conn.execute("ALTER ..")`: a failure (done before) is fine
        args = rust.call_arguments(call)
        method = rust.method_name(call)
        if method == "pragma_update":
            if len(args) >= 2 and (rust.rust_string(args[1]) or "").lower() == "user_version":
                steps.append(_Step("VERSION", call))
            continue
        if not args:
            continue
        sql = rust.rust_string(args[0])
        if sql is None and args[0].type == "identifier":
            sql = constants.get(node_text(args[0]))
        if sql is None:
            continue
        for statement in _statements(sql):
            if _BEGIN.match(statement):
                return None
            kind = _kind(statement)
            if kind is not None:
                steps.append(_Step(kind, call))
    return steps


_ADAPTERS = frozenset({"map_err", "context", "with_context", "wrap_err", "wrap_err_with"})


def _must_succeed(call: tree_sitter.Node) -> bool:
    """The step's result is propagated (``?``, after ``.map_err(..)`` / ``.context(..)``)
    or unwrapped: its failure stops the migration. A result that is dropped or inspected
    (``let _ =``, ``.ok()``, ``if let Err``) marks a step meant to be re-run safely."""
    node = call
    while True:
        parent = node.parent
        if parent is not None and parent.type == "await_expression":
            node = parent
            continue
        if parent is not None and parent.type == "field_expression":
            outer = parent.parent
            method = rust.method_name(outer) if outer is not None else ""
            if outer is not None and method in _ADAPTERS:
                node = outer
                continue
            return method in {"unwrap", "expect"}
        return parent is not None and parent.type == "try_expression"


def _statements(sql: str) -> list[str]:
    return [s.strip() for s in SQL_COMMENT.sub(" ", sql).split(";") if s.strip()]


def _kind(statement: str) -> str | None:
    if _VERSION.match(statement):
        return "VERSION"
    if _GUARDED.match(statement):
        return None
    match = _KINDS.match(statement)
    if match is None:
        return None
    kind = match.group(1).upper()
    return "DML" if kind in {"INSERT", "UPDATE", "DELETE", "REPLACE"} else kind


def _transaction_parameters(function: tree_sitter.Node) -> set[str]:
    names: set[str] = set()
    params = function.child_by_field_name("parameters")
    for param in params.named_children if params is not None else []:
        kind = param.child_by_field_name("type")
        pattern = param.child_by_field_name("pattern")
        if kind is not None and pattern is not None and "Transaction" in node_text(kind):
            names.add(node_text(pattern).removeprefix("mut ").strip())
    return names


def _called_in_transactions(functions: list[tree_sitter.Node]) -> set[str]:
    """Names of the functions this file calls from a function that opens a transaction
    (``migrate_v2(&tx)`` inside ``let tx = conn.transaction()?; ... tx.commit()``)."""
    names: set[str] = set()
    for function in functions:
        if next(rust.rust_method_calls(function, *_TRANSACTIONS), None) is None:
            continue
        for call in syntax.of_type(function, "call_expression"):
            callee = call.child_by_field_name("function")
            if callee is None:
                continue
            names.add(re.split(r"[.:]", node_text(callee))[-1])
    return names


RULE = Rule(meta=META, doc=__doc__ or "", check_file=check_file)
