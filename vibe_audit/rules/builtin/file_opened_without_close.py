"""File opened in a function and never closed.

What it finds:
    ``f = open(...)`` in a function body, outside a ``with``, when ``f`` is never closed
    there and never leaves the function (not returned or yielded, not stored on an object
    or in a container, not passed to another call, not a global; ``typing.cast`` around the
    call is seen through); and ``open(...)`` passed straight into
    another call (``files={"f": open(path, "rb")}``, ``json.load(open(path))``) unless that
    call takes ownership (contextlib.closing, ExitStack.enter_context, FileResponse); in
    both cases only inside a loop, where one descriptor leaks per turn. Outside a loop
    CPython closes the file when the function returns (a ResourceWarning, not a leak worth
    a finding: measured on real code, every such report was noise).

Why it matters:
    The file descriptor stays open until the garbage collector finalizes the object: on an
    exception path, in a long-running worker, or on PyPy that can be much later. A worker
    processing thousands of files runs out of descriptors ("Too many open files"),
    and written data may not be flushed when another process reads the file.

Example:
    for path in paths:
        f = open(path)
        chunks.append(f.read())

Use instead:
    for path in paths:
        with open(path, encoding="utf-8") as f:
            chunks.append(f.read())
    # or: Path(path).read_text(encoding="utf-8")
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
    id="file-opened-without-close",
    title="File opened without being closed",
    severity=Severity.MEDIUM,
    confidence=Confidence.HIGH,
    categories={"reliability": "Resource Leak"},
    checklist=["reliability.10.1"],
    problem=(
        "{text} opens a file that this function never closes (no `with`, no close()): the "
        "descriptor lives until garbage collection, and on an exception it leaks."
    ),
    scenario=(
        "A long-running process calls this code ({where}) once per item it handles; when "
        "the read or a later step raises, the handle is never closed, and after enough "
        "items every open() fails with 'OSError: [Errno 24] Too many open files'."
    ),
    impact=(
        "Descriptor exhaustion takes down the worker (and its sockets and database "
        "connections, which need descriptors too); unflushed writes can be read truncated."
    ),
    how_to_verify=(
        "Run with `python -X dev` (or -W error::ResourceWarning): 'ResourceWarning: "
        "unclosed file' is reported for this line; or watch `ls /proc/<pid>/fd | wc -l` grow."
    ),
    fix=(
        "Use a context manager: `with open(...) as f:`; for whole-file reads and writes, "
        "Path.read_text()/read_bytes()/write_text() open and close for you."
    ),
    trade_off="None: the with block closes the file on every path, including exceptions.",
    effort_hours=(0.1, 0.25),
)

_OPEN = frozenset({"open", "io.open", "codecs.open"})
_CONTAINERS = frozenset({"tuple", "list", "pair", "dictionary", "parenthesized_expression"})
# Callees that close the file they are given (or hand it to something that does).
_TAKES_OWNERSHIP = frozenset(
    {"closing", "enter_context", "push", "callback", "TextIOWrapper", "BufferedReader",
     "BufferedWriter", "FileResponse", "StreamingResponse", "File", "FileWrapper", "wrap_file"}
)  # fmt: skip


def check_file(ctx: FileContext) -> Iterator[Hit]:
    if "open(" not in ctx.source.text:
        return
    aliases = pyflow.import_aliases(ctx.root)
    global_names: set[str] | None = None
    for call in syntax.of_type(ctx.root, "call"):
        name = syntax.callee(call)
        if name not in _OPEN and pyflow.canonical(name, aliases) not in _OPEN:
            continue
        function = pyflow.enclosing_function(call)
        if function is None or pyflow.in_with_item(call) or not _in_loop(call):
            continue
        parent = call.parent
        if parent is not None and parent.type == "attribute":
            continue  # open(...).read(): CPython closes it as soon as the expression ends
        receiver = _argument_of(call)
        if receiver is not None and syntax.last_name(syntax.callee(receiver)) == "cast":
            call, receiver = receiver, None  # typing.cast(T, open(...)) is the open itself
        if receiver is not None:
            if syntax.last_name(syntax.callee(receiver)) not in _TAKES_OWNERSHIP:
                yield pyflow.hit(ctx, call, text=node_text(call).split("\n")[0])
            continue
        bound = pyflow.bound_name(call)
        if bound is None:
            continue
        if global_names is None:
            global_names = pyflow.module_globals(ctx.root)
        if bound in global_names or pyflow.released(bound, function, call):
            continue
        yield pyflow.hit(ctx, call, text=f"{bound} = {node_text(call)}".split("\n")[0])


_LOOPS = pyflow.LOOP_TYPES | {
    "list_comprehension", "set_comprehension", "dictionary_comprehension", "generator_expression"
}  # fmt: skip


def _in_loop(call: tree_sitter.Node) -> bool:
    """The call runs once per turn of a loop (or comprehension) of its own function."""
    scope = syntax.enclosing(call, *_LOOPS, *pyflow.SCOPE_TYPES)
    return scope is not None and scope.type in _LOOPS


def _argument_of(call: tree_sitter.Node) -> tree_sitter.Node | None:
    """The call that receives ``open(...)`` as an argument, directly or inside a tuple, list
    or dict literal (``files={"image": (name, open(path, "rb"))}``); None otherwise."""
    node = call
    while node.parent is not None and node.parent.type in _CONTAINERS:
        node = node.parent
    if node.parent is not None and node.parent.type == "keyword_argument":
        node = node.parent
    parent = node.parent
    if parent is None or parent.type != "argument_list":
        return None
    outer = parent.parent
    return outer if outer is not None and outer.type == "call" else None


RULE = Rule(meta=META, doc=__doc__ or "", check_file=check_file)
