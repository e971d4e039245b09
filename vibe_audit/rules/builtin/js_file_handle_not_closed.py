"""File descriptor or FileHandle opened and not closed on every path.

What it finds:
    In non-test JS/TS code: a descriptor from ``fs.openSync(...)`` or a FileHandle from
    ``await fs.promises.open(...)`` / ``await open(...)`` (fs/promises) bound to a local
    name that is never closed in its function (no ``closeSync(fd)`` / ``fs.close(fd)`` /
    ``handle.close()``), or closed only on the straight path: the close is not in a
    ``finally`` block although calls between the open and the close can throw. Not
    flagged: ``using`` / ``await using`` declarations, and descriptors that leave the
    function (returned, stored, or passed to anything other than an fs call).

Why it matters:
    A descriptor is released only by an explicit close: Node closes a FileHandle on garbage
    collection at best (with a warning, and deprecated), a numeric descriptor never. If a
    read, a parse or a write between the open and the close throws, the descriptor stays
    open for the life of the process; in a server every such failure leaks one more, until
    ``EMFILE: too many open files`` breaks every request that opens a file or a socket.

Example:
    const fd = fs.openSync(path, "r");
    const size = fs.fstatSync(fd).size;
    fs.readSync(fd, buffer, 0, size, 0);
    fs.closeSync(fd);

Use instead:
    const fd = fs.openSync(path, "r");
    try {
      const size = fs.fstatSync(fd).size;
      fs.readSync(fd, buffer, 0, size, 0);
    } finally {
      fs.closeSync(fd);
    }
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import replace

import tree_sitter

from vibe_audit.chunker.parsing import node_text
from vibe_audit.rules import js, syntax
from vibe_audit.rules.base import Hit, Rule, RuleMeta, node_hit
from vibe_audit.rules.context import FileContext, RepoContext
from vibe_audit.schemas import Confidence, Severity

META = RuleMeta(
    id="js-file-handle-not-closed",
    title="File descriptor not closed on every path",
    severity=Severity.MEDIUM,
    confidence=Confidence.MEDIUM,
    categories={"reliability": "Resource Leak"},
    checklist=["reliability.10.1"],
    problem=(
        "{function}() opens `{name}` with `{call}` and {how}: a throw on the way leaves "
        "the descriptor open for the life of the process."
    ),
    scenario=(
        "A read or parse between the open and the close throws (a truncated file, a "
        "permission change, a bad byte): the function exits through the exception and "
        "the descriptor is never closed; each failure leaks one more."
    ),
    impact=(
        "Descriptors accumulate until the process hits its limit and every open of a file "
        "or socket fails with EMFILE."
    ),
    how_to_verify=(
        "Make the code path fail after the open (a malformed or unreadable file) in a loop "
        "and watch `ls /proc/<pid>/fd | wc -l` grow."
    ),
    fix=(
        "Start a try block right after the open and close in its `finally` "
        "(`closeSync({name})` / `await {name}.close()`), or declare the handle with "
        "`await using` (Node 24+)."
    ),
    trade_off="None worth mentioning: a try/finally around the use.",
    effort_hours=(0.1, 0.25),
    languages=js.JS_LANGUAGES,
)

_REQUIRE = re.compile(r"""require\(\s*["']([^"'./][^"']*)["']\s*\)""")
_CLOSE_FUNCTIONS = frozenset({"closeSync", "close"})
_ESCAPES = frozenset(
    {"return_statement", "pair", "array", "assignment_expression", "variable_declarator",
     "shorthand_property_identifier", "arrow_function"}
)  # fmt: skip


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
        if "open" not in ctx.source.text:
            continue
        hits = list(_check_file(ctx))
        if not hits:
            continue
        server = js.reaching_server(ctx.source.path, modules)
        for hit in hits:
            if server is None:
                hit = replace(
                    hit,
                    severity=Severity.MONITOR,
                    severity_reason="MONITOR: no server or worker is seen running this code: a "
                    "leaked descriptor lasts until a short-lived process exits.",
                )
            yield hit


