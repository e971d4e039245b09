"""Rows inserted in a loop into a table with no natural key: a retry inserts them twice.

What it finds:
    ``INSERT INTO t`` executed inside a loop (or with ``executemany``) where table ``t`` is
    declared in the repository with only a surrogate key (``INTEGER PRIMARY KEY``,
    AUTOINCREMENT, SERIAL, no UNIQUE constraint or unique index), the INSERT has no
    ``ON CONFLICT`` / ``OR IGNORE`` / ``OR REPLACE``, and the function does not first delete
    the rows it is about to write. A repository-level rule: the schema and the insert are
    usually in different files.

Why it matters:
    Jobs get retried: after a crash, a timeout, a "retry" button. The second run inserts
    every child row again, and nothing in the database notices. Line items, events and log rows
    are then duplicated for good.

Example:
    CREATE TABLE order_items (id INTEGER PRIMARY KEY AUTOINCREMENT, order_id TEXT, position INT)
    for item in items:
        conn.execute("INSERT INTO order_items (order_id, position) VALUES (?, ?)", ...)

Use instead:
    CREATE TABLE order_items (..., UNIQUE (order_id, position))
    conn.execute("INSERT INTO order_items (...) VALUES (?, ?) "
                 "ON CONFLICT (order_id, position) DO UPDATE SET sku = excluded.sku", ...)
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import tree_sitter

from vibe_audit.rules import syntax
from vibe_audit.rules.base import Hit, Rule, RuleMeta, node_hit
from vibe_audit.rules.context import RepoContext
from vibe_audit.rules.sql import declared_tables, sql_calls
from vibe_audit.schemas import Confidence, Severity

META = RuleMeta(
    id="insert-without-idempotency-key",
    title="Rows inserted in a loop into a table with no unique key (retries duplicate them)",
    severity=Severity.HIGH,
    confidence=Confidence.MEDIUM,
    categories={"concurrency": "Idempotency", "guardrails": "Constraints"},
    checklist=["concurrency.5A", "concurrency.5B", "concurrency.5D", "guardrails.3B"],
    problem=(
        "{function}() inserts into {table} once per item, and {table} has no natural key "
        "(only a surrogate id, no UNIQUE constraint): running {function}() again for the same "
        "input inserts every row a second time."
    ),
    scenario=(
        "The job fails after the inserts (a later step raises, the worker is killed) and is "
        "retried, or two workers pick up the same input: {table} now holds each row twice."
    ),
    impact=(
        "Duplicated child rows are permanent: counts, exports and joins are wrong until "
        "someone de-duplicates by hand."
    ),
    how_to_verify=(
        "Run {function}() twice for one input, then `SELECT <parent key>, COUNT(*) FROM "
        "{table} GROUP BY ...`: every row is there twice."
    ),
    fix=(
        "Give {table} the natural key (e.g. UNIQUE (parent_id, position)) and write with "
        "INSERT ... ON CONFLICT DO UPDATE / INSERT OR REPLACE, or delete the parent's rows in "
        "the same transaction before inserting."
    ),
    trade_off=(
        "Adding a unique constraint to an existing table needs a migration that first removes "
        "the duplicates already there."
    ),
    effort_hours=(1.0, 3.0),
    needs_concurrency=True,
)

_UPSERT = re.compile(r"ON\s+CONFLICT|INSERT\s+OR\s+(IGNORE|REPLACE)|ON\s+DUPLICATE\s+KEY", re.I)
_LOOPS = ("for_statement", "while_statement")


def check_repo(repo: RepoContext) -> Iterator[Hit]:
    tables = None
    for ctx in repo.in_language("python"):
        if "INSERT" not in ctx.source.text.upper():
            continue
        for function in syntax.functions(ctx.root):
            calls = sql_calls(function)
            deleted = {c.table for c in calls if c.verb == "DELETE"}
            for insert in calls:
                if insert.verb != "INSERT" or insert.table in deleted:
                    continue
                if _UPSERT.search(insert.sql) or not _repeated(insert.call):
                    continue
                if tables is None:
                    tables = declared_tables(repo)
                table = tables.get(insert.table)
                if table is None or table.natural_key:
                    continue
                yield node_hit(
                    ctx,
                    insert.call,
                    details={"function": syntax.function_name(function), "table": insert.table},
                )
                break  # one finding per function


def _repeated(call: tree_sitter.Node) -> bool:
    """executemany, or a call inside a loop of its function."""
    if syntax.last_name(syntax.callee(call)) == "executemany":
        return True
    loop = syntax.enclosing(call, *_LOOPS, "function_definition")
    return loop is not None and loop.type in _LOOPS


RULE = Rule(meta=META, doc=__doc__ or "", check_repo=check_repo)
