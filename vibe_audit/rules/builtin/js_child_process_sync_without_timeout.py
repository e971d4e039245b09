"""Synchronous child process run without a timeout in server or worker code (JS/TS).

What it finds:
    ``execSync`` / ``execFileSync`` / ``spawnSync`` of Node's ``child_process`` (imported
    or required, by name or through the module object) called inside a function with no
    ``timeout`` option, in a module that runs a server or workers (it imports express,
    fastify, koa, http, ws, worker_threads, cluster, bullmq, ... or is imported by such a
    module, through up to three modules). Not matched: calls whose options are spread or
    passed as a variable (a timeout may be in them), calls with ``stdio: "inherit"`` (a
    foreground command whose output goes to the terminal), ``--version`` / ``--help``
    probes, module-level calls (they run once, at start-up) and test code.

Why it matters:
    The ``*Sync`` functions block the event loop until the child exits, and their
    ``timeout`` option is undefined by default: nothing ever kills a child that hangs (a
    tool waiting on a lock, a prompt on a closed stdin, a network mount). While it hangs
    the whole process stops: every request, timer and heartbeat of the server waits with
    it, and health checks start failing with nothing in the logs.

Example:
    const out = execSync(`convert ${input} ${output}`);

Use instead:
    const out = execSync(`convert ${input} ${output}`, { timeout: 30_000 });
    // kills the child (killSignal, SIGTERM by default) and throws when it runs too long;
    // better still in a server: the async execFile / spawn, which do not block the loop
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
    id="js-child-process-sync-without-timeout",
    title="Synchronous child process without a timeout in server code",
    severity=Severity.MEDIUM,
    confidence=Confidence.MEDIUM,
    categories={"reliability": "Timeout"},
    checklist=["reliability.1.3", "reliability.8.2"],
    problem=(
        "In {function}, {call}() runs with no timeout option, and {server}: {call}() "
        "blocks the event loop until the child exits, and nothing kills a child that hangs."
    ),
    scenario=(
        "The command stalls (a lock held by another process, a prompt on a closed stdin, "
        "an unreachable network path): {call}() never returns and the whole process stops "
        "serving until someone restarts it."
    ),
    impact=(
        "Every request, timer and heartbeat of the process waits on one hung child; health "
        "checks fail and the hang leaves nothing in the logs."
    ),
    how_to_verify=(
        "Make the command hang (e.g. point it at `sleep 100000`) and call {function}: the "
        "process stops answering any request until it is killed."
    ),
    fix=(
        "Pass a timeout sized for the slowest healthy run: `{call}(..., { timeout: 30_000 "
        "})`: a child running longer is killed (killSignal, SIGTERM by default) and the call "
        "fails (execSync / execFileSync throw, spawnSync sets result.error). In request "
        "paths prefer the asynchronous execFile / spawn, which do not block the event loop."
    ),
    trade_off=(
        "Too short a timeout kills slow but healthy runs (large inputs); make it configurable "
        "and log the command that timed out."
    ),
    effort_hours=(0.25, 0.5),
    languages=js.JS_LANGUAGES,
)

_SYNC = frozenset({"execSync", "execFileSync", "spawnSync"})
_MODULES = frozenset({"child_process", "node:child_process"})
_REQUIRE = re.compile(r"""require\(\s*["']([^"'./][^"']*)["']\s*\)""")
_PROBE = re.compile(r"""(?:^|\s|["'])(--?version|-v|-V|--help|-h|version)["'`]?\s*$""")


def check_repo(repo: RepoContext) -> Iterator[Hit]:
    files = [
        ctx
        for ctx in repo.in_language(*js.JS_LANGUAGES)
        if not syntax.is_test_path(ctx.source.path)
    ]
    modules = {
        ctx.source.path: (ctx.imports | set(_REQUIRE.findall(ctx.source.text)), ctx.source.text)
        for ctx in files
    }
    for ctx in files:
        if "child_process" not in ctx.source.text or not any(s in ctx.source.text for s in _SYNC):
            continue
        calls = list(_sync_calls(ctx))
        if not calls:
            continue
        server = js.reaching_server(ctx.source.path, modules)
        if server is None:
            continue
        for call, name in calls:
            function = js.enclosing_function(call)
            if function is None or not _unbounded(call):
                continue
            yield Hit(
                path=ctx.source.path,
                start_line=syntax.line(call),
                end_line=syntax.end_line(call),
                symbol=js.js_symbol(call),
                details={
                    "function": _describe(function),
                    "call": name,
                    "server": server,
                },
            )


