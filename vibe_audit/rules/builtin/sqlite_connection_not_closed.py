"""SQLite connection opened in a function and never closed.

What it finds:
    ``conn = sqlite3.connect(...)`` (or ``conn = get_connection()`` where the repository's
    ``get_connection`` returns a new sqlite3/aiosqlite connection; also awaited:
    ``conn = await aiosqlite.connect(...)``, ``conn = await open_db()``) in a function that
    never calls ``conn.close()``, does not return, yield or store the connection, does not
    hand it to ``contextlib.closing`` / an ExitStack, and does not open it in a ``with``
    block. A repository-level rule: the factory and its callers are usually in different
    files.

Why it matters:
    CPython closes a dropped connection only when the garbage collector gets to it. Until
    then it keeps its file descriptors and, if a write transaction was left open, its lock:
    other writers wait and fail with "database is locked", and a busy server runs out of
    file descriptors. ``with sqlite3.connect(...)`` does not close either (it only commits).

Example:
    async def get_order(order_id):
        conn = get_connection()
        return conn.execute("SELECT ...", (order_id,)).fetchone()

Use instead:
    from contextlib import closing
    with closing(get_connection()) as conn, conn:   # closes; commits or rolls back
        return conn.execute("SELECT ...", (order_id,)).fetchone()
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import tree_sitter

from vibe_audit.chunker.parsing import node_text
from vibe_audit.rules import syntax
from vibe_audit.rules.base import Hit, Rule, RuleMeta, node_hit
from vibe_audit.rules.context import (
    SQLITE_CONNECT,
    FileContext,
    RepoContext,
    database_kind,
    resolved_call,
)
from vibe_audit.schemas import Confidence, Severity

META = RuleMeta(
    id="sqlite-connection-not-closed",
    title="SQLite connection opened and never closed",
    severity=Severity.MEDIUM,
    confidence=Confidence.HIGH,
    categories={
        "sqlite": "Connection",
        "reliability": "Resource Leak",
        "concurrency": "SQLite",
        "checkpoint": "Concurrency",
    },
    checklist=[
        "sqlite.2C",
        "sqlite.5B",
        "sqlite.7D",
        "reliability.10.3",
        "concurrency.1B",
        "concurrency.sqlite_checklist.5",
        "checkpoint.6C",
        "sqlite.2A",
    ],
    problem=(
        "{function}() opens a connection with {opener}() into `{name}` and never closes it: "
        "the file descriptors, and any open transaction's lock, live until the garbage "
        "collector finalizes the object."
    ),
    scenario=(
        "Under load each call of {function}() leaves one more connection behind; one that was "
        "mid-transaction (an exception after a write) keeps the write lock, and other writers "
        "fail with 'database is locked' until it is collected."
    ),
    impact=(
        "File-descriptor growth proportional to traffic and intermittent lock errors that "
        "disappear on restart."
    ),
    how_to_verify=(
        "Call {function}() in a loop and watch `ls /proc/<pid>/fd | wc -l` (or lsof on the "
        "database file) grow."
    ),
    fix=(
        "Open it with `with closing({opener}()) as {name}:` (contextlib.closing), or close it "
        "in a finally block; for per-request handlers use a dependency that closes it."
    ),
    trade_off="None worth naming; reuse a pooled/long-lived connection if opening is hot.",
    effort_hours=(0.25, 0.5),
)

_HANDOFFS = frozenset({"closing", "contextlib.closing", "enter_context", "push", "callback"})


def check_repo(repo: RepoContext) -> Iterator[Hit]:
    if not repo.facts.connect_sites:
        return
    steps = {ctx.source.path: _steps(ctx) for ctx in repo.in_language("python")}
    factories = _factories(repo, steps)
    for ctx in repo.in_language("python"):
        for function, assignment, call in steps[ctx.source.path].assignments:
            opener = _opener(call, ctx, factories)
            left = assignment.child_by_field_name("left")
            if opener is None or left is None or left.type != "identifier":
                continue
            name = node_text(left)
            if not _released(name, list(syntax.body_nodes(function))):
                yield node_hit(
                    ctx,
                    assignment,
                    details={
                        "function": syntax.function_name(function),
                        "opener": opener,
                        "name": name,
                    },
                )


@dataclass
class _Steps:
    """A file's `x = f(...)` assignments and `return ...` statements, by enclosing function."""

    assignments: list[tuple[tree_sitter.Node, tree_sitter.Node, tree_sitter.Node]] = field(
        default_factory=list
    )  # (function, assignment, call on its right)
    returns: list[tuple[tree_sitter.Node, tree_sitter.Node]] = field(default_factory=list)


