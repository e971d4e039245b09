"""Helpers for the rules about files written in place (checkpoints, state files): the
file a temp-file factory creates, what a rename moves where, the files a function writes,
whether it fsyncs, and destinations that are scratch space or a regenerable cache.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import tree_sitter

from vibe_audit.chunker.parsing import node_text
from vibe_audit.rules import syntax
from vibe_audit.rules.context import FileContext

TEMP_FACTORIES = frozenset(
    {
        "tempfile.NamedTemporaryFile",
        "tempfile.mkstemp",
        "tempfile.mktemp",
        "NamedTemporaryFile",
        "mkstemp",
        "mktemp",
    }
)


def temp_names(call: tree_sitter.Node) -> set[str]:
    """Expressions that name the file a tempfile factory call creates.

    ``fd, tmp = mkstemp()`` gives ``tmp``; ``tmp = mktemp()`` gives ``tmp``;
    ``with NamedTemporaryFile() as f`` and ``f = NamedTemporaryFile()`` give ``f.name``
    (and any ``x = f.name`` is followed by the caller).
    """
    name = syntax.callee(call)
    parent = call.parent
    names: set[str] = set()
    if parent is not None and parent.type == "assignment":
        left = parent.child_by_field_name("left")
        if left is None:
            return names
        if left.type in {"pattern_list", "tuple_pattern"} and name.endswith("mkstemp"):
            targets = left.named_children
            if len(targets) == 2:
                names.add(node_text(targets[1]))
        elif left.type == "identifier":
            text = node_text(left)
            names.add(text if name.endswith(("mktemp", "mkstemp")) else f"{text}.name")
    elif parent is not None and parent.type == "as_pattern":
        alias = parent.child_by_field_name("alias")
        if alias is not None:
            names.add(f"{node_text(alias).strip()}.name")
    return names


def rename_source(call: tree_sitter.Node) -> str | None:
    """The source expression of a rename (os.replace(src, dst) or src.replace(dst))."""
    if not syntax.is_rename(call):
        return None
    name = syntax.callee(call)
    args = syntax.positional_args(call)
    if name in {"os.replace", "os.rename", "os.renames", "shutil.move"}:
        return node_text(args[0]) if args else None
    function = call.child_by_field_name("function")
    receiver = function.child_by_field_name("object") if function is not None else None
    return node_text(receiver) if receiver is not None else None


def aliases(function: tree_sitter.Node, names: set[str]) -> set[str]:
    """``names`` plus every plain name assigned from one of them (``path = f.name``)."""
    found = set(names)
    for node in syntax.body_nodes(function):
        if node.type != "assignment":
            continue
        left, right = node.child_by_field_name("left"), node.child_by_field_name("right")
        if left is None or right is None or left.type != "identifier":
            continue
        value = node_text(right)
        if value in found or (right.type == "call" and _wraps(right, found)):
            found.add(node_text(left))
    return found


def _wraps(call: tree_sitter.Node, names: set[str]) -> bool:
    """``Path(tmp)`` / ``str(tmp)`` / ``os.fspath(tmp)``: the same file under another type."""
    if syntax.last_name(syntax.callee(call)) not in {"Path", "str", "fspath", "PurePath"}:
        return False
    args = syntax.positional_args(call)
    return len(args) == 1 and node_text(args[0]) in names


_WRITE_MODE = re.compile(r"^[rwabxt+]*[wax][rwabxt+]*$|^[rwabxt+]*\+[rwabxt+]*$")


def open_mode(call: tree_sitter.Node, position: int) -> str | None:
    """The literal mode of ``open(path, mode)`` (``position`` 1) or ``p.open(mode)`` (0)."""
    args = syntax.positional_args(call)
    if len(args) > position:
        return syntax.string_value(args[position])
    value = syntax.keyword_value(call, "mode")
    return syntax.string_value(value) if value is not None else None


def written_files(function: tree_sitter.Node) -> dict[str, tree_sitter.Node]:
    """Expressions naming a file the function writes, each with the call that writes it.

    ``open(tmp, "w")``, ``tmp.open("wb")``, ``tmp.write_text(...)``, a NamedTemporaryFile
    (``f.name``) and ``fd, tmp = mkstemp()`` followed by ``os.fdopen(fd, "w")``/``os.write``.
    """
    found: dict[str, tree_sitter.Node] = {}
    for call in syntax.own_calls(function):
        name = syntax.callee(call)
        short = syntax.last_name(name)
        args = syntax.positional_args(call)
        if name in {"open", "io.open", "builtins.open"} and args:
            mode = open_mode(call, 1)
            if mode is not None and _WRITE_MODE.match(mode):
                found.setdefault(node_text(args[0]), call)
        elif short in {"open", "write_text", "write_bytes"} and "." in name:
            receiver = name.rsplit(".", 1)[0]
            mode = open_mode(call, 0) if short == "open" else "w"
            if mode is not None and _WRITE_MODE.match(mode):
                found.setdefault(receiver, call)
        elif name in TEMP_FACTORIES and not name.endswith("mktemp"):
            for temp in temp_names(call):
                found.setdefault(temp, call)
    return found


def fsyncs(function: tree_sitter.Node) -> bool:
    """The function calls fsync/fdatasync, or a helper whose name says it syncs."""
    return any(
        "fsync" in (callee := syntax.callee(call).lower()) or "fdatasync" in callee
        for call in syntax.own_calls(function)
    )


def rename_destination(call: tree_sitter.Node) -> tree_sitter.Node | None:
    """The destination argument of a rename (os.replace(src, dst) or src.replace(dst))."""
    args = syntax.positional_args(call)
    if syntax.callee(call) in {"os.replace", "os.rename", "os.renames", "shutil.move"}:
        return args[1] if len(args) > 1 else None
    return args[0] if args else None


SCRATCH = re.compile(r"tmp|temp(?![lt])", re.I)  # not "template", "attempt"
_SCRATCH = SCRATCH


def scratch_destination(function: tree_sitter.Node, call: tree_sitter.Node) -> bool:
    """The rename's destination is itself in a temp location (``os.path.join(tempdir, n)``,
    or a name assigned from one): a scratch file being renamed, not state put in place."""
    destination = rename_destination(call)
    if destination is None:
        return False
    text = node_text(destination)
    if _SCRATCH.search(text):
        return True
    return destination.type == "identifier" and any(
        _SCRATCH.search(value) for value in _definitions(function, text, call)
    )


RENAME_TEXT = re.compile(
    r"\b(?:os\.(?:replace|rename|renames)|shutil\.move)\(|\.(?:replace|rename)\(\s*[\w.\[\]\"']+\s*\)"
)
WRITE_TEXT = re.compile(r"open\(|write_(?:text|bytes)\(|mkstemp|NamedTemporaryFile")


def functions_matching(ctx: FileContext, pattern: re.Pattern[str]) -> Iterator[tree_sitter.Node]:
    """The file's functions whose source text matches ``pattern`` (a cheap prefilter)."""
    if not pattern.search(ctx.source.text):
        return
    for function in syntax.functions(ctx.root):
        if pattern.search(node_text(function)):
            yield function


_CACHE = re.compile(r"cache|pyc\b|\.pyc", re.I)


def regenerable(ctx: FileContext, function: tree_sitter.Node, rename: tree_sitter.Node) -> bool:
    """The renamed file is a cache (by its file, function or destination name): it can be
    rebuilt, so losing it to a crash costs time, not data."""
    destination = rename_destination(rename)
    texts = [ctx.source.path.rsplit("/", 1)[-1], syntax.function_name(function)]
    if destination is not None:
        texts.append(node_text(destination))
        texts.extend(_definitions(function, node_text(destination), rename))
    return any(_CACHE.search(text) for text in texts)


def _definitions(function: tree_sitter.Node, name: str, before: tree_sitter.Node) -> list[str]:
    """Right-hand sides assigned to ``name`` in ``function`` before node ``before``."""
    found: list[str] = []
    for node in syntax.body_nodes(function):
        if node.type != "assignment" or node.start_byte > before.start_byte:
            continue
        left, right = node.child_by_field_name("left"), node.child_by_field_name("right")
        if left is not None and right is not None and node_text(left) == name:
            found.append(node_text(right))
    return found
