"""SQLite connection opened in a function and never closed.

What it finds:
    ``conn = sqlite3.connect(...)`` (or ``conn = get_connection()`` where the repository's
    ``get_connection`` returns a new sqlite3/aiosqlite connection) in a function that never
    calls ``conn.close()``, does not return, yield or store the connection, does not hand it
    to ``contextlib.closing`` / an ExitStack, and does not open it in a ``with`` block. A
    repository-level rule: the factory and its callers are usually in different files.

Why it matters:
    CPython closes a dropped connection only when the garbage collector gets to it. Until
    then it keeps its file descriptors and, if a write transaction was left open, its lock:
    other writers wait and fail with "database is locked", and a busy server runs out of
    file descriptors. ``with sqlite3.connect(...)`` does not close either (it only commits).

Example:
    async def get_document(doc_id):
        conn = get_connection()
        return conn.execute("SELECT ...", (doc_id,)).fetchone()

Use instead:
    from contextlib import closing
    with closing(get_connection()) as conn, conn:   # closes; commits or rolls back
        return conn.execute("SELECT ...", (doc_id,)).fetchone()
"""

from __future__ import annotations

from collections.abc import Iterator

import tree_sitter

from vibe_audit.chunker.parsing import node_text
from vibe_audit.rules import syntax
from vibe_audit.rules.base import Hit, Rule, RuleMeta
from vibe_audit.rules.context import SQLITE_CONNECT, FileContext, RepoContext, resolved_call
from vibe_audit.schemas import Confidence, Severity

META = RuleMeta(
    id="sqlite-connection-not-closed",
    title="SQLite connection opened and never closed",
    severity=Severity.MEDIUM,
    confidence=Confidence.HIGH,
    categories={"sqlite": "Connection", "reliability": "Resource Leak", "concurrency": "SQLite"},
    checklist=[
        "sqlite.2C",
        "sqlite.7D",
        "reliability.10.3",
        "concurrency.1B",
        "concurrency.sqlite_checklist.5",
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
    factories = _factories(repo)
    for ctx in repo.in_language("python"):
        for function in syntax.functions(ctx.root):
            yield from _leaks(ctx, function, factories)


def _opener(call: tree_sitter.Node, ctx: FileContext, factories: set[str]) -> str | None:
    name = syntax.callee(call)
    if name in SQLITE_CONNECT:
        return name
    resolved = resolved_call(name, ctx)
    return name if resolved is not None and resolved in factories else None


def _factories(repo: RepoContext) -> set[str]:
    """Functions that return a new connection: `return sqlite3.connect(...)`, or a variable
    assigned from one and returned, transitively through other factories."""
    factories: set[str] = set()
    changed = True
    while changed:
        changed = False
        for ctx in repo.in_language("python"):
            for function in syntax.functions(ctx.root):
                name = syntax.function_name(function)
                if name in factories:
                    continue
                opened: set[str] = set()
                for node in syntax.body_nodes(function):
                    if node.type == "assignment":
                        right = node.child_by_field_name("right")
                        left = node.child_by_field_name("left")
                        if (
                            right is not None
                            and right.type == "call"
                            and left is not None
                            and _opener(right, ctx, factories)
                        ):
                            opened.add(node_text(left))
                    elif node.type == "return_statement" and node.named_children:
                        value = node.named_children[0]
                        returns_new = (value.type == "call" and _opener(value, ctx, factories)) or (
                            node_text(value) in opened
                        )
                        if returns_new:
                            factories.add(name)
                            changed = True
                            break
    return factories


def _leaks(ctx: FileContext, function: tree_sitter.Node, factories: set[str]) -> Iterator[Hit]:
    nodes = list(syntax.body_nodes(function))
    for node in nodes:
        if node.type != "assignment":
            continue
        left, right = node.child_by_field_name("left"), node.child_by_field_name("right")
        if left is None or right is None or left.type != "identifier" or right.type != "call":
            continue
        opener = _opener(right, ctx, factories)
        if opener is None:
            continue
        name = node_text(left)
        if not _released(name, nodes):
            yield Hit(
                path=ctx.source.path,
                start_line=syntax.line(node),
                end_line=syntax.end_line(node),
                symbol=syntax.qualified_name(node),
                details={
                    "function": syntax.function_name(function),
                    "opener": opener,
                    "name": name,
                },
            )


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
