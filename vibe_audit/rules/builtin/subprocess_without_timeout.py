"""Subprocess whose output the code waits for, with no timeout.

What it finds:
    ``subprocess.run/call/check_call/check_output(...)`` without ``timeout=`` whose output or
    input the program handles itself (``check_output``, or ``capture_output``, ``stdout=``,
    ``stderr=`` or ``input=`` given), and ``.communicate()`` / ``.wait()`` without a timeout
    on a ``subprocess.Popen`` with pipes created in the same function; in service code
    only: an ``async def``, or a file importing a server, worker or concurrency library
    (fastapi, celery, asyncio, threading, ...). Calls passing ``**kwargs`` are not flagged
    (a timeout may be in them), nor are foreground commands whose output goes to the
    terminal (an interactive shell, a dev server), nor command-line tools, whose user sees
    the hang and can interrupt it, nor ``[binary, "--version"]`` / ``"--help"`` probes (a
    local program printing a line and exiting).

Why it matters:
    A child process can hang: a converter stuck on a corrupt file, a tool waiting on a lock,
    a prompt for credentials on a closed stdin. Without a timeout the caller waits forever,
    holding its worker slot, and the hung child is never killed.

Example:
    text = subprocess.check_output(["ffprobe", "-show_format", path])

Use instead:
    try:
        text = subprocess.check_output(["ffprobe", "-show_format", path], timeout=60)
    except subprocess.TimeoutExpired:
        log.warning("ffprobe timed out on %s", path)   # run() kills the child for you
        raise
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
    id="subprocess-without-timeout",
    title="Subprocess waited on without a timeout",
    severity=Severity.MEDIUM,
    confidence=Confidence.MEDIUM,
    categories={"reliability": "Timeout"},
    checklist=["reliability.1.3", "reliability.8.2"],
    problem=(
        "{call}(...) waits for a child process with no timeout: if the command hangs, this "
        "code waits forever and the child is never killed."
    ),
    scenario=(
        "The command stalls (a corrupt input file, a lock held by another process, a "
        "credential prompt on a closed stdin): the calling worker blocks indefinitely."
    ),
    impact=(
        "Each hung child pins a worker (and its memory and open files); enough of them stall "
        "the pipeline, with nothing in the logs."
    ),
    how_to_verify=(
        "Replace the command with `sleep 100000` (or feed it an input that hangs) and call "
        "the code path: it never returns."
    ),
    fix=(
        "Pass timeout= sized for the slowest healthy run and handle "
        "subprocess.TimeoutExpired:\n    {call}(..., timeout=60)\n"
        "For Popen, `proc.communicate(timeout=60)` and on TimeoutExpired `proc.kill(); "
        "proc.communicate()`."
    ),
    trade_off=(
        "Too short a timeout kills slow but healthy runs (large inputs); make it configurable "
        "and log the input that timed out."
    ),
    effort_hours=(0.25, 0.5),
)

_RUNNERS = frozenset(
    {"subprocess.run", "subprocess.call", "subprocess.check_call", "subprocess.check_output"}
)
# Imports that mark a long-running service or worker (nobody at a terminal to press Ctrl-C).
_SERVICE = frozenset(
    {"fastapi", "flask", "starlette", "aiohttp", "sanic", "quart", "tornado", "uvicorn",
     "gunicorn", "celery", "rq", "dramatiq", "huey", "arq", "asyncio", "concurrent",
     "multiprocessing", "threading", "socketserver", "grpc", "sqlite3", "aiosqlite"}
)  # fmt: skip
_PROGRAMMATIC = frozenset({"capture_output", "stdout", "stderr", "input"})


def check_file(ctx: FileContext) -> Iterator[Hit]:
    if "subprocess" not in ctx.source.text:
        return
    service = bool(ctx.imports & _SERVICE)
    aliases = pyflow.import_aliases(ctx.root)
    popens: dict[str, set[str]] = {}  # function scope (start byte) -> names bound to Popen
    for call in syntax.of_type(ctx.root, "call"):
        name = pyflow.canonical(syntax.callee(call), aliases)
        keywords = syntax.keyword_names(call)
        scope = pyflow.enclosing_function(call)
        key = str(scope.start_byte) if scope is not None else "module"
        if name == "subprocess.Popen":
            bound = pyflow.bound_name(call)
            if bound and "**" not in keywords and keywords & (_PROGRAMMATIC | {"stdin"}):
                popens.setdefault(key, set()).add(bound)
            continue
        if "timeout" in keywords or "**" in keywords:
            continue
        if not service and not pyflow.in_async_function(call):
            continue  # a command-line tool: the user sees the hang and can interrupt it
        if name in _RUNNERS:
            if _version_probe(call):
                continue  # `tool --version`: a local program printing one line and exiting
            if name == "subprocess.check_output" or keywords & _PROGRAMMATIC:
                yield pyflow.hit(ctx, call, call=name)
            continue
        receiver, _, method = name.rpartition(".")
        positional = len(syntax.positional_args(call))
        if (
            receiver in popens.get(key, set())
            and not _cleanup(call)
            and (
                (method == "communicate" and positional < 2)
                or (method == "wait" and positional == 0)
            )
        ):
            yield pyflow.hit(ctx, call, call=syntax.callee(call))


_PROBE_FLAGS = frozenset({"--version", "-version", "version", "--help", "-V", "-v", "-h"})


def _version_probe(call: tree_sitter.Node) -> bool:
    """``run([binary, "--version"], ...)``: the command line is a list literal whose last
    element is a version or help flag."""
    args = syntax.positional_args(call)
    if not args:
        return False
    command = args[0]
    if command.type == "identifier":  # cmd = [binary, "--help"]; run(cmd, ...)
        function = pyflow.enclosing_function(call)
        name = node_text(command)
        for node in syntax.body_nodes(function, "assignment") if function is not None else []:
            left, right = node.child_by_field_name("left"), node.child_by_field_name("right")
            if left is not None and right is not None and node_text(left) == name:
                command = right
    if command.type != "list" or not command.named_children:
        return False
    return syntax.string_value(command.named_children[-1]) in _PROBE_FLAGS


def _cleanup(call: tree_sitter.Node) -> bool:
    """Inside an except or finally clause: reaping a child already killed after a timeout."""
    clause = syntax.enclosing(call, "except_clause", "finally_clause", *syntax.FUNCTION_TYPES)
    return clause is not None and clause.type in {"except_clause", "finally_clause"}


def fix(ctx: FileContext, hit: Hit) -> Patch | None:
    """Safe: ``timeout=60`` on subprocess.run/call/check_call/check_output, which kill the
    child when it expires and raise subprocess.TimeoutExpired. Not for Popen's
    communicate()/wait(), which leave a timed-out child running (the fix needs a kill)."""
    aliases = pyflow.import_aliases(ctx.root)
    calls = [
        c
        for c in syntax.of_type(ctx.root, "call")
        if syntax.line(c) == hit.start_line
        and pyflow.canonical(syntax.callee(c), aliases) == hit.details.get("call")
    ]
    call = calls[0] if len(calls) == 1 else None
    if call is None or pyflow.canonical(syntax.callee(call), aliases) not in _RUNNERS:
        return None
    arguments = call.child_by_field_name("arguments")
    kinds = [a.type for a in arguments.named_children] if arguments is not None else []
    if "list_splat" in kinds or len(syntax.positional_args(call)) != 1:
        return None  # run(*args), a positional bufsize: keep to the plain shape
    edit = patching.add_argument(ctx, call, "timeout=60")
    if edit is None:
        return None
    return Patch(
        safety=PatchSafety.SAFE,
        description=f"add timeout=60 to {syntax.callee(call)}(): a child running longer is "
        "killed and subprocess.TimeoutExpired raised (size it for the slowest healthy run)",
        edits=[edit],
    )


RULE = Rule(meta=META, doc=__doc__ or "", check_file=check_file, fix=fix)
