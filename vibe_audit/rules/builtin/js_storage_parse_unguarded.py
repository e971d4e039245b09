"""JSON.parse of a localStorage/sessionStorage value with no try/catch.

What it finds:
    ``JSON.parse(localStorage.getItem(key))`` (also sessionStorage, ``window.`` prefixed,
    with a ``?? "{}"`` / ``|| "null"`` fallback) and ``JSON.parse(raw)`` where ``raw`` is a
    variable of the same function initialised from such a ``getItem`` call, when the parse
    is not inside the ``try`` block of a try/catch in the same function.

Why it matters:
    Stored values are not trustworthy: an older release wrote another format, a browser
    extension or a user edited them, a quota error left a half-written value, or another
    tab stored ``"undefined"``. JSON.parse then throws a SyntaxError during startup or
    render, and because the bad value stays in storage the app fails the same way on every
    reload.

Example:
    const saved = JSON.parse(localStorage.getItem("filters") ?? "{}");

Use instead:
    function loadFilters(): Filters {
      try {
        return FiltersSchema.parse(JSON.parse(localStorage.getItem("filters") ?? "{}"));
      } catch {
        localStorage.removeItem("filters");
        return DEFAULT_FILTERS;
      }
    }
"""

from __future__ import annotations

from collections.abc import Iterator

import tree_sitter

from vibe_audit.chunker.parsing import node_text
from vibe_audit.rules import js, syntax
from vibe_audit.rules.base import Hit, Rule, RuleMeta, node_hit
from vibe_audit.rules.context import FileContext
from vibe_audit.schemas import Confidence, Severity

META = RuleMeta(
    id="js-storage-parse-unguarded",
    title="Stored JSON parsed without corruption handling",
    severity=Severity.MEDIUM,
    confidence=Confidence.HIGH,
    categories={"checkpoint": "Corruption", "reliability": "Error Handling"},
    checklist=["checkpoint.3C", "checkpoint.7C", "reliability.7.2"],
    problem=(
        "{function} parses a value read from {storage} with JSON.parse and no try/catch: "
        "one corrupt or foreign-format stored value throws on every load."
    ),
    scenario=(
        "An older release stored a plain string under the same key (or a user, extension "
        "or other tab wrote 'undefined'): JSON.parse throws a SyntaxError while the app "
        "starts, and the value stays in storage, so every reload fails the same way."
    ),
    impact=(
        "A blank page or crashed component for that user until they clear site data; "
        "support cannot fix it remotely."
    ),
    how_to_verify=(
        "In devtools run `{storage}.setItem(<key>, '{oops')` and reload: the page "
        "fails with a SyntaxError."
    ),
    fix=(
        "Wrap the read in try/catch: on failure remove the key and fall back to defaults; "
        "validate the parsed value (zod/valibot) before using it."
    ),
    trade_off="Falling back silently hides format bugs: log the discarded value once.",
    effort_hours=(0.25, 0.5),
    experimental=True,  # below the precision gate on real code: benchmarks/precision.py
    languages=js.JS_LANGUAGES,
)

_STORAGES = ("localStorage", "sessionStorage")


def check_file(ctx: FileContext) -> Iterator[Hit]:
    text = ctx.source.text
    if "JSON.parse" not in text or not any(s in text for s in _STORAGES):
        return
    for call in syntax.of_type(ctx.root, "call_expression"):
        if js.js_callee(call) != "JSON.parse" or js.in_try_body(call):
            continue
        args = js.js_arguments(call)
        storage = _storage_read(args[0], call) if args else None
        if storage is None:
            continue
        function = js.enclosing_function(call)
        yield node_hit(
            ctx,
            call,
            details={
                "storage": storage,
                "function": (
                    f"{js.js_function_name(function)}()" if function is not None else "Module code"
                ),
                "text": node_text(call),
            },
        )


def _without_fallback(node: tree_sitter.Node) -> tree_sitter.Node:
    """``x`` of ``x ?? "{}"`` / ``x || "null"`` (and of parentheses / ``!`` around it)."""
    node = js.unwrap(node)
    while node.type == "binary_expression":
        operator = node.child_by_field_name("operator")
        left = node.child_by_field_name("left")
        if operator is None or node_text(operator) not in {"??", "||"} or left is None:
            break
        node = js.unwrap(left)
    return node


def _storage_of(node: tree_sitter.Node) -> str | None:
    """'localStorage' for ``(window.)localStorage.getItem(...)``, else None."""
    if node.type != "call_expression":
        return None
    name = js.js_callee(node).removeprefix("window.")
    for storage in _STORAGES:
        if name == f"{storage}.getItem":
            return storage
    return None


def _storage_read(arg: tree_sitter.Node, call: tree_sitter.Node) -> str | None:
    """The storage ``arg`` was read from: directly or via a variable of the same function."""
    value = _without_fallback(arg)
    found = _storage_of(value)
    if found is not None or value.type != "identifier":
        return found
    scope = js.enclosing_function(call)
    if scope is None:
        scope = _root(call)
    initial = js.declared_values(scope).get(node_text(value))
    return _storage_of(_without_fallback(initial)) if initial is not None else None


def _root(node: tree_sitter.Node) -> tree_sitter.Node:
    while node.parent is not None:
        node = node.parent
    return node


RULE = Rule(meta=META, doc=__doc__ or "", check_file=check_file)
