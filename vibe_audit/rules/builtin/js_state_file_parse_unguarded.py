"""State file parsed with JSON.parse and no handling for a corrupt file.

What it finds:
    ``JSON.parse(fs.readFileSync(path))`` / ``JSON.parse(await fsp.readFile(path))``, the
    same through a variable of the function (``const raw = fs.readFileSync(p, "utf8")``),
    and ``JSON.parse(data)`` in the callback of ``fs.readFile(path, (err, data) => ...)`` or
    of ``.then(...)`` on it, when the parse is in no ``try`` block of its function, no
    ``.catch`` follows the promise chain, and not every call of the function in its file is
    in a try block or followed by ``.catch``; and the file is one the repository itself writes
    (the resource index finds a writer of that path, or a write names the file the same way:
    the same constant, ``this.file`` or variable). Files the user hands in (configs nothing
    here writes, ``package.json``), caches and test code are not reported.

Why it matters:
    A state file gets truncated (a crash or kill mid-write, a full disk), or edited by hand,
    or was written by another release. JSON.parse then throws a SyntaxError: at startup the
    process dies, and a supervisor restarts it into the same error forever; in a request
    handler every request that needs the state fails, until someone repairs the file.

Example:
    function loadState(): State {
      return JSON.parse(fs.readFileSync(STATE_FILE, "utf8"));
    }

Use instead:
    function loadState(): State {
      let raw: string;
      try {
        raw = fs.readFileSync(STATE_FILE, "utf8");
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === "ENOENT") return EMPTY_STATE;
        throw err;
      }
      try {
        return StateSchema.parse(JSON.parse(raw));   // zod: shape checked too
      } catch (err) {
        fs.renameSync(STATE_FILE, `${STATE_FILE}.corrupt-${Date.now()}`);  // keep the evidence
        logger.error({ err }, "state file corrupt, starting empty");
        return EMPTY_STATE;
      }
    }
"""

from __future__ import annotations

from collections.abc import Iterator

import tree_sitter

from vibe_audit.chunker.parsing import node_text
from vibe_audit.rules import evidence, js, syntax
from vibe_audit.rules.base import Hit, Rule, RuleMeta, node_hit
from vibe_audit.rules.context import RepoContext
from vibe_audit.rules.state_integrity_util import NOT_STATE, js_path_key, js_write_keys
from vibe_audit.schemas import Confidence, Severity

META = RuleMeta(
    id="js-state-file-parse-unguarded",
    title="State file parsed with JSON.parse and no corruption handling",
    severity=Severity.MEDIUM,
    confidence=Confidence.MEDIUM,
    categories={
        "checkpoint": "Corruption",
        "concurrency": "Checkpoint",
        "reliability": "Error Handling",
    },
    checklist=[
        "checkpoint.3D",
        "concurrency.2C",
        "concurrency.checkpoint_checklist.3",
    ],
    problem=(
        "{function} parses the file it reads ({read}) with JSON.parse and nothing catches "
        "a parse error, and the program writes that file itself ({writer}): a truncated or "
        "corrupt file throws a SyntaxError out of {function}."
    ),
    scenario=(
        "A crash or kill while {writer} writes the file, a full disk or a hand edit leaves "
        "it truncated. The next time {function} runs, JSON.parse throws; if that is at "
        "startup the process exits, and every restart fails the same way."
    ),
    impact=(
        "The process (or every request that needs the state) fails until someone repairs "
        "or deletes the file by hand; the error says 'Unexpected end of JSON input', not "
        "which file is broken."
    ),
    how_to_verify=(
        "Truncate the file {function} reads to half its size (or write `{` into it) and "
        "run the code path: it throws a SyntaxError instead of recovering."
    ),
    fix=(
        "Wrap the parse in try/catch: on a SyntaxError log the path, move the file aside "
        "(`<file>.corrupt`), and fall back to the previous version or an empty state; "
        "validate the parsed value (zod `safeParse`, valibot) before using it."
    ),
    trade_off=(
        "Falling back hides a corruption unless it is logged and counted; a fallback to an "
        "empty state must not be written over the only copy of the old one."
    ),
    effort_hours=(0.25, 1.0),
    languages=js.JS_LANGUAGES,
)

_READS = frozenset({"readFileSync", "readFile"})


def check_repo(repo: RepoContext) -> Iterator[Hit]:
    contexts = [
        ctx
        for ctx in repo.in_language(*js.JS_LANGUAGES)
        if not syntax.is_test_path(ctx.source.path) and "JSON.parse" in ctx.source.text
    ]
    if not contexts:
        return
    written = _written_reads(repo)
    keys = js_write_keys(repo)
    for ctx in contexts:
        bindings = js.fs_bindings(ctx.root)
        if not bindings[0] and not bindings[1]:
            continue
        for call in syntax.of_type(ctx.root, "call_expression"):
            if js.js_callee(call) != "JSON.parse":
                continue
            read = _file_read(call, bindings)
            if read is None or _guarded(call) or _callers_guard(ctx.root, call):
                continue
            line = syntax.line(read)
            writer = written.get((ctx.source.path, line))
            if writer is None:
                key = js_path_key(read, ctx.source.path)
                writer = keys.get(key) if key is not None else None
            if writer is None:
                continue
            function = js.enclosing_function(call)
            name = js.js_function_name(function) if function is not None else "<anonymous>"
            if function is not None and name == "<anonymous>":
                outer = js.js_symbol(call)
                name = outer.rsplit(".", 1)[-1] if outer else name
            yield node_hit(
                ctx,
                call,
                details={
                    "function": f"{name}()" if name != "<anonymous>" else "Module code",
                    "read": _shown(read),
                    "writer": writer,
                },
            )


