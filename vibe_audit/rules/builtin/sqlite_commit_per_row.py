"""A commit inside a loop over rows: one transaction (and one fsync) per row.

What it finds:
    A ``for`` loop whose body executes SQL and calls ``.commit()`` unconditionally on every
    iteration, in a file that uses SQLite (imports sqlite3/aiosqlite, or calls a repository
    function that opens a sqlite3 connection). Commits under an ``if`` (batching every N
    rows) and retry loops (``break``/``return`` in the body, ``range(3)``) are not flagged.

Why it matters:
    Every commit is a separate write transaction: SQLite takes the write lock, appends to
    the journal and fsyncs, per row. A 10,000-row import takes 10,000 fsyncs instead of
    one, holds the write lock for most of its run, and other writers starve and time out
    with "database is locked". A crash midway also leaves a partial import committed.

Example:
    for item in items:
        conn.execute("INSERT INTO items (order_id, position, sku) VALUES (?, ?, ?)", item)
        conn.commit()

Use instead:
    with conn:   # one transaction
        conn.executemany("INSERT INTO items (order_id, position, sku) VALUES (?, ?, ?)", items)
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import tree_sitter

from vibe_audit.chunker.parsing import node_text
from vibe_audit.rules import syntax
from vibe_audit.rules.base import Hit, Rule, RuleMeta, node_hit
from vibe_audit.rules.context import FileContext, RepoContext, resolved_call
from vibe_audit.rules.literals import literal_text
from vibe_audit.rules.sql import is_sqlite_file
from vibe_audit.schemas import Confidence, Severity

META = RuleMeta(
    id="sqlite-commit-per-row",
    title="Commit inside a loop (one write transaction per row)",
    severity=Severity.MEDIUM,
    confidence=Confidence.HIGH,
    categories={"sqlite": "Write Contention", "concurrency": "Transaction"},
    checklist=[
        "sqlite.3D",
        "sqlite.4B",
        "sqlite.6D",
        "concurrency.1A",
        "concurrency.4A",
        "concurrency.sqlite_checklist.6",
        "concurrency.sqlite_checklist.7",
        "sqlite.6B",
    ],
    problem=(
        "{function}() calls `{commit}` on every iteration of `for {loop}`: each row is its "
        "own write transaction, with its own write lock and fsync."
    ),
    scenario=(
        "{function}() runs over 500 rows while other code writes to the same database: the "
        "loop takes and releases the write lock 500 times and fsyncs 500 times, the other "
        "writers keep finding the database locked, and a crash midway leaves half the rows "
        "committed."
    ),
    impact=(
        "Writes 10-100x slower than one batched transaction, 'database is locked' errors for "
        "concurrent writers, and partial results after a failure."
    ),
    how_to_verify=(
        "Time {function}() with 1,000 rows, then with the commit moved after the loop; run a "
        "second writer meanwhile and count its lock errors."
    ),
    fix=(
        "Commit once after the loop (or every few thousand rows) inside one transaction:\n"
        "    with conn:\n"
        "        conn.executemany(sql, rows)"
    ),
    trade_off=(
        "One large transaction holds the write lock for its whole duration; for very large "
        "imports commit in batches of 1,000-10,000 rows. A failure now rolls back the batch: "
        "rows committed one by one before stay committed no longer, so make the import "
        "re-runnable (INSERT OR IGNORE / ON CONFLICT) if partial progress mattered."
    ),
    effort_hours=(0.25, 1.0),
)

_SCOPE_STOP = frozenset({"function_definition", "lambda", "class_definition"})
_LOOP_STOP = _SCOPE_STOP | {"for_statement", "while_statement"}
_CONDITIONAL = frozenset(
    {"if_statement", "elif_clause", "else_clause", "except_clause", "match_statement",
     "conditional_expression", "boolean_operator", "for_statement", "while_statement"}
)  # fmt: skip
_READ_SQL = re.compile(r"^\W*(SELECT|WITH|PRAGMA|EXPLAIN)\b", re.I)
_ROW_EXECUTE = frozenset({"execute", "exec_driver_sql", "execute_insert"})
_LITERAL_ITERABLES = frozenset({"tuple", "list", "set", "string", "concatenated_string"})
_SMALL_RANGE = re.compile(r"^range\(\s*\d\s*\)$")


def check_repo(repo: RepoContext) -> Iterator[Hit]:
    seeds = repo.facts.sync_db_functions
    for ctx in repo.in_language("python"):
        if "commit" not in ctx.source.text:
            continue
        if not (is_sqlite_file(ctx) or _calls_db_function(ctx, seeds)):
            continue
        yield from _check(ctx)


def _calls_db_function(ctx: FileContext, seeds: set[str]) -> bool:
    if not seeds or not ctx.local_names & seeds:
        return False
    return any(
        resolved_call(syntax.callee(call), ctx) in seeds
        for call in syntax.of_type(ctx.root, "call")
    )


def _check(ctx: FileContext) -> Iterator[Hit]:
    for loop in syntax.of_type(ctx.root, "for_statement"):
        body = loop.child_by_field_name("body")
        if body is None or _retry_loop(loop, body):
            continue
        calls = list(syntax.of_type(body, "call", stop_at=_SCOPE_STOP))
        names = [syntax.last_name(syntax.callee(c)).lower() for c in calls]
        if any("connect" in name for name in names):
            continue  # one database per iteration
        if not any(
            name in _ROW_EXECUTE and _may_write(c) for c, name in zip(calls, names, strict=True)
        ):
            continue  # no per-row write (executemany is a batch; SELECTs take no write lock)
        commit = next((c for c in calls if _every_iteration_commit(c, loop)), None)
        if commit is None:
            continue
        function = syntax.enclosing(loop, "function_definition")
        left = loop.child_by_field_name("left")
        right = loop.child_by_field_name("right")
        yield node_hit(
            ctx,
            commit,
            details={
                "function": syntax.function_name(function) if function else "<module>",
                "commit": node_text(commit),
                "loop": f"{node_text(left) if left else '...'} in "
                f"{node_text(right) if right else '...'}",
            },
        )


def _may_write(call: tree_sitter.Node) -> bool:
    """An execute whose SQL is a write, or is not a literal (so may be one)."""
    args = syntax.positional_args(call)
    sql = literal_text(args[0]) if args else None
    return sql is None or not _READ_SQL.match(sql)


def _every_iteration_commit(call: tree_sitter.Node, loop: tree_sitter.Node) -> bool:
    """``x.commit()`` that runs on every pass of ``loop`` (no branch or inner loop between)."""
    name = syntax.callee(call)
    if syntax.last_name(name) != "commit" or "." not in name or syntax.positional_args(call):
        return False
    current = call.parent
    while current is not None and current.id != loop.id:
        if current.type in _CONDITIONAL:
            return False
        current = current.parent
    return current is not None


def _retry_loop(loop: tree_sitter.Node, body: tree_sitter.Node) -> bool:
    right = loop.child_by_field_name("right")
    if right is not None and (
        _SMALL_RANGE.match(node_text(right)) or right.type in _LITERAL_ITERABLES
    ):
        return True  # a retry loop, or a fixed handful of statements (one per table)
    return any(
        n.type in {"break_statement", "return_statement"}
        for n in syntax.walk(body, stop_at=_LOOP_STOP)
    )


RULE = Rule(meta=META, doc=__doc__ or "", check_repo=check_repo)
