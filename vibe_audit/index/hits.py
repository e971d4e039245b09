"""What the resource index records per access, and the symbol an access belongs to."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

import tree_sitter

from vibe_audit.chunker.parsing import node_text
from vibe_audit.rules import js, rust, syntax
from vibe_audit.rules.context import FileContext
from vibe_audit.schemas.resources import AccessMode, ResourceKind

OPENING = re.compile(r"""^(?:[rRbBuUfF]{0,2}|r#*)(?:\"\"\"|'''|"|'|`)""")


@dataclass(frozen=True)
class Touch:
    """One line where a symbol reads or writes a resource (grouped into Access later)."""

    kind: ResourceKind
    name: str
    path: str
    line: int
    mode: AccessMode
    operation: str
    symbol: str | None
    signature: str


def symbol_of(ctx: FileContext, node: tree_sitter.Node) -> tuple[str | None, str]:
    """(qualified symbol, signature line) of the function or method around ``node``."""
    language = ctx.source.language
    if language == "python":
        function = syntax.enclosing(node, "function_definition")
        symbol = syntax.qualified_name(function) if function is not None else None
    elif language == "rust":
        function = syntax.enclosing(node, "function_item")
        symbol = (
            ".".join(filter(None, [rust.rust_symbol(function), rust.rust_function_name(function)]))
            if function is not None
            else None
        )
    else:
        return _js_symbol(ctx, node)
    if function is None:
        return None, ""
    return symbol, ctx.lines[function.start_point.row].strip()


def _js_symbol(ctx: FileContext, node: tree_sitter.Node) -> tuple[str | None, str]:
    """A JS/TS access's symbol: the named function around it, else the variable a wrapped
    callback is assigned to (``const createNote = db.transaction((x) => ...)``), else the
    ``variable.key`` of a module-level object property (``stmts.insert``)."""
    function = js.enclosing_function(node)
    anonymous = None
    while function is not None:
        name = js.js_function_name(function)
        if name == "<anonymous>":
            name = _declared_through_call(function)
        if name != "<anonymous>":
            outer = js.js_symbol(function)
            symbol = f"{outer}.{name}" if outer else name
            return symbol, ctx.lines[function.start_point.row].strip()
        anonymous = anonymous or function
        function = js.enclosing_function(function)
    pair = syntax.enclosing(node, "pair")
    declarator = syntax.enclosing(node, "variable_declarator")
    if pair is not None and declarator is not None:
        key, variable = pair.child_by_field_name("key"), declarator.child_by_field_name("name")
        if key is not None and variable is not None:
            symbol = f"{node_text(variable)}.{node_text(key)}"
            return symbol, ctx.lines[pair.start_point.row].strip()
    if anonymous is not None:
        return None, ctx.lines[anonymous.start_point.row].strip()
    return None, ""


def _declared_through_call(function: tree_sitter.Node) -> str:
    """``name`` of ``const name = wrap((...) => ...)``, else '<anonymous>'."""
    args = function.parent
    call = args.parent if args is not None and args.type == "arguments" else None
    declarator = call.parent if call is not None else None
    if declarator is not None and declarator.type == "variable_declarator":
        name = declarator.child_by_field_name("name")
        if name is not None:
            return node_text(name)
    return "<anonymous>"


def named_js_function(node: tree_sitter.Node) -> tree_sitter.Node | None:
    """The nearest enclosing JS/TS function that has a name (callbacks are skipped)."""
    current = js.enclosing_function(node)
    while current is not None and js.js_function_name(current) == "<anonymous>":
        current = js.enclosing_function(current)
    return current


def touch(
    ctx: FileContext,
    node: tree_sitter.Node,
    kind: ResourceKind,
    name: str,
    mode: AccessMode,
    operation: str,
    line: int | None = None,
) -> Touch:
    symbol, signature = symbol_of(ctx, node)
    return Touch(
        kind, name, ctx.source.path, line or syntax.line(node), mode, operation, symbol, signature
    )


def module_values(node: tree_sitter.Node) -> Iterator[tuple[str, tree_sitter.Node]]:
    """(name, value) of module-level assignments and const declarations."""
    if node.type == "export_statement" and node.named_children:
        node = node.named_children[-1]
    if node.type == "expression_statement" and node.named_children:
        node = node.named_children[0]
    if node.type == "assignment":
        left, right = node.child_by_field_name("left"), node.child_by_field_name("right")
        if left is not None and right is not None and left.type == "identifier":
            yield node_text(left), right
    elif node.type in {"lexical_declaration", "variable_declaration"}:
        for declarator in node.named_children:
            if declarator.type != "variable_declarator":
                continue
            name, value = (
                declarator.child_by_field_name("name"),
                declarator.child_by_field_name("value"),
            )
            if name is not None and value is not None and name.type == "identifier":
                yield node_text(name), value
    elif node.type in {"const_item", "static_item"}:
        name, value = node.child_by_field_name("name"), node.child_by_field_name("value")
        if name is not None and value is not None:
            yield node_text(name), value


def arguments(call: tree_sitter.Node) -> list[tree_sitter.Node]:
    args = call.child_by_field_name("arguments")
    if args is None:
        return []
    return [a for a in args.named_children if a.type not in {"comment", "dictionary_splat"}]


def literal(node: tree_sitter.Node) -> str | None:
    if node.type == "string":
        value = syntax.string_value(node)
        return value or js.js_string(node)
    if node.type in {"string_literal", "raw_string_literal"}:
        return rust.rust_string(node)
    if node.type == "template_string":
        return js.js_string(node)
    return None
