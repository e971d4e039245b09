"""Small helpers over tree-sitter Python trees, shared by the rules."""

from __future__ import annotations

from collections.abc import Iterator

import tree_sitter

from vibe_audit.chunker.parsing import node_text

FUNCTION_TYPES = frozenset({"function_definition", "lambda"})


def walk(
    node: tree_sitter.Node, stop_at: frozenset[str] = frozenset()
) -> Iterator[tree_sitter.Node]:
    """Every descendant of ``node`` (pre-order), not descending into ``stop_at`` node types."""
    stack = list(reversed(node.children))
    while stack:
        current = stack.pop()
        yield current
        if current.type not in stop_at:
            stack.extend(reversed(current.children))


def of_type(
    node: tree_sitter.Node, *types: str, stop_at: frozenset[str] = frozenset()
) -> Iterator[tree_sitter.Node]:
    wanted = set(types)
    return (n for n in walk(node, stop_at) if n.type in wanted)


def line(node: tree_sitter.Node) -> int:
    return node.start_point.row + 1


def end_line(node: tree_sitter.Node) -> int:
    return node.end_point.row + 1


def callee(call: tree_sitter.Node) -> str:
    """Dotted name of a call's function ('sqlite3.connect', 'conn.execute', 'open')."""
    function = call.child_by_field_name("function")
    return node_text(function) if function is not None else ""


def last_name(dotted: str) -> str:
    return dotted.rsplit(".", 1)[-1]


def keyword_names(call: tree_sitter.Node) -> set[str]:
    args = call.child_by_field_name("arguments")
    if args is None:
        return set()
    names = set()
    for arg in args.named_children:
        if arg.type == "keyword_argument":
            name = arg.child_by_field_name("name")
            if name is not None:
                names.add(node_text(name))
        elif arg.type == "dictionary_splat":
            names.add("**")
    return names


def positional_args(call: tree_sitter.Node) -> list[tree_sitter.Node]:
    args = call.child_by_field_name("arguments")
    if args is None:
        return []
    return [
        a
        for a in args.named_children
        if a.type not in {"keyword_argument", "dictionary_splat", "list_splat", "comment"}
    ]


def is_async(function: tree_sitter.Node) -> bool:
    return function.type == "function_definition" and any(
        c.type == "async" for c in function.children
    )


def functions(root: tree_sitter.Node) -> Iterator[tree_sitter.Node]:
    return of_type(root, "function_definition")


def body_nodes(function: tree_sitter.Node) -> Iterator[tree_sitter.Node]:
    """Nodes of a function's own body, not of functions or lambdas nested in it."""
    body = function.child_by_field_name("body")
    if body is None:
        return iter(())
    return walk(body, stop_at=FUNCTION_TYPES)


def enclosing(node: tree_sitter.Node, *types: str) -> tree_sitter.Node | None:
    current = node.parent
    while current is not None:
        if current.type in types:
            return current
        current = current.parent
    return None


def function_name(function: tree_sitter.Node) -> str:
    name = function.child_by_field_name("name")
    return node_text(name) if name is not None else "<lambda>"


def qualified_name(node: tree_sitter.Node) -> str | None:
    """'Class.method' style name of the definitions enclosing ``node`` (or None at module level)."""
    parts: list[str] = []
    current: tree_sitter.Node | None = node
    while current is not None:
        if current.type in {"function_definition", "class_definition"}:
            name = current.child_by_field_name("name")
            if name is not None:
                parts.append(node_text(name))
        current = current.parent
    return ".".join(reversed(parts)) or None


def string_value(node: tree_sitter.Node) -> str | None:
    """The literal content of a plain string node, else None."""
    if node.type != "string":
        return None
    if any(c.type == "interpolation" for c in node.named_children):
        return None
    return "".join(node_text(c) for c in node.named_children if c.type == "string_content")


_RENAME_FUNCTIONS = frozenset({"os.replace", "os.rename", "os.renames", "shutil.move"})


def is_rename(call: tree_sitter.Node) -> bool:
    """os.replace / os.rename / shutil.move, or Path.replace(target) / Path.rename(target).

    str.replace takes two arguments, Path.replace one: that tells them apart.
    """
    name = callee(call)
    if name in _RENAME_FUNCTIONS:
        return True
    return (
        last_name(name) in {"replace", "rename"} and "." in name and len(positional_args(call)) == 1
    )
