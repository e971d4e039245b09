"""Small helpers over tree-sitter Python trees, shared by the rules.

Descendant searches (``of_type``, ``walk``, ``body_nodes``) run as compiled tree-sitter
queries, in C, when the tree came from ``parsing.parse``: a Python-level walk over every
node of a large repository costs more than parsing it.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterable, Iterator
from functools import cache

import tree_sitter

from vibe_audit.chunker.parsing import language_of, node_text
from vibe_audit.rules.nodeindex import indexed_nodes

FUNCTION_TYPES = frozenset({"function_definition", "lambda"})
_ANY_NAMED = "_"


def walk(
    node: tree_sitter.Node, stop_at: frozenset[str] = frozenset()
) -> Iterator[tree_sitter.Node]:
    """Every named descendant of ``node`` (pre-order), not descending into ``stop_at``
    node types (the stop nodes themselves are included). Anonymous tokens (punctuation,
    keywords) are not visited."""
    found = _query_nodes(node, (_ANY_NAMED,), stop_at)
    if found is not None:
        return iter(found)
    return _python_walk(node, stop_at)


def _python_walk(node: tree_sitter.Node, stop_at: frozenset[str]) -> Iterator[tree_sitter.Node]:
    stack = list(reversed(node.named_children))
    while stack:
        current = stack.pop()
        yield current
        if current.type not in stop_at:
            stack.extend(reversed(current.named_children))


def of_type(
    node: tree_sitter.Node, *types: str, stop_at: frozenset[str] = frozenset()
) -> Iterator[tree_sitter.Node]:
    """Descendants of ``node`` of the given named types, in source order."""
    found = _query_nodes(node, types, stop_at)
    if found is not None:
        return iter(found)
    wanted = set(types)
    return (n for n in _python_walk(node, stop_at) if n.type in wanted)


@cache
def _query(lang: tree_sitter.Language, types: tuple[str, ...]) -> tree_sitter.Query | None:
    """One query capturing nodes of ``types`` ('_' = any named node); None when a type is
    not a named node of this grammar (the caller then walks in Python)."""
    patterns = []
    for kind in types:
        if kind != _ANY_NAMED and not lang.id_for_node_kind(kind, True):
            return None
        patterns.append(f"({kind}) @n")
    return tree_sitter.Query(lang, "\n".join(patterns))


def _captures(
    node: tree_sitter.Node, lang: tree_sitter.Language, types: Iterable[str]
) -> list[tree_sitter.Node] | None:
    query = _query(lang, tuple(sorted(set(types))))
    if query is None:
        return None
    nodes = tree_sitter.QueryCursor(query).captures(node).get("n", [])
    unique = {n.id: n for n in nodes if n.id != node.id}
    return sorted(unique.values(), key=lambda n: (n.start_byte, -n.end_byte))


def _query_nodes(
    node: tree_sitter.Node, types: tuple[str, ...], stop_at: frozenset[str]
) -> list[tree_sitter.Node] | None:
    if not types:
        return None
    indexed = indexed_nodes(node, types, stop_at)
    if indexed is not None:
        return indexed
    lang = language_of(node)
    if lang is None:
        return None
    found = _captures(node, lang, types)
    if found is None or not stop_at:
        return found
    stops = _captures(node, lang, stop_at)
    if stops is None:
        return None
    outer: list[tree_sitter.Node] = []
    for stop in stops:  # sorted by start: keep the outermost stop nodes
        if not outer or stop.start_byte >= outer[-1].end_byte:
            outer.append(stop)
    starts = [s.start_byte for s in outer]

    def hidden(n: tree_sitter.Node) -> bool:
        i = bisect.bisect_right(starts, n.start_byte) - 1
        if i < 0:
            return False
        stop = outer[i]
        return n.id != stop.id and n.end_byte <= stop.end_byte

    return [n for n in found if not hidden(n)]


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


def keyword_value(call: tree_sitter.Node, name: str) -> tree_sitter.Node | None:
    """The value node of keyword argument ``name`` of ``call``."""
    arguments = call.child_by_field_name("arguments")
    for arg in arguments.named_children if arguments is not None else []:
        if arg.type == "keyword_argument":
            key, value = arg.child_by_field_name("name"), arg.child_by_field_name("value")
            if key is not None and value is not None and node_text(key) == name:
                return value
    return None


def own_calls(function: tree_sitter.Node) -> list[tree_sitter.Node]:
    """Calls in a function's own body (not in nested functions), in source order."""
    return [n for n in body_nodes(function) if n.type == "call"]


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


def body_nodes(function: tree_sitter.Node, *types: str) -> Iterator[tree_sitter.Node]:
    """Named nodes of a function's own body (only of ``types`` when given), not of functions
    or lambdas nested in it."""
    body = function.child_by_field_name("body")
    if body is None:
        return iter(())
    if types:
        return of_type(body, *types, stop_at=FUNCTION_TYPES)
    return walk(body, stop_at=FUNCTION_TYPES)


def enclosing(node: tree_sitter.Node, *types: str) -> tree_sitter.Node | None:
    current = node.parent
    while current is not None:
        if current.type in types:
            return current
        current = current.parent
    return None


def parameter_names(function: tree_sitter.Node) -> set[str]:
    """Names of a Python function's parameters (plain, typed, defaulted, *args, **kwargs)."""
    parameters = function.child_by_field_name("parameters")
    names: set[str] = set()
    for param in parameters.named_children if parameters is not None else []:
        if param.type == "identifier":
            names.add(node_text(param))
            continue
        name = param.child_by_field_name("name")
        if name is None:
            name = next((c for c in param.named_children if c.type == "identifier"), None)
        if name is not None:
            names.add(node_text(name))
    return names


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


# JS/TS and Rust test, spec, bench and example files (Python test code: chunker.testcode).
_TEST_FILE = re.compile(r"(^|/)(__tests__|tests?|spec|e2e|benches|examples)/|\.(test|spec)\.")


def is_test_path(path: str) -> bool:
    """A test, spec, bench or example file by its path (``foo.test.ts``, ``tests/x.rs``)."""
    return bool(_TEST_FILE.search(path))
