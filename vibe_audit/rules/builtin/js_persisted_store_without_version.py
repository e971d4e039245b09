"""Persisted frontend store with no version or migration.

What it finds:
    zustand ``persist(initializer, options)`` (imported from ``zustand/middleware``) and
    redux-persist ``persistReducer(config, reducer)`` whose options/config object (written
    inline or as a ``const`` of the same file) sets none of ``version``, ``migrate`` or
    (zustand) ``merge``. Options it cannot see (a parameter, a spread) are not flagged.

Why it matters:
    The persisted state outlives the code that wrote it. After a release renames a field or
    changes its type, the old shape from localStorage is merged into the new store
    unchanged: components read ``undefined`` where they expect an array, or keep a stale
    status forever, and the only fix users find is clearing site data.

Example:
    persist((set) => ({ items: [], selectedId: null }), { name: "items" })

Use instead:
    persist((set) => ({ items: [], selectedId: null }), {
      name: "items",
      version: 2,
      migrate: (state, version) => (version < 2 ? { items: [], selectedId: null } : state),
    })
"""

from __future__ import annotations

from collections.abc import Iterator

import tree_sitter

from vibe_audit.chunker.parsing import node_text
from vibe_audit.rules import js, syntax
from vibe_audit.rules.base import Hit, Rule, RuleMeta
from vibe_audit.rules.context import FileContext
from vibe_audit.schemas import Confidence, Severity

META = RuleMeta(
    id="js-persisted-store-without-version",
    title="Persisted store without version or migrate",
    severity=Severity.MEDIUM,
    confidence=Confidence.HIGH,
    categories={"checkpoint": "Frontend", "concurrency": "Validation"},
    checklist=["checkpoint.1A", "checkpoint.1B", "checkpoint.7C", "concurrency.7A"],
    problem=(
        "{call}(...) persists store '{name}' to storage without a `version` or `migrate`: "
        "state saved by an older release is rehydrated as-is into the new store shape."
    ),
    scenario=(
        "A release renames or retypes a persisted field; returning users load the old JSON "
        "from storage, the store merges it over the new defaults, and components crash or "
        "show stale values."
    ),
    impact=(
        "Crashes or wrong UI for every returning user after a schema change, until they "
        "clear site data; no way to fix it from the server."
    ),
    how_to_verify=(
        "Load the app, change the store's state shape (rename a field), reload: the old "
        "value is still in localStorage and is merged into the store unchanged."
    ),
    fix=(
        "Add `version: 1` now and a `migrate(persisted, version)` that upgrades (or "
        "discards) older shapes; bump the version on every persisted-shape change and "
        "validate the migrated state (e.g. with zod) before use."
    ),
    trade_off=(
        "Migrations must be kept for as long as old clients may return; discarding old "
        "state is simpler but loses the user's preferences."
    ),
    effort_hours=(0.5, 1.5),
    languages=js.JS_LANGUAGES,
)

_GUARD_KEYS = frozenset({"version", "migrate", "merge", "..."})


def check_file(ctx: FileContext) -> Iterator[Hit]:
    if "persist" not in ctx.source.text:
        return
    # {local name: index of the options argument}
    targets = {
        name: 1 for name, imported in js.named_imports(ctx.root, "zustand").items()
        if imported == "persist"
    }  # fmt: skip
    targets |= {
        name: 0 for name, imported in js.named_imports(ctx.root, "redux-persist").items()
        if imported == "persistReducer"
    }  # fmt: skip
    if not targets:
        return
    constants = js.declared_values(ctx.root)
    for call in syntax.of_type(ctx.root, "call_expression"):
        name = js.js_callee(call)
        if name not in targets:
            continue
        args = js.js_arguments(call)
        if len(args) <= targets[name]:
            continue
        options = _object(args[targets[name]], constants)
        if options is None or js.object_keys(options) & _GUARD_KEYS:
            continue
        # The options object literal is where `version` and `migrate` belong: point at it.
        anchor = options if options.id == args[targets[name]].id else call
        yield Hit(
            path=ctx.source.path,
            start_line=syntax.line(anchor),
            end_line=syntax.end_line(anchor) if anchor is options else syntax.line(call),
            symbol=js.js_symbol(call),
            details={"call": name, "name": _store_name(options), "text": node_text(options)},
        )


def _object(
    node: tree_sitter.Node, constants: dict[str, tree_sitter.Node]
) -> tree_sitter.Node | None:
    """The object literal ``node`` is, or the one a same-file constant it names holds."""
    node = js.unwrap(node)
    if node.type == "identifier" and node_text(node) in constants:
        node = js.unwrap(constants[node_text(node)])
    return node if node.type == "object" else None


def _store_name(options: tree_sitter.Node) -> str:
    for pair in options.named_children:
        key = pair.child_by_field_name("key") if pair.type == "pair" else None
        value = pair.child_by_field_name("value") if pair.type == "pair" else None
        if key is not None and value is not None and node_text(key) in {"name", "key"}:
            return js.js_string(value) or node_text(value)
    return "?"


RULE = Rule(meta=META, doc=__doc__ or "", check_file=check_file)
