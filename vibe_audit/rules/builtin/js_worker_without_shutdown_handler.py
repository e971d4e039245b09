"""Long-running JS/TS worker loop, and no SIGTERM handler anywhere.

What it finds:
    A ``while (true)`` / ``for (;;)`` loop that awaits work and never breaks or returns,
    in a function the module itself starts at its top level (``main()``,
    ``main().catch(...)``, ``await run()``, through other functions of the same file) or
    at the module's top level itself, while no JavaScript / TypeScript file of the
    repository mentions SIGTERM (``process.on("SIGTERM", ...)``) or uses a shutdown helper
    (@godaddy/terminus, lightship, close-with-grace, signal-exit, exit-hook,
    async-exit-hook, node-cleanup, death). Loops reading the terminal (readline, prompts,
    process.stdin), browser code (a file using window, document or self) and test code
    are not matched.

Why it matters:
    Docker, Kubernetes and systemd stop a process with SIGTERM, and with no listener for
    it Node.js exits at once with code 143: no ``finally`` block, no pending write, no
    ``process.on("exit")`` handler runs. The job in progress is abandoned half-done (a
    row stuck in its in-progress status, a partial file, an open transaction), and every
    deploy does this to in-flight work.

Example:
    async function main() {
      while (true) {
        const job = await nextJob();
        await processJob(job);
      }
    }
    main();

Use instead:
    let stopping = false;
    process.on("SIGTERM", () => { stopping = true; });
    async function main() {
      while (!stopping) {
        const job = await nextJob({ waitMs: 1000 });
        if (job) await processJob(job);   // finishes the current job, then exits
      }
    }
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import tree_sitter

from vibe_audit.chunker.parsing import node_text
from vibe_audit.rules import js, syntax
from vibe_audit.rules.base import Hit, Rule, RuleMeta
from vibe_audit.rules.context import FileContext, RepoContext
from vibe_audit.schemas import Confidence, Severity

META = RuleMeta(
    id="js-worker-without-shutdown-handler",
    title="Worker loop with no SIGTERM handler",
    severity=Severity.MEDIUM,
    confidence=Confidence.MEDIUM,
    categories={"reliability": "Startup/Shutdown"},
    checklist=["reliability.5.2", "reliability.7.1"],
    problem=(
        "{function} runs a `{loop}` loop as the process's main work, and nothing in the "
        "repository handles SIGTERM: a stop or redeploy kills it mid-job."
    ),
    scenario=(
        "A deploy sends SIGTERM while {function} is mid-job: Node.js exits immediately "
        "without running finally blocks, leaving the job's row in its in-progress status, "
        "a partial output file, or an unfinished write."
    ),
    impact=(
        "Every deploy or scale-down can corrupt or strand in-flight work; recovery needs "
        "manual cleanup or a stuck-job sweeper."
    ),
    how_to_verify=(
        "Start the worker, give it a slow job, send `kill -TERM <pid>` mid-job: the process "
        "exits at once and the job's state is left half-done."
    ),
    fix=(
        'Install `process.on("SIGTERM", ...)` that sets a stop flag, test it in the loop '
        "condition, finish or requeue the current job, then let the process exit; set the "
        "orchestrator's grace period above one job's duration."
    ),
    trade_off=(
        "Graceful stops take up to one job's duration; long jobs need checkpoints or a "
        "requeue so the grace period stays short."
    ),
    effort_hours=(0.5, 2.0),
    languages=js.JS_LANGUAGES,
)

_HANDLED = re.compile(
    r"SIGTERM|@godaddy/terminus|lightship|close-with-grace|signal-exit|exit-hook|"
    r"node-cleanup|[\"']death[\"']"
)
_INTERACTIVE = re.compile(r"readline|\bprompt|\.question\(|process\.stdin|inquirer")
_BROWSER = re.compile(r"\b(window|document|self)\.|\bpostMessage\(")
_STOP = frozenset({*js.JS_FUNCTION_TYPES, "class_body"})
_LOOPS = frozenset({"while_statement", "for_statement", "do_statement", "for_in_statement"})


def check_repo(repo: RepoContext) -> Iterator[Hit]:
    files = [
        ctx
        for ctx in repo.in_language(*js.JS_LANGUAGES)
        if not syntax.is_test_path(ctx.source.path)
    ]
    if any(_HANDLED.search(ctx.source.text) for ctx in files):
        return
    for ctx in files:
        text = ctx.source.text
        if ("while" in text or "for" in text) and "await" in text and not _BROWSER.search(text):
            yield from _worker_loops(ctx)


def _worker_loops(ctx: FileContext) -> Iterator[Hit]:
    definitions: dict[str, tree_sitter.Node] = {}
    started: list[str] = []
    for statement in ctx.root.named_children:
        node = (
            statement.named_children[0]
            if statement.type == "export_statement" and (statement.named_children)
            else statement
        )
        if node.type == "function_declaration":
            definitions[js.js_function_name(node)] = node
        elif node.type in {"lexical_declaration", "variable_declaration"}:
            for declarator in node.named_children:
                value = declarator.child_by_field_name("value")
                name = declarator.child_by_field_name("name")
                if (
                    value is not None
                    and name is not None
                    and js.unwrap(value).type in (js.JS_FUNCTION_TYPES)
                ):
                    definitions[node_text(name)] = js.unwrap(value)
        elif node.type == "expression_statement":
            started.extend(_called(node))
        elif node.type in _LOOPS and _forever(node):
            yield _hit(ctx, node, "the module's top level")
            return
    pending, seen = list(started), set[str]()
    while pending:
        called = pending.pop()
        function = definitions.get(called)
        if function is None or called in seen:
            continue
        seen.add(called)
        body = function.child_by_field_name("body")
        for loop in syntax.of_type(body, *_LOOPS, stop_at=_STOP) if body is not None else []:
            if loop.type in _LOOPS and _forever(loop):
                yield _hit(ctx, loop, f"{called}()")
                return
        if body is not None:
            pending.extend(_called(body))


def _called(node: tree_sitter.Node) -> list[str]:
    """Bare names of the functions called under ``node`` (``main()``, ``main().catch()``),
    not inside nested functions."""
    return [
        js.js_callee(c)
        for c in syntax.of_type(node, "call_expression", stop_at=_STOP)
        if c.type == "call_expression"
        and (c.child_by_field_name("function") or c).type == "identifier"
    ]


def _forever(loop: tree_sitter.Node) -> bool:
    """``while (true)`` / ``for (;;)`` that awaits, with no break or return of its own,
    not reading the terminal."""
    if loop.type == "while_statement":
        condition = loop.child_by_field_name("condition")
        if condition is None or node_text(condition).strip("() ") not in {"true", "1"}:
            return False
    elif loop.type == "for_statement":
        if not re.match(r"for\s*\(\s*;\s*;\s*\)", node_text(loop)):
            return False
    else:
        return False
    body = loop.child_by_field_name("body")
    if body is None or _INTERACTIVE.search(node_text(body)):
        return False
    own = list(syntax.of_type(body, "await_expression", "return_statement", stop_at=_STOP))
    if not any(n.type == "await_expression" for n in own):
        return False
    if any(n.type == "return_statement" for n in own):
        return False
    return not any(_exits(b, loop) for b in syntax.of_type(body, "break_statement", stop_at=_STOP))


def _exits(statement: tree_sitter.Node, loop: tree_sitter.Node) -> bool:
    """The break leaves ``loop`` (labelled, or not inside a nested loop or switch)."""
    if statement.child_by_field_name("label") is not None or len(statement.named_children):
        return True
    current = statement.parent
    while current is not None and current != loop:
        if current.type in _LOOPS or current.type == "switch_statement":
            return False
        current = current.parent
    return True


def _hit(ctx: FileContext, loop: tree_sitter.Node, function: str) -> Hit:
    text = node_text(loop)
    head = text[: text.index(")") + 1] if ")" in text else text.split("{")[0]
    return Hit(
        path=ctx.source.path,
        start_line=syntax.line(loop),
        end_line=syntax.line(loop),
        symbol=js.js_symbol(loop),
        details={"function": function, "loop": " ".join(head.split())},
    )


RULE = Rule(meta=META, doc=__doc__ or "", check_repo=check_repo)
