"""One sqlite3 connection shared across threads with check_same_thread=False and no lock.

What it finds:
    ``sqlite3.connect(..., check_same_thread=False)`` whose connection is stored where
    several threads reach it (a module-level or ``global`` name, an attribute such as
    ``self.conn``, or the result of an ``lru_cache``/``cache`` function), directly or through
    a factory in the same file that returns such a connection, in a file that creates no lock
    (``threading.Lock/RLock/Semaphore/Condition``), uses no ``with ...lock...:`` block and
    no ``threading.local``. Not flagged: in-memory and read-only databases, and
    connections a context manager opens in ``__enter__`` for one use.

Why it matters:
    check_same_thread=False only switches off the safety check; it does not make the
    connection safe to share. Transactions are per connection, so two threads' statements
    interleave in one transaction: one thread's commit commits the other's half-done work,
    one thread's rollback discards it, and cursors interleave results. Concurrent use also
    raises "Recursive use of cursors not allowed" and InterfaceError.

Example:
    conn = sqlite3.connect("app.db", check_same_thread=False)   # used by every request

Use instead:
    _local = threading.local()

    def get_connection():
        if not hasattr(_local, "conn"):
            _local.conn = sqlite3.connect("app.db", timeout=5)
        return _local.conn
    # or guard every use of the shared connection with one threading.Lock()
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import tree_sitter

from vibe_audit.chunker.parsing import node_text
from vibe_audit.rules import syntax
from vibe_audit.rules.base import Hit, Rule, RuleMeta, node_hit
from vibe_audit.rules.context import SYNC_CONNECT, FileContext, database_kind
from vibe_audit.schemas import Confidence, Severity

META = RuleMeta(
    id="sqlite-shared-connection-without-lock",
    title="sqlite3 connection shared across threads without a lock",
    severity=Severity.HIGH,
    confidence=Confidence.MEDIUM,
    categories={
        "sqlite": "Connection",
        "concurrency": "SQLite",
        "reliability": "Concurrency",
    },
    checklist=["sqlite.2D", "concurrency.1B", "concurrency.4B", "reliability.9.1"],
    problem=(
        "{target} holds one sqlite3 connection opened with check_same_thread=False, and this "
        "file has no lock around its use. Every thread that uses it shares one transaction "
        "state and one set of cursors."
    ),
    scenario=(
        "Two request threads write at once: thread A executes an INSERT, thread B's "
        "rollback after an error discards A's row, or B's commit publishes A's half-finished "
        "multi-statement update. Occasionally a call fails with 'Recursive use of cursors not "
        "allowed'."
    ),
    impact=(
        "Lost or partially committed writes and sporadic exceptions that only appear under "
        "concurrent load and are hard to reproduce."
    ),
    how_to_verify=(
        "Run 20 threads that each BEGIN, insert 100 rows and roll back every other batch "
        "through this connection; count the rows: the total is wrong or errors are raised."
    ),
    fix=(
        "Give each thread its own connection (threading.local, or open one per unit of work), "
        "or wrap every use of the shared connection in one `threading.Lock()`:\n"
        "    with _db_lock:\n"
        "        with conn:\n"
        "            conn.execute(...)"
    ),
    trade_off=(
        "A per-thread connection costs a file handle per thread; a single lock serializes all "
        "database access in the process (usually fine for SQLite, which has one writer)."
    ),
    effort_hours=(0.5, 2.0),
    needs_concurrency=True,
)

_LOCK_CALL = re.compile(r"\b(Lock|RLock|Semaphore|BoundedSemaphore|Condition)\(")
_CACHES = frozenset(
    {"cache", "lru_cache", "cached_property", "functools.cache", "functools.lru_cache"}
)


def check_file(ctx: FileContext) -> Iterator[Hit]:
    text = ctx.source.text
    if "check_same_thread" not in text or "sqlite3" not in ctx.imports:
        return
    if _LOCK_CALL.search(text) or "threading.local" in text or _with_lock(ctx.root):
        return
    calls = list(syntax.of_type(ctx.root, "call"))
    factories: set[str] = set()
    for call in calls:
        if syntax.callee(call) not in SYNC_CONNECT:
            continue
        flag = syntax.keyword_value(call, "check_same_thread")
        if flag is None or node_text(flag) != "False":
            continue
        if database_kind(call) in {"memory", "read-only"} or _per_use(call):
            continue
        target = _shared_target(call)
        if target is not None:
            yield _hit(ctx, call, target)
            continue
        function = syntax.enclosing(call, "function_definition")
        if function is not None and syntax.enclosing(call, "return_statement") is not None:
            factories.add(syntax.function_name(function))
    if not factories:
        return
    for call in calls:  # conn = factory() kept where several threads reach it
        name = syntax.callee(call)
        if name in SYNC_CONNECT or syntax.last_name(name) not in factories:
            continue
        target = _shared_target(call)
        if target is not None:
            yield _hit(ctx, call, target)


def _per_use(call: tree_sitter.Node) -> bool:
    """Opened in ``__enter__``: a context manager that opens and closes its connection
    around each use, not one connection kept for every thread."""
    function = syntax.enclosing(call, "function_definition")
    return function is not None and syntax.function_name(function) == "__enter__"


def _hit(ctx: FileContext, call: tree_sitter.Node, target: str) -> Hit:
    return node_hit(
        ctx,
        call,
        details={"target": target},
    )


def _with_lock(root: tree_sitter.Node) -> bool:
    """Any ``with <something named ...lock...>:`` in the file (a lock from elsewhere)."""
    return any("lock" in node_text(item).lower() for item in syntax.of_type(root, "with_item"))


def _shared_target(call: tree_sitter.Node) -> str | None:
    """Where the connection is kept, when more than one thread can reach it."""
    parent = call.parent
    function = syntax.enclosing(call, "function_definition")
    if parent is not None and parent.type == "assignment":
        left = parent.child_by_field_name("left")
        if left is not None and left.type == "attribute":
            return f"`{node_text(left)}`"
        if left is not None and left.type == "identifier":
            if function is None:
                return f"module-level `{node_text(left)}`"
            if node_text(left) in _globals(function):
                return f"the global `{node_text(left)}`"
    if function is not None and _cached(function):
        return f"the cached result of {syntax.function_name(function)}()"
    return None


def _globals(function: tree_sitter.Node) -> set[str]:
    """Names a function declares ``global``."""
    return {
        node_text(name)
        for statement in syntax.body_nodes(function)
        if statement.type == "global_statement"
        for name in statement.named_children
    }


def _cached(function: tree_sitter.Node) -> bool:
    decorated = function.parent
    if decorated is None or decorated.type != "decorated_definition":
        return False
    for decorator in decorated.named_children:
        if decorator.type != "decorator":
            continue
        name = node_text(decorator).lstrip("@").split("(")[0].strip()
        if name in _CACHES:
            return True
    return False


RULE = Rule(meta=META, doc=__doc__ or "", check_file=check_file)
