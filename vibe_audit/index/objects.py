"""Module-level locks, queues, connection registries and mutable collections, with the
functions that mutate them (writers) and those that only read them."""

from __future__ import annotations

import re

import tree_sitter

from vibe_audit.chunker.parsing import node_text
from vibe_audit.index.hits import Touch, module_values, named_js_function, touch
from vibe_audit.rules import js, syntax
from vibe_audit.rules.context import FileContext
from vibe_audit.schemas.resources import AccessMode, ResourceKind

_MUTATORS = frozenset(
    {
        "append",
        "add",
        "pop",
        "popitem",
        "update",
        "clear",
        "remove",
        "discard",
        "setdefault",
        "extend",
        "insert",
        "put",
        "put_nowait",
        "get_nowait",
        "appendleft",
        "popleft",
        "set",
        "delete",
        "push",
        "shift",
        "unshift",
        "splice",
        "acquire",
        "release",
        "__setitem__",
    }
)
_LOCK_FACTORIES = frozenset({"Lock", "RLock", "Semaphore", "BoundedSemaphore", "Condition"})
_QUEUE_FACTORIES = frozenset({"Queue", "SimpleQueue", "LifoQueue", "PriorityQueue", "deque"})
_COLLECTION_FACTORIES = frozenset(
    {
        "dict",
        "list",
        "set",
        "defaultdict",
        "OrderedDict",
        "Counter",
        "WeakValueDictionary",
        "WeakSet",
        "Map",
        "Set",
        "WeakMap",
    }
)
_REGISTRY_WORDS = frozenset(
    {"client", "clients", "socket", "sockets", "conn", "conns", "connection", "connections",
     "ws", "websocket", "websockets", "subscriber", "subscribers", "peer", "peers",
     "listener", "listeners"}
)  # fmt: skip
_WORD = re.compile(r"[A-Z]?[a-z0-9]+|[A-Z]+(?![a-z])")


def _object_kind(name: str, value: tree_sitter.Node) -> ResourceKind | None:
    kind = value.type
    if kind in {"call", "new_expression"}:
        function = value.child_by_field_name("function") or value.child_by_field_name("constructor")
        factory = node_text(function).rsplit(".", 1)[-1] if function is not None else ""
        if factory in _LOCK_FACTORIES:
            return "lock"
        if factory in _QUEUE_FACTORIES:
            return "queue"
        if factory not in _COLLECTION_FACTORIES:
            return None
    elif kind not in {"dictionary", "list", "set", "array", "object"}:
        return None
    words = {w.lower() for w in _WORD.findall(name)}
    return "websocket-registry" if words & _REGISTRY_WORDS else "shared-object"


def python_object_hits(ctx: FileContext) -> list[Touch]:
    candidates: dict[str, ResourceKind] = {}
    for node in ctx.root.named_children:
        for name, value in module_values(node):
            if name.isupper() and value.type in {"dictionary", "list", "set"}:
                continue  # a constant table, by convention
            kind = _object_kind(name, value)
            if kind is not None:
                candidates[name] = kind
            elif value.type == "none":
                candidates.setdefault(name, "shared-object")  # a lazily set global
    if not candidates:
        return []
    found: list[Touch] = []
    globals_written: dict[int, set[str]] = {}
    for statement in syntax.of_type(ctx.root, "global_statement"):
        function = syntax.enclosing(statement, "function_definition")
        if function is not None:
            names = {node_text(n) for n in statement.named_children}
            globals_written.setdefault(function.id, set()).update(names)
    for ident in _identifiers(ctx, candidates):
        name = node_text(ident)
        if name not in candidates or (ident.parent and ident.parent.type == "global_statement"):
            continue
        function = syntax.enclosing(ident, "function_definition")
        if function is None:
            continue
        mode, operation = _python_use(ident, name in globals_written.get(function.id, set()))
        found.append(touch(ctx, ident, candidates[name], f"{ctx.source.path}:{name}", mode,
                          operation))  # fmt: skip
    writers = {h.name for h in found if h.mode == "write"}
    return [
        h for h in found if h.kind in {"lock", "queue", "websocket-registry"} or h.name in writers
    ]


def _identifiers(ctx: FileContext, names: dict[str, ResourceKind]) -> list[tree_sitter.Node]:
    """Identifier nodes spelling one of ``names``: found by a text search, then located in
    the tree (cheaper than visiting every identifier of a large file)."""
    data = ctx.source.text.encode("utf-8")
    pattern = re.compile(
        rb"\b(" + b"|".join(re.escape(n.encode()) for n in sorted(names)) + rb")\b"
    )
    found = []
    for match in pattern.finditer(data):
        node = ctx.root.named_descendant_for_byte_range(match.start(), match.end())
        if node is not None and node.type == "identifier" and node.start_byte == match.start():
            found.append(node)
    return found


def _python_use(ident: tree_sitter.Node, declared_global: bool) -> tuple[AccessMode, str]:
    parent = ident.parent
    if parent is None:
        return "read", "read"
    if parent.type == "assignment" and parent.child_by_field_name("left") == ident:
        return ("write", "assign") if declared_global else ("read", "read")
    if parent.type == "attribute" and parent.child_by_field_name("object") == ident:
        attr = parent.child_by_field_name("attribute")
        method = node_text(attr) if attr is not None else ""
        grand = parent.parent
        if method in _MUTATORS and grand is not None and grand.type == "call":
            return "write", f".{method}()"
        return "read", f".{method}"
    if parent.type == "subscript" and parent.child_by_field_name("value") == ident:
        grand = parent.parent
        if grand is not None and (
            (grand.type in {"assignment", "augmented_assignment"}
             and grand.child_by_field_name("left") == parent)
            or grand.type == "delete_statement"
        ):  # fmt: skip
            return "write", "[...] ="
        return "read", "[...]"
    if parent.type == "with_item":
        return "write", "with"
    if parent.type == "augmented_assignment" and declared_global:
        return "write", "assign"
    return "read", "read"


def js_object_hits(ctx: FileContext) -> list[Touch]:
    candidates: dict[str, ResourceKind] = {}
    for node in ctx.root.named_children:
        for name, value in module_values(node):
            kind = _object_kind(name, js.unwrap(value))
            if kind is not None and not (name.isupper() and value.type in {"array", "object"}):
                candidates[name] = kind
    if not candidates:
        return []
    found: list[Touch] = []
    for ident in _identifiers(ctx, candidates):
        name = node_text(ident)
        if name not in candidates or named_js_function(ident) is None:
            continue
        parent = ident.parent
        mode: AccessMode = "read"
        operation = "read"
        if parent is not None and parent.type == "member_expression":
            prop = parent.child_by_field_name("property")
            method = node_text(prop) if prop is not None else ""
            grand = parent.parent
            if method in _MUTATORS and grand is not None and grand.type == "call_expression":
                mode, operation = "write", f".{method}()"
            else:
                operation = f".{method}"
        found.append(touch(ctx, ident, candidates[name], f"{ctx.source.path}:{name}", mode,
                          operation))  # fmt: skip
    writers = {h.name for h in found if h.mode == "write"}
    return [h for h in found if h.kind in {"lock", "queue"} or h.name in writers]