def _steps(ctx: FileContext) -> _Steps:
    steps = _Steps()
    if "connect" not in ctx.source.text and not ctx.local_names:
        return steps
    for node in syntax.of_type(ctx.root, "assignment", "return_statement"):
        function = syntax.enclosing(node, "function_definition", "lambda")
        if function is None or function.type == "lambda":
            continue
        if node.type == "assignment":
            right = _awaited(node.child_by_field_name("right"))
            if right is not None and right.type == "call":
                steps.assignments.append((function, node, right))
        elif node.named_children:
            value = _awaited(node.named_children[0])
            if value is not None:
                steps.returns.append((function, value))
    return steps


def _awaited(node: tree_sitter.Node | None) -> tree_sitter.Node | None:
    """The call under ``await``: ``conn = await aiosqlite.connect(...)`` opens a connection
    as ``conn = sqlite3.connect(...)`` does."""
    if node is not None and node.type == "await" and node.named_children:
        return node.named_children[0]
    return node


def _opener(call: tree_sitter.Node, ctx: FileContext, factories: set[str]) -> str | None:
    name = syntax.callee(call)
    if name in SQLITE_CONNECT:
        return None if database_kind(call) == "memory" else name
    resolved = resolved_call(name, ctx)
    return name if resolved is not None and resolved in factories else None


def _factories(repo: RepoContext, steps: dict[str, _Steps]) -> set[str]:
    """Functions that return a new connection: `return sqlite3.connect(...)`, or a variable
    assigned from one and returned, transitively through other factories."""
    factories: set[str] = set()
    changed = True
    while changed:
        changed = False
        for ctx in repo.in_language("python"):
            found = steps[ctx.source.path]
            opened = {
                (function.id, node_text(left))
                for function, assignment, call in found.assignments
                if (left := assignment.child_by_field_name("left")) is not None
                and _opener(call, ctx, factories)
            }
            for function, value in found.returns:
                name = syntax.function_name(function)
                if name in factories:
                    continue
                if (value.type == "call" and _opener(value, ctx, factories)) or (
                    function.id,
                    node_text(value),
                ) in opened:
                    factories.add(name)
                    changed = True
    return factories


def _released(name: str, nodes: list[tree_sitter.Node]) -> bool:
    """Closed, returned, yielded, stored elsewhere or handed to something that closes it."""
    for node in nodes:
        if node.type == "call":
            callee = syntax.callee(node)
            if callee == f"{name}.close":
                return True
            args = node.child_by_field_name("arguments")
            passed = args is not None and any(node_text(a) == name for a in args.named_children)
            if passed and (syntax.last_name(callee) in _HANDOFFS or "." not in callee):
                return True  # closing(conn), stack.enter_context(conn), helper(conn)
        elif node.type in {"return_statement", "yield"} and node.named_children:
            value = node.named_children[0]
            values = value.named_children if value.type in {"tuple", "expression_list"} else []
            if any(node_text(v) == name for v in [value, *values]):
                return True  # the caller owns it now
        elif node.type == "assignment":
            right = node.child_by_field_name("right")
            left = node.child_by_field_name("left")
            if right is not None and node_text(right) == name and left is not None:
                return True  # self.conn = conn, CACHE[key] = conn
        elif node.type == "with_item" and name in node_text(node):
            return True
    return False


RULE = Rule(meta=META, doc=__doc__ or "", check_repo=check_repo)
