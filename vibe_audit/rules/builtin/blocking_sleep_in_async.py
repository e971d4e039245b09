"""time.sleep() inside an async function.

What it finds:
    ``time.sleep(...)`` (also ``from time import sleep``) called in the body of an
    ``async def``; calls in a nested sync ``def`` or lambda (run in a thread) are not flagged.

Why it matters:
    time.sleep blocks the thread, and in a coroutine that thread is the event loop: for the
    whole delay no other request, WebSocket ping or background task on this worker runs.
    A "retry after 2 seconds" stalls the whole process for 2 seconds.

Example:
    async def poll(job_id):
        while not await is_done(job_id):
            time.sleep(2)

Use instead:
    async def poll(job_id):
        while not await is_done(job_id):
            await asyncio.sleep(2)
"""

from __future__ import annotations

from collections.abc import Iterator

import tree_sitter

from vibe_audit.chunker.parsing import node_text
from vibe_audit.rules import patching, pyflow, syntax
from vibe_audit.rules.base import Hit, Rule, RuleMeta
from vibe_audit.rules.context import FileContext
from vibe_audit.schemas import Confidence, Patch, PatchSafety, Severity

META = RuleMeta(
    id="blocking-sleep-in-async",
    title="time.sleep blocks the event loop inside an async function",
    severity=Severity.HIGH,
    confidence=Confidence.HIGH,
    categories={"reliability": "Concurrency"},
    checklist=["reliability.4.2", "reliability.2.2"],
    problem=(
        "async {function}() calls {call}({delay}), which blocks the event loop thread: "
        "nothing else on this worker runs until it returns."
    ),
    scenario=(
        "One request enters the sleep (a retry delay, a poll interval): every other "
        "in-flight request, health check and background task on the worker freezes for the "
        "same time; under load the stalls stack up."
    ),
    impact=(
        "Latency of unrelated endpoints jumps by the sleep duration; health checks time out "
        "and the orchestrator may restart a healthy worker."
    ),
    how_to_verify=(
        "Run with PYTHONASYNCIODEBUG=1 (logs 'Executing <Task ...> took N seconds'), or call "
        "this path while timing a request to another endpoint."
    ),
    fix="Replace it with `await asyncio.sleep({delay})`.",
    trade_off="None: asyncio.sleep yields to the loop; the coroutine's own timing is unchanged.",
    effort_hours=(0.1, 0.25),
)


def check_file(ctx: FileContext) -> Iterator[Hit]:
    if "sleep" not in ctx.source.text or "async" not in ctx.source.text:
        return
    aliases = pyflow.import_aliases(ctx.root)
    for call in syntax.of_type(ctx.root, "call"):
        name = syntax.callee(call)
        if pyflow.canonical(name, aliases) != "time.sleep":
            continue
        function = pyflow.enclosing_function(call)
        if function is None or not syntax.is_async(function):
            continue
        args = syntax.positional_args(call)
        delay = args[0].text.decode() if args and args[0].text else "..."
        yield pyflow.hit(ctx, call, function=syntax.function_name(function), call=name, delay=delay)


def fix(ctx: FileContext, hit: Hit) -> Patch | None:
    """Safe: ``time.sleep(x)`` becomes ``await asyncio.sleep(x)`` where the call is a
    statement of its own, adding ``import asyncio`` when the file lacks it."""
    call = _sleep_statement(ctx, hit)
    if call is None:
        return None
    module = patching.python_module_alias(ctx, "asyncio")
    arguments = call.child_by_field_name("arguments")
    if arguments is None:
        return None
    edit = patching.replace_node(
        ctx, call, f"await {module or 'asyncio'}.sleep{node_text(arguments)}"
    )
    said = (
        f"{syntax.callee(call)}{node_text(arguments)} becomes await asyncio.sleep"
        f"{node_text(arguments)} (yields to the event loop instead of blocking it)"
    )
    edits = [edit]
    if module is None:
        edits += patching.python_import_edits(ctx, ["asyncio"])
        said += "; adds `import asyncio`"
    return Patch(safety=PatchSafety.SAFE, description=said, edits=edits)


def _sleep_statement(ctx: FileContext, hit: Hit) -> tree_sitter.Node | None:
    """The hit's time.sleep call, when it is a whole expression statement with one plain
    argument (``time.sleep(2)``; not ``x = time.sleep(2)`` or ``sleep(*args)``)."""
    aliases = pyflow.import_aliases(ctx.root)
    calls = [
        c
        for c in syntax.of_type(ctx.root, "call")
        if syntax.line(c) == hit.start_line
        and pyflow.canonical(syntax.callee(c), aliases) == "time.sleep"
        and pyflow.in_async_function(c)
    ]
    if len(calls) != 1:
        return None
    call = calls[0]
    statement = call.parent
    arguments = call.child_by_field_name("arguments")
    if (
        statement is None
        or statement.type != "expression_statement"
        or statement.named_child_count != 1
        or arguments is None
        or [a.type for a in arguments.named_children if a.type != "comment"]
        != [syntax.positional_args(call)[0].type if syntax.positional_args(call) else ""]
    ):
        return None
    return call


RULE = Rule(meta=META, doc=__doc__ or "", check_file=check_file, fix=fix)