def _shown(read: tree_sitter.Node) -> str:
    """``fs.readFile(STATE_FILE)`` of a read call: its path argument only."""
    args = js.js_arguments(read)
    path = node_text(args[0]).split("\n")[0][:80] if args else ""
    return f"{js.js_callee(read)}({path})"


def _unwrap(node: tree_sitter.Node) -> tree_sitter.Node:
    """``x`` of ``x.toString()``, ``x ?? "{}"``, ``String(x)``, parentheses and ``await``."""
    while True:
        node = js.unwrap(node)
        if node.type == "call_expression":
            callee = js.js_callee(node)
            function = node.child_by_field_name("function")
            if callee.endswith(".toString") and function is not None:
                inner = function.child_by_field_name("object")
                if inner is not None:
                    node = inner
                    continue
            if callee == "String" and js.js_arguments(node):
                node = js.js_arguments(node)[0]
                continue
        if node.type == "binary_expression":
            operator = node.child_by_field_name("operator")
            left = node.child_by_field_name("left")
            if operator is not None and node_text(operator) in {"??", "||"} and left is not None:
                node = left
                continue
        return node


def _is_read(node: tree_sitter.Node, bindings: tuple[set[str], set[str]]) -> bool:
    return (
        node.type == "call_expression"
        and js.js_callee(node).rsplit(".", 1)[-1] in _READS
        and js.is_fs_call(node, bindings)
    )


def _file_read(
    call: tree_sitter.Node, bindings: tuple[set[str], set[str]]
) -> tree_sitter.Node | None:
    """The fs read call whose content ``JSON.parse(...)`` parses, if any."""
    args = js.js_arguments(call)
    if not args:
        return None
    value = _unwrap(args[0])
    if _is_read(value, bindings):
        return value
    if value.type != "identifier":
        return None
    name = node_text(value)
    function = js.enclosing_function(call)
    if function is None:
        return None
    initial = js.declared_values(function).get(name)
    if initial is not None:
        initial = _unwrap(initial)
        return initial if _is_read(initial, bindings) else None
    # a callback's parameter: fs.readFile(p, (err, data) => ...) or readFile(p).then(data => ...)
    parameters = function.child_by_field_name("parameters") or function.child_by_field_name(
        "parameter"
    )
    if parameters is None or name not in {
        node_text(i) for i in syntax.of_type(parameters, "identifier")
    } | {node_text(parameters)}:
        return None
    holder = function.parent
    outer = holder.parent if holder is not None and holder.type == "arguments" else None
    if outer is None or outer.type != "call_expression":
        return None
    if _is_read(outer, bindings):
        return outer
    target = outer.child_by_field_name("function")
    if (
        target is not None
        and target.type == "member_expression"
        and js.js_callee(outer).endswith(".then")
    ):
        inner = target.child_by_field_name("object")
        if inner is not None and _is_read(js.unwrap(inner), bindings):
            return js.unwrap(inner)
    return None


def _guarded(call: tree_sitter.Node) -> bool:
    """A try block of the function around it, or a promise ``.catch`` on the chain of a
    ``.then`` callback it sits in."""
    if js.in_try_body(call):
        return True
    function = js.enclosing_function(call)
    holder = function.parent if function is not None else None
    outer = holder.parent if holder is not None and holder.type == "arguments" else None
    if outer is not None and js.js_callee(outer).endswith(".then"):
        node = outer
        while node.parent is not None and node.parent.type in {
            "member_expression",
            "call_expression",
            "await_expression",
        }:
            node = node.parent
        if ".catch(" in node_text(node) or js.in_try_body(outer):
            return True
    return False


def _callers_guard(root: tree_sitter.Node, call: tree_sitter.Node) -> bool:
    """The named function around ``call`` is called in its file, and every such call sits
    in a try block or has a promise ``.catch`` (the caller handles the parse error)."""
    function = js.enclosing_function(call)
    while function is not None and js.js_function_name(function) == "<anonymous>":
        function = js.enclosing_function(function)
    if function is None:
        return False
    name = js.js_function_name(function)
    callers = [
        c
        for c in syntax.of_type(root, "call_expression")
        if js.js_callee(c).rsplit(".", 1)[-1] == name
        and not (function.start_byte <= c.start_byte < function.end_byte)
    ]
    if not callers:
        return False
    for caller in callers:
        node = caller
        while node.parent is not None and node.parent.type in {
            "member_expression",
            "call_expression",
            "await_expression",
        }:
            node = node.parent
        if not (js.in_try_body(caller) or ".catch(" in node_text(node)):
            return False
    return True


def _written_reads(repo: RepoContext) -> dict[tuple[str, int], str]:
    """(path, line) of each read of a file the repository writes -> that writer's name."""
    found: dict[tuple[str, int], str] = {}
    for resource in evidence.named_files(repo, directories=False):
        if NOT_STATE.search(resource.name) or not resource.writers:
            continue
        writer = resource.writers[0]
        name = f"{writer.symbol}()" if writer.symbol else f"code at {writer.where}"
        for reader in resource.readers:
            for line in reader.lines:
                found.setdefault((reader.path, line), name)
    return found


RULE = Rule(meta=META, doc=__doc__ or "", check_repo=check_repo)
