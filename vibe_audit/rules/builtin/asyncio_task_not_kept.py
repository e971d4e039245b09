"""Fire-and-forget asyncio task whose reference is dropped.

What it finds:
    ``asyncio.create_task(...)``, ``asyncio.ensure_future(...)`` or ``loop.create_task(...)``
    used as a bare expression statement: the returned Task is discarded. TaskGroup's
    ``tg.create_task`` is not flagged (the group keeps and awaits its tasks), nor a task
    running a coroutine of the same file whose whole body is a ``try`` / ``except
    Exception`` that handles its own failures.

Why it matters:
    The event loop keeps only a weak reference to tasks. A task nobody references can be
    garbage-collected before it finishes, silently cancelling the work; and when it fails,
    its exception is never retrieved: it surfaces at best as "Task exception was never
    retrieved" in the log, long after the request returned success.

Example:
    asyncio.create_task(asyncio.to_thread(process_job, job_id, path))

Use instead:
    task = asyncio.create_task(asyncio.to_thread(process_job, job_id, path))
    background_tasks.add(task)
    task.add_done_callback(_log_and_discard)   # logs task.exception(), removes from the set
"""

from __future__ import annotations

from collections.abc import Iterator

import tree_sitter

from vibe_audit.chunker.parsing import node_text
from vibe_audit.rules import pyflow, syntax
from vibe_audit.rules.base import Hit, Rule, RuleMeta
from vibe_audit.rules.context import FileContext
from vibe_audit.schemas import Confidence, Severity

META = RuleMeta(
    id="asyncio-task-not-kept",
    title="asyncio task created and its reference dropped",
    severity=Severity.HIGH,
    confidence=Confidence.HIGH,
    categories={"reliability": "Error Handling"},
    checklist=["reliability.7.1", "reliability.5.2"],
    problem=(
        "{call}(...) starts a background task and discards the Task. The loop holds only a "
        "weak reference: the task can be garbage-collected mid-flight, and if it raises, the "
        "exception is never observed."
    ),
    scenario=(
        "The background job fails (dependency down, bad input): the request already returned "
        "200, nothing awaits the task, and the error shows up only as 'Task exception was "
        "never retrieved' at interpreter shutdown, if at all. On shutdown the task is "
        "cancelled without anyone knowing it was running."
    ),
    impact=(
        "Work silently lost or stuck half-done (status left at 'processing'); failures "
        "invisible in logs and metrics; no way to drain in-flight work on shutdown."
    ),
    how_to_verify=(
        "Make the task's coroutine raise, call the code path, and check the logs: no "
        "traceback at the time of failure. `gc.collect()` during the task can drop it."
    ),
    fix=(
        "Keep a strong reference and observe the result:\n"
        "    task = {call}(...)\n"
        "    _tasks.add(task)\n"
        "    task.add_done_callback(_on_done)  # log task.exception(); _tasks.discard(task)\n"
        "or use an asyncio.TaskGroup / a real job queue, and await pending tasks on shutdown."
    ),
    trade_off=(
        "A module-level task set must be drained on shutdown; a durable queue (or a status "
        "row a worker polls) survives restarts but is more moving parts."
    ),
    effort_hours=(0.25, 1.0),
)

_SPAWN = frozenset({"asyncio.create_task", "asyncio.ensure_future"})


def check_file(ctx: FileContext) -> Iterator[Hit]:
    text = ctx.source.text
    if "create_task" not in text and "ensure_future" not in text:
        return
    aliases = pyflow.import_aliases(ctx.root)
    for statement in syntax.of_type(ctx.root, "expression_statement"):
        call = statement.named_children[0] if statement.named_child_count == 1 else None
        if call is None or call.type != "call":
            continue
        name = pyflow.canonical(syntax.callee(call), aliases)
        receiver, _, method = name.rpartition(".")
        spawns = name in _SPAWN or (method == "create_task" and "loop" in receiver.lower())
        if spawns and not _handles_own_errors(ctx, call):
            yield pyflow.hit(ctx, call, call=name, text=node_text(call))


def _handles_own_errors(ctx: FileContext, call: tree_sitter.Node) -> bool:
    """The task runs a coroutine of this file whose whole body is one ``try`` with an
    ``except Exception`` (or bare) handler: its failures are logged where they happen."""
    args = syntax.positional_args(call)
    if not args or args[0].type != "call":
        return False
    target = syntax.last_name(syntax.callee(args[0]))
    for function in syntax.functions(ctx.root):
        if syntax.function_name(function) != target or not syntax.is_async(function):
            continue
        body = function.child_by_field_name("body")
        statements = [
            s
            for s in (body.named_children if body is not None else [])
            if s.type != "comment"
            and not (
                s.type == "expression_statement"
                and s.named_children
                and s.named_children[0].type == "string"
            )
        ]
        if len(statements) == 1 and statements[0].type == "try_statement":
            return any(
                clause.type == "except_clause" and pyflow.caught(clause) in pyflow.BROAD_EXCEPTIONS
                for clause in statements[0].named_children
            )
    return False


RULE = Rule(meta=META, doc=__doc__ or "", check_file=check_file)