def _check_file(ctx: FileContext) -> Iterator[Hit]:
    bindings = js.fs_bindings(ctx.root)
    if not bindings[0] and not bindings[1]:
        return
    for call in syntax.of_type(ctx.root, "call_expression"):
        kind = _open_kind(call, bindings)
        if kind is None:
            continue
        bound = _bound_name(call, kind)
        if bound is None:
            continue
        declaration, name = bound
        if re.match(r"^(?:await\s+)?using\b", node_text(declaration)):
            continue
        scope = js.enclosing_function(call) or ctx.root
        how = _leak(scope, call, name, bindings)
        if how is None:
            continue
        function = js.enclosing_function(call)
        yield node_hit(
            ctx,
            call,
            details={
                "function": js.js_function_name(function) if function is not None else "<module>",
                "name": name,
                "call": js.js_callee(call) + "(...)",
                "how": how,
            },
        )


def _open_kind(call: tree_sitter.Node, bindings: tuple[set[str], set[str]]) -> str | None:
    """'fd' for fs.openSync, 'handle' for an awaited fs/promises open, else None."""
    if not js.is_fs_call(call, bindings):
        return None
    callee = js.js_callee(call)
    last = callee.rsplit(".", 1)[-1]
    if last == "openSync":
        return "fd"
    if last == "open" and call.parent is not None and call.parent.type == "await_expression":
        return "handle"
    return None


def _bound_name(call: tree_sitter.Node, kind: str) -> tuple[tree_sitter.Node, str] | None:
    """(declaration, name) of ``const name = <open>`` / ``let name = await <open>``."""
    node = call.parent if kind == "handle" else call
    parent = node.parent if node is not None else None
    if parent is None or parent.type != "variable_declarator":
        return None
    name = parent.child_by_field_name("name")
    if name is None or name.type != "identifier":
        return None
    declaration = parent.parent
    return (declaration if declaration is not None else parent), node_text(name)


def _leak(
    scope: tree_sitter.Node,
    open_call: tree_sitter.Node,
    name: str,
    bindings: tuple[set[str], set[str]],
) -> str | None:
    """How ``name`` may stay open, or None when it is closed safely or leaves the scope."""
    closes: list[tree_sitter.Node] = []
    for ident in syntax.of_type(scope, "identifier"):
        if node_text(ident) != name or ident.start_byte <= open_call.end_byte:
            continue
        use = _use(ident, name, bindings)
        if use == "escape":
            return None
        if use == "close":
            closes.append(ident)
    if not closes:
        return "never closes it"
    if any(
        _in_finally(close, scope)
        or js.enclosing_function(close) != js.enclosing_function(open_call)
        for close in closes
    ):
        return None
    first = min(c.start_byte for c in closes)
    between = [
        c
        for c in syntax.of_type(scope, "call_expression", "await_expression")
        if open_call.end_byte < c.start_byte and c.end_byte < first
    ]
    if not between:
        return None
    return "closes it only on the path where nothing throws (the close is not in a finally block)"


def _use(ident: tree_sitter.Node, name: str, bindings: tuple[set[str], set[str]]) -> str:
    """'close', 'escape' (returned, stored, handed to non-fs code) or 'use'."""
    parent = ident.parent
    if parent is None:
        return "use"
    if parent.type == "member_expression" and parent.child_by_field_name("object") == ident:
        prop = parent.child_by_field_name("property")
        method = node_text(prop) if prop is not None else ""
        call = parent.parent
        if call is not None and call.type == "call_expression" and method == "close":
            return "close"
        return "use"  # handle.read(...), handle.stat(), ...
    if parent.type == "arguments" and parent.parent is not None:
        call = parent.parent
        if call.type == "call_expression" and js.is_fs_call(call, bindings):
            last = js.js_callee(call).rsplit(".", 1)[-1]
            return "close" if last in _CLOSE_FUNCTIONS else "use"
        return "escape"
    if parent.type in _ESCAPES:
        return "escape"
    return "use"


def _in_finally(node: tree_sitter.Node, scope: tree_sitter.Node) -> bool:
    current = node.parent
    child = node
    while current is not None and current != scope:
        if current.type == "finally_clause":
            return True
        if current.type == "try_statement" and child == current.child_by_field_name("finalizer"):
            return True
        child, current = current, current.parent
    return False


RULE = Rule(meta=META, doc=__doc__ or "", check_repo=check_repo)
