"""Helpers over tree-sitter JavaScript / TypeScript trees, shared by the rules and the index.

``syntax`` holds the Python-tree helpers; its ``walk`` / ``of_type`` / ``line`` /
``end_line`` / ``enclosing`` are grammar-neutral and reused here. Everything below knows the
node types of the official tree-sitter-javascript and -typescript grammars.
"""

from __future__ import annotations

import tree_sitter

from vibe_audit.chunker.parsing import node_text
from vibe_audit.rules import syntax

JS_LANGUAGES = ["javascript", "typescript", "tsx"]
JS_FUNCTION_TYPES = frozenset(
    {"function_declaration", "function_expression", "function", "arrow_function",
     "method_definition", "generator_function_declaration", "generator_function"}
)  # fmt: skip
# Wrappers that do not change a value: (x), x as T, x!, <T>x, x satisfies T.
_JS_TRANSPARENT = frozenset(
    {"parenthesized_expression", "as_expression", "non_null_expression",
     "type_assertion", "satisfies_expression", "await_expression"}
)  # fmt: skip


def unwrap(node: tree_sitter.Node) -> tree_sitter.Node:
    """``node`` without parentheses, type assertions, ``!`` and ``await`` around it."""
    while node.type in _JS_TRANSPARENT and node.named_children:
        node = node.named_children[0]
    return node


def js_callee(call: tree_sitter.Node) -> str:
    """Source text of a call's function ('fetch', 'JSON.parse', 'ws.addEventListener')."""
    function = call.child_by_field_name("function")
    return node_text(function) if function is not None else ""


def js_arguments(call: tree_sitter.Node) -> list[tree_sitter.Node]:
    """The argument expressions of a call_expression or new_expression (no comments)."""
    args = call.child_by_field_name("arguments")
    if args is None:
        return []
    return [a for a in args.named_children if a.type != "comment"]


def js_string(node: tree_sitter.Node) -> str | None:
    """The value of a string literal or a template string without ``${}``, else None."""
    if node.type == "string":
        return "".join(node_text(c) for c in node.named_children if c.type == "string_fragment")
    if node.type == "template_string" and not any(
        c.type == "template_substitution" for c in node.named_children
    ):
        return node_text(node)[1:-1]
    return None


def object_keys(obj: tree_sitter.Node) -> set[str]:
    """Property names an object literal spells out; '...' when it spreads another object
    (whose keys cannot be seen)."""
    keys: set[str] = set()
    for child in obj.named_children:
        if child.type == "spread_element":
            keys.add("...")
        elif child.type in {"shorthand_property_identifier", "method_definition", "pair"}:
            key = child.child_by_field_name("key") or child.child_by_field_name("name")
            text = node_text(key) if key is not None else node_text(child)
            keys.add(text.strip("'\"`"))
    return keys


def enclosing_function(node: tree_sitter.Node) -> tree_sitter.Node | None:
    """The nearest JS/TS function (declaration, expression, arrow or method) around ``node``."""
    return syntax.enclosing(node, *JS_FUNCTION_TYPES)


def js_function_name(function: tree_sitter.Node) -> str:
    """A function's own name, else the variable, property or key it is assigned to."""
    name = function.child_by_field_name("name")
    if name is not None:
        return node_text(name)
    parent = function.parent
    if parent is not None and parent.type == "variable_declarator":
        target = parent.child_by_field_name("name")
        return node_text(target) if target is not None else "<anonymous>"
    if parent is not None and parent.type in {"pair", "assignment_expression"}:
        target = parent.child_by_field_name("key") or parent.child_by_field_name("left")
        return node_text(target).rsplit(".", 1)[-1] if target is not None else "<anonymous>"
    return "<anonymous>"


def js_symbol(node: tree_sitter.Node) -> str | None:
    """'Class.method' / 'outer.inner' name of the named definitions around ``node``."""
    parts: list[str] = []
    current = node.parent
    while current is not None:
        if current.type in JS_FUNCTION_TYPES:
            name = js_function_name(current)
            if name != "<anonymous>":
                parts.append(name)
        elif current.type in {"class_declaration", "class", "abstract_class_declaration"}:
            name_node = current.child_by_field_name("name")
            if name_node is not None:
                parts.append(node_text(name_node))
        current = current.parent
    return ".".join(reversed(parts)) or None


def in_try_body(node: tree_sitter.Node) -> bool:
    """True when ``node`` sits in the ``try { }`` block of a try statement with a catch
    clause, within the same function."""
    child, current = node, node.parent
    while current is not None and current.type not in JS_FUNCTION_TYPES:
        if (
            current.type == "try_statement"
            and child == current.child_by_field_name("body")
            and current.child_by_field_name("handler") is not None
        ):
            return True
        child, current = current, current.parent
    return False


def named_imports(root: tree_sitter.Node, module_prefix: str) -> dict[str, str]:
    """{local name: imported name} of ``import { a as b } from "<module_prefix>..."``."""
    found: dict[str, str] = {}
    for statement in root.named_children:
        if statement.type != "import_statement":
            continue
        source = statement.child_by_field_name("source")
        if source is None or not (js_string(source) or "").startswith(module_prefix):
            continue
        for spec in syntax.of_type(statement, "import_specifier"):
            name = spec.child_by_field_name("name")
            alias = spec.child_by_field_name("alias")
            if name is not None:
                found[node_text(alias or name)] = node_text(name)
    return found


def declared_values(scope: tree_sitter.Node) -> dict[str, tree_sitter.Node]:
    """{name: initial value} of the ``const/let/var name = value`` declarations in ``scope``
    (the last one wins)."""
    values: dict[str, tree_sitter.Node] = {}
    for declarator in syntax.of_type(scope, "variable_declarator"):
        name = declarator.child_by_field_name("name")
        value = declarator.child_by_field_name("value")
        if name is not None and value is not None and name.type == "identifier":
            values[node_text(name)] = value
    return values
