"""Long-running worker loop, and no SIGTERM handler anywhere.

What it finds:
    A ``while True:`` loop that never breaks or returns, in a function the module's
    ``if __name__ == "__main__":`` block runs (directly, through ``asyncio.run(main())``, or
    through other functions of the same file), while no Python file of the repository
    mentions SIGTERM (``signal.signal(signal.SIGTERM, ...)``,
    ``loop.add_signal_handler(signal.SIGTERM, ...)``). Loops that read ``input()``
    (interactive tools) are not flagged.

Why it matters:
    Docker, Kubernetes and systemd stop a process with SIGTERM, and Python's default
    action for it is to die on the spot: no ``finally`` blocks, no context managers, no
    flush. The job in progress is abandoned half-done (status stuck at "processing", a
    partial file, an uncommitted transaction), and every deploy does this to in-flight
    work.

Example:
    def run_worker():
        while True:
            job = next_job()
            process(job)

    if __name__ == "__main__":
        run_worker()

Use instead:
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())

    def run_worker():
        while not stopping.is_set():
            job = next_job(timeout=1)
            if job:
                process(job)   # finishes the current job, then exits cleanly
"""

from __future__ import annotations

from collections.abc import Iterator

import tree_sitter

from vibe_audit.chunker.parsing import node_text
from vibe_audit.rules import pyflow, syntax
from vibe_audit.rules.base import Hit, Rule, RuleMeta
from vibe_audit.rules.context import FileContext, RepoContext
from vibe_audit.schemas import Confidence, Severity

META = RuleMeta(
    id="worker-without-shutdown-handler",
    title="Worker loop with no SIGTERM handler",
    severity=Severity.MEDIUM,
    confidence=Confidence.MEDIUM,
    categories={"reliability": "Startup/Shutdown"},
    checklist=["reliability.5.2", "reliability.7.1"],
    problem=(
        "{function}() runs a `while True` loop as the process's main work, and nothing in "
        "the repository handles SIGTERM: a stop or redeploy kills it mid-job."
    ),
    scenario=(
        "A deploy sends SIGTERM while {function}() is mid-job: the process exits "
        "immediately without running finally blocks, leaving the job's row in its "
        "in-progress status forever, a partial output file, or an uncommitted write."
    ),
    impact=(
        "Every deploy or scale-down can corrupt or strand in-flight work; recovery needs "
        "manual cleanup or a stuck-job sweeper."
    ),
    how_to_verify=(
        "Start the worker, enqueue a slow job, send `kill -TERM <pid>` mid-job: the process "
        "exits at once and the job's state is left half-done."
    ),
    fix=(
        "Install a SIGTERM handler that sets a stop flag (signal.signal, or "
        "loop.add_signal_handler for asyncio), check it between jobs, finish or requeue the "
        "current job, then exit; set the orchestrator's grace period above one job's "
        "duration."
    ),
    trade_off=(
        "Graceful stops take up to one job's duration; long jobs need checkpoints or a "
        "requeue so the grace period stays short."
    ),
    effort_hours=(0.5, 2.0),
)


def check_repo(repo: RepoContext) -> Iterator[Hit]:
    python = repo.in_language("python")
    if any("SIGTERM" in ctx.source.text for ctx in python):
        return
    for ctx in python:
        if "__main__" in ctx.source.text and "while" in ctx.source.text:
            yield from _worker_loops(ctx)


def _worker_loops(ctx: FileContext) -> Iterator[Hit]:
    main_blocks = [
        node
        for node in ctx.root.named_children
        if node.type == "if_statement"
        and "__main__" in node_text(node.child_by_field_name("condition") or node)
    ]
    if not main_blocks:
        return
    definitions = {
        syntax.function_name(f): f
        for f in syntax.functions(ctx.root)
        if pyflow.enclosing_function(f) is None
    }
    pending = [name for block in main_blocks for name in _called(block)]
    seen: set[str] = set()
    while pending:
        name = pending.pop()
        function = definitions.get(name)
        if function is None or name in seen:
            continue
        seen.add(name)
        for loop in syntax.of_type(function, "while_statement", stop_at=pyflow.SCOPE_TYPES):
            if _forever(loop):
                yield pyflow.hit(ctx, loop, function=name)
                return
        pending.extend(_called(function))


def _called(node: tree_sitter.Node) -> list[str]:
    """Bare names of the functions called under ``node`` (``main()``, ``asyncio.run(main())``)."""
    return [
        syntax.callee(c)
        for c in syntax.of_type(node, "call", stop_at=pyflow.SCOPE_TYPES)
        if "." not in syntax.callee(c)
    ]


def _forever(loop: tree_sitter.Node) -> bool:
    """``while True:`` with no break or return of its own, not reading ``input()``."""
    condition = loop.child_by_field_name("condition")
    if condition is None or node_text(condition) not in {"True", "1"}:
        return False
    if any(syntax.callee(c) == "input" for c in syntax.of_type(loop, "call")):
        return False
    return not any(
        node.type in {"break_statement", "return_statement"}
        for node in pyflow.loop_body_nodes(loop)
    )


RULE = Rule(meta=META, doc=__doc__ or "", check_repo=check_repo)