def _sync_calls(ctx: FileContext) -> Iterator[tuple[tree_sitter.Node, str]]:
    """Calls of child_process's *Sync functions, with the function's name."""
    direct: dict[str, str] = {}  # local name -> execSync / ...
    objects: set[str] = set()  # names bound to the module
    for local, imported in js.named_imports(ctx.root, "child_process").items():
        direct[local] = imported
    for local, imported in js.named_imports(ctx.root, "node:child_process").items():
        direct[local] = imported
    for statement in syntax.of_type(ctx.root, "import_statement"):
        source = statement.child_by_field_name("source")
        if source is None or js.js_string(source) not in _MODULES:
            continue
        for clause in syntax.of_type(statement, "namespace_import", "import_clause"):
            for child in clause.named_children:
                if child.type == "identifier":
                    objects.add(node_text(child))
    for declarator in syntax.of_type(ctx.root, "variable_declarator"):
        value = declarator.child_by_field_name("value")
        target = declarator.child_by_field_name("name")
        if value is None or target is None or not _requires_child_process(js.unwrap(value)):
            continue
        if target.type == "identifier":
            objects.add(node_text(target))
        elif target.type == "object_pattern":
            for child in target.named_children:
                if child.type == "shorthand_property_identifier_pattern":
                    direct[node_text(child)] = node_text(child)
                elif child.type == "pair_pattern":
                    key, alias = (
                        child.child_by_field_name("key"),
                        child.child_by_field_name("value"),
                    )
                    if key is not None and alias is not None:
                        direct[node_text(alias)] = node_text(key)
    for call in syntax.of_type(ctx.root, "call_expression"):
        callee = js.js_callee(call)
        head, _, method = callee.rpartition(".")
        if callee in direct and direct[callee] in _SYNC:
            yield call, direct[callee]
        elif method in _SYNC and (
            head in objects
            or re.fullmatch(r"""require\(\s*["'](node:)?child_process["']\s*\)""", head)
        ):
            yield call, method


def _describe(function: tree_sitter.Node) -> str:
    """'runJob()' or, for an anonymous callback, 'the app.post() callback'."""
    name = js.js_function_name(function)
    if name != "<anonymous>":
        return f"{name}()"
    call = syntax.enclosing(function, "call_expression")
    return f"the {js.js_callee(call)}() callback" if call is not None else "this function"


def _requires_child_process(node: tree_sitter.Node) -> bool:
    if node.type != "call_expression" or js.js_callee(node) != "require":
        return False
    args = js.js_arguments(node)
    return bool(args) and js.js_string(args[0]) in _MODULES


def _unbounded(call: tree_sitter.Node) -> bool:
    """No timeout can be in the call's options, and it is not a probe or a foreground run."""
    args = js.js_arguments(call)
    if not args:
        return False
    if any(a.type == "spread_element" for a in args):
        return False
    options = None
    for arg in args[1:]:
        arg = js.unwrap(arg)
        if arg.type == "object":
            options = arg
        elif arg.type in {"identifier", "member_expression", "call_expression"} and not (
            _looks_like_args(arg)
        ):
            return False  # options built elsewhere: a timeout may be in them
    if options is not None:
        keys = js.object_keys(options)
        if "timeout" in keys or "..." in keys:
            return False
        if re.search(r"""\bstdio\s*:\s*["']inherit["']""", node_text(options)):
            return False  # a foreground command: its output goes to the terminal
    command = node_text(args[0])
    if len(args) > 1 and js.unwrap(args[1]).type == "array":
        command += " " + node_text(js.unwrap(args[1]))[1:-1]
    return not _PROBE.search(command.rstrip("])"))


def _looks_like_args(node: tree_sitter.Node) -> bool:
    """An identifier named like an argument list (args, argv, flags), not an options object."""
    return bool(re.search(r"(args|argv|argument|flags|params)$", node_text(node), re.I))


RULE = Rule(meta=META, doc=__doc__ or "", check_repo=check_repo)
