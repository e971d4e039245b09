"""Background processing of a row started before the INSERT that creates it commits.

What it finds:
    A Python function that INSERTs a row (the SQL a literal, ``text("...")`` or a string
    constant of the file) and then hands work about it to something that runs on its own
    (``threading.Thread(...).start()``, ``executor.submit(...)``,
    ``loop.run_in_executor(...)``, a Celery ``.delay()`` / ``.apply_async()``, an RQ
    ``.enqueue()``, a ``queue.put()``, or ``asyncio.create_task()`` with an ``await``
    before the commit) before the commit: the commit comes later in the same function, or
    the INSERT and the hand-off sit in one ``with conn:`` / ``engine.begin()`` block that
    commits when it ends. The hand-off must pass a name the INSERT also uses (the id, the
    path) or the new row id (``cursor.lastrowid``). ``BackgroundTasks.add_task()`` is not
    matched: FastAPI / Starlette run those tasks after the response, so after the handler's
    commit.

Why it matters:
    The worker starts at once, usually on its own connection, and reads the row before the
    inserting transaction has committed: it finds nothing ("job not found"), or stale data,
    and gives up or fails; under load the outcome depends on timing, so it passes in tests
    and fails in production. If the insert is then rolled back, the worker has processed a
    row that never existed.

Example:
    cur = conn.execute("INSERT INTO documents (path, status) VALUES (?, 'new')", (path,))
    doc_id = cur.lastrowid
    executor.submit(process_document, doc_id)   # reads documents on its own connection
    conn.commit()

Use instead:
    cur = conn.execute("INSERT INTO documents (path, status) VALUES (?, 'new')", (path,))
    doc_id = cur.lastrowid
    conn.commit()                                # the row is visible to other connections
    executor.submit(process_document, doc_id)
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import tree_sitter

from vibe_audit.chunker.parsing import node_text
from vibe_audit.rules import pytxn_util as tx
from vibe_audit.rules import syntax
from vibe_audit.rules.base import Hit, Rule, RuleMeta, node_hit
from vibe_audit.rules.context import FileContext, RepoContext
from vibe_audit.schemas import Confidence, Severity

META = RuleMeta(
    id="sqlite-work-started-before-commit",
    title="Background processing started before the inserted row is committed",
    severity=Severity.HIGH,
    confidence=Confidence.MEDIUM,
    categories={"sqlite": "Async", "concurrency": "Race Condition"},
    checklist=["sqlite.6C"],
    problem=(
        "{function}() inserts into {table} and starts `{spawn}` (line {spawn_line}) before "
        "the insert commits ({commit}): the background work can run before the row is "
        "visible to other connections."
    ),
    scenario=(
        "The background work starts right away on its own connection and reads {table}: "
        "the uncommitted row is not there yet, so it fails or skips the item; the item "
        "then stays unprocessed, or, if the insert rolls back, work is done for a row "
        "that does not exist."
    ),
    impact=(
        "Intermittent 'not found' failures and items that are never processed, depending "
        "on timing, so they pass tests and show up under load."
    ),
    how_to_verify=(
        "Add a short sleep between the hand-off and the commit in {function}() and make "
        "the background work read the row on its own connection: it does not find it."
    ),
    fix=(
        "Commit the insert first, then start the background work (move `{spawn}` after "
        "the commit, or out of the `with` block)."
    ),
    trade_off=(
        "If starting the work then fails, the row is committed without a worker: keep a "
        "status column and a sweeper that re-queues rows left 'new'."
    ),
    effort_hours=(0.1, 0.5),
    experimental=True,
    needs_concurrency=True,
)

_POOL_METHODS = frozenset({"submit", "run_in_executor", "apply_async", "map_async"})
_TASK_METHODS = frozenset({"delay", "apply_async", "enqueue", "enqueue_call", "send_task", "kiq"})
_ASYNC_TASKS = frozenset({"create_task", "ensure_future"})
_QUEUE = re.compile(r"(^|_)(q|queue|jobs|tasks|work|inbox)$|queue", re.I)
_THREAD = re.compile(r"(^|\.)(Thread|Process|Timer)$")
_CONNECTION_WORDS = frozenset({"self", "conn", "db", "cur", "cursor", "connection", "con"})


def check_repo(repo: RepoContext) -> Iterator[Hit]:
    for ctx in tx.database_files(repo):
        if "INSERT" not in ctx.source.text.upper():
            continue
        for function in syntax.functions(ctx.root):
            hit = _check_function(ctx, function)
            if hit is not None:
                yield hit


def _check_function(ctx: FileContext, function: tree_sitter.Node) -> Hit | None:
    inserts = [
        s
        for s in tx.statements(function, tx.constants_of(ctx, function))
        if s.verb in {"INSERT", "REPLACE"} and s.table
    ]
    if not inserts:
        return None
    threads = _thread_names(function)
    spawns = [c for c in syntax.body_nodes(function, "call") if _spawns(c, threads)]
    if not spawns:
        return None
    commit_calls = tx.commits(function)
    blocks = tx.transaction_blocks(function)
    for insert in inserts:
        names = _row_names(insert.call, function)
        for spawn in spawns:
            if spawn.start_byte < insert.call.end_byte or tx.exclusive(insert.call, spawn):
                continue
            if not names & _spawn_identifiers(spawn, threads):
                continue
            commit = _commit_after(insert.call, spawn, commit_calls, blocks)
            if commit is None:
                continue
            if syntax.last_name(syntax.callee(spawn)) in _ASYNC_TASKS and not _awaits_between(
                function, spawn, commit
            ):
                continue  # the task runs at the next await, after a synchronous commit
            return node_hit(
                ctx,
                insert.call,
                until=spawn,
                named_by=function,
                details={
                    "function": syntax.function_name(function),
                    "table": insert.table,
                    "spawn": node_text(spawn).split("(", 1)[0] + "(...)",
                    "spawn_line": str(syntax.line(spawn)),
                    "commit": _describe(commit),
                },
            )
    return None


def _thread_names(function: tree_sitter.Node) -> dict[str, tree_sitter.Node]:
    """Names bound to ``Thread(...)`` / ``Process(...)`` in the function, with the call."""
    names: dict[str, tree_sitter.Node] = {}
    for assignment in syntax.body_nodes(function, "assignment"):
        left, right = (
            assignment.child_by_field_name("left"),
            assignment.child_by_field_name("right"),
        )
        if (
            left is not None
            and right is not None
            and right.type == "call"
            and _THREAD.search(syntax.callee(right))
        ):
            names[node_text(left)] = right
    return names


def _spawn_identifiers(spawn: tree_sitter.Node, threads: dict[str, tree_sitter.Node]) -> set[str]:
    """The names a hand-off passes (for ``t.start()``, those of ``t = Thread(...)``)."""
    found = _identifiers(spawn)
    owner = syntax.callee(spawn).rsplit(".", 1)[0]
    if owner in threads:
        found |= _identifiers(threads[owner])
    return found


def _spawns(call: tree_sitter.Node, threads: dict[str, tree_sitter.Node]) -> bool:
    name = syntax.callee(call)
    short = syntax.last_name(name)
    owner = name.rsplit(".", 1)[0] if "." in name else ""
    if short == "start":
        function = call.child_by_field_name("function")
        inner = function.child_by_field_name("object") if function is not None else None
        if inner is not None and inner.type == "call":
            return bool(_THREAD.search(syntax.callee(inner)))
        return owner in threads
    if short in _POOL_METHODS | _TASK_METHODS or short in _ASYNC_TASKS:
        return bool(owner) or short in _ASYNC_TASKS
    if short in {"put", "put_nowait"}:
        return bool(_QUEUE.search(syntax.last_name(owner)))
    return False


def _row_names(insert: tree_sitter.Node, function: tree_sitter.Node) -> set[str]:
    """Identifiers the INSERT's parameters use, and names bound to the new row's id."""
    names = set()
    for arg in syntax.positional_args(insert)[1:]:
        names |= _identifiers(arg)
    for assignment in syntax.body_nodes(function, "assignment"):
        right = assignment.child_by_field_name("right")
        left = assignment.child_by_field_name("left")
        if right is not None and left is not None and "lastrowid" in node_text(right):
            names.add(node_text(left))
    return names - _CONNECTION_WORDS


def _identifiers(node: tree_sitter.Node) -> set[str]:
    found = {node_text(n) for n in syntax.walk(node) if n.type == "identifier"}
    if node.type == "identifier":
        found.add(node_text(node))
    return found


def _commit_after(
    insert: tree_sitter.Node,
    spawn: tree_sitter.Node,
    commit_calls: list[tree_sitter.Node],
    blocks: list[tree_sitter.Node],
) -> tree_sitter.Node | None:
    """What commits the insert, when that comes after the hand-off: the first commit after
    the insert (if it follows the hand-off), or the ``with`` block around both."""
    after = [
        c
        for c in commit_calls
        if c.start_byte > insert.end_byte
        and not tx.exclusive(c, insert)
        and not tx.exclusive(c, spawn)
    ]
    if after:
        first = after[0]
        return first if first.start_byte > spawn.end_byte else None
    for block in blocks:
        if tx.inside(insert, block) and tx.inside(spawn, block):
            return block
    return None


def _awaits_between(
    function: tree_sitter.Node, spawn: tree_sitter.Node, commit: tree_sitter.Node
) -> bool:
    """An ``await`` after the task is created and up to the commit (an awaited commit
    counts): the task gets to run before the commit lands."""
    if commit.type == "with_statement" and any(c.type == "async" for c in commit.children):
        return True  # ``async with`` awaits its exit, and so the commit
    end = commit.end_byte
    return any(
        spawn.end_byte <= node.start_byte <= end for node in syntax.body_nodes(function, "await")
    )


def _describe(commit: tree_sitter.Node) -> str:
    if commit.type == "with_statement":
        return f"when the `with` block of line {syntax.line(commit)} ends"
    return f"`{node_text(commit)[:40]}` at line {syntax.line(commit)}"


RULE = Rule(meta=META, doc=__doc__ or "", check_repo=check_repo)
