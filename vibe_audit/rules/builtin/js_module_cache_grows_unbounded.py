"""Module-level Map / object / array in served code that only ever grows.

What it finds:
    In a non-test JS/TS module that runs inside a server (it, or a module importing it,
    imports express, fastify, koa, hono, ws, socket.io, http, ...): a module-level
    ``const/let/var cache = new Map()`` (or ``new Set()``, ``{}``, ``[]``) that a function
    run per unit of incoming work (one taking ``req`` / ``request`` / ``ctx`` / ``socket`` /
    ``ws`` / ``msg`` / ``job`` ... first, or nested in one) adds to with a computed key
    (``cache.set(key, ...)``, ``cache.add(x)``, ``cache[key] = ...``, ``cache.push(...)``),
    while nothing in the module ever removes
    from it or bounds it: no ``delete`` / ``clear`` / ``splice`` / ``shift`` / ``pop``, no
    reassignment, no ``size`` / ``length`` check, and the collection is not exported or
    handed to other code (which could evict).

Why it matters:
    A module-level collection lives as long as the process. Keyed by something that keeps
    changing (a request path, a user, a session, a job id), every new key stays forever:
    memory grows with traffic until the process is OOM-killed or garbage collection
    pauses dominate, typically days after a deploy and without any error pointing here.

Example:
    const thumbnails = new Map();

    app.get("/thumb/:id", async (req, res) => {
      if (!thumbnails.has(req.params.id)) {
        thumbnails.set(req.params.id, await render(req.params.id));
      }
      res.send(thumbnails.get(req.params.id));
    });

Use instead:
    import { LRUCache } from "lru-cache";
    const thumbnails = new LRUCache({ max: 500, ttl: 10 * 60_000 });
    // or: delete entries when their job/session ends; or bound the Map and evict the oldest
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
    id="js-module-cache-grows-unbounded",
    title="Module-level collection that only grows",
    severity=Severity.MEDIUM,
    confidence=Confidence.LOW,
    categories={"reliability": "Resource Leak"},
    checklist=["reliability.10.2"],
    problem=(
        "`{name}` is a module-level {kind} that {grow} adds to, and nothing in this module "
        "ever removes entries or bounds its size: it grows for the life of the process "
        "({server})."
    ),
    scenario=(
        "Each new key (a request path, user, session or job id) adds an entry that stays: "
        "after days of traffic the process holds millions of stale entries and is "
        "OOM-killed or slowed by garbage collection."
    ),
    impact=(
        "Memory growth with traffic, ending in restarts that drop in-flight requests; the "
        "cause is hard to find because nothing fails at the point of the leak."
    ),
    how_to_verify=(
        "Drive the path that adds to `{name}` with many distinct keys (a load test over "
        "varied ids) and watch `process.memoryUsage().heapUsed` or a heap snapshot: "
        "`{name}` keeps growing."
    ),
    fix=(
        "Bound it: an LRU (lru-cache with max / ttl), a size check that evicts the oldest "
        "entry, or delete the entry when its request, job or session ends."
    ),
    trade_off=("Eviction means recomputing evicted entries; size the bound to the working set."),
    effort_hours=(0.25, 1.0),
    languages=js.JS_LANGUAGES,
    experimental=True,  # whether the keys keep changing needs intent: measured below 80%
)

_REQUIRE = re.compile(r"""require\(\s*["']([^"'./][^"']*)["']\s*\)""")
_KINDS = {"new Map()": "Map", "new Set()": "Set", "{}": "object", "[]": "array",
          "Object.create(null)": "object"}  # fmt: skip
_GROW = frozenset({"set", "add", "push", "unshift"})
_WORK_PARAMETERS = re.compile(
    r"^(?:req|request|ctx|context|c|socket|ws|conn|connection|client|job|msg|message|event)$"
)
_ESCAPES = frozenset(
    {"arguments", "return_statement", "pair", "array", "export_specifier",
     "assignment_expression", "variable_declarator", "spread_element"}
)  # fmt: skip
_SHRINK = frozenset({"delete", "clear", "splice", "shift", "pop", "length"})


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
        candidates = _module_collections(ctx.root)
        if not candidates:
            continue
        server = js.reaching_server(ctx.source.path, modules)
        if server is None:
            continue
        for declarator, name, kind in candidates:
            hit = _check(ctx, declarator, name, kind)
            if hit is not None:
                yield replace(hit, details=hit.details | {"server": server})


def _module_collections(root: tree_sitter.Node) -> list[tuple[tree_sitter.Node, str, str]]:
    found = []
    for statement in root.named_children:
        if statement.type not in {"lexical_declaration", "variable_declaration"}:
            continue
        for declarator in statement.named_children:
            if declarator.type != "variable_declarator":
                continue
            name, value = (
                declarator.child_by_field_name("name"),
                declarator.child_by_field_name("value"),
            )
            if name is None or value is None or name.type != "identifier":
                continue
            kind = _KINDS.get(" ".join(node_text(value).split()))
            if kind is not None:
                found.append((declarator, node_text(name), kind))
    return found


def _check(ctx: FileContext, declarator: tree_sitter.Node, name: str, kind: str) -> Hit | None:
    grow: tree_sitter.Node | None = None
    for ident in syntax.of_type(ctx.root, "identifier", "shorthand_property_identifier"):
        if node_text(ident) != name or ident.start_byte < declarator.end_byte:
            continue
        if ident.type == "shorthand_property_identifier":
            return None  # { name } hands it to other code
        use = _use(ident)
        if use == "shrink" or use == "escape":
            return None
        if use == "grow" and grow is None and _per_request(ident):
            grow = ident
    if grow is None:
        return None
    function = js.enclosing_function(grow)
    where = js.js_function_name(function) if function is not None else "<module>"
    return node_hit(
        ctx,
        declarator,
        details={
            "name": name,
            "kind": kind,
            "grow": f"{where}()" if where != "<anonymous>" else "a callback",
            "server": "",
        },
    )


def _per_request(node: tree_sitter.Node) -> bool:
    """A function around ``node`` takes a request, message, connection or job: it runs
    once per unit of incoming work, with keys that keep changing."""
    function = js.enclosing_function(node)
    while function is not None:
        parameters = function.child_by_field_name("parameters")
        single = function.child_by_field_name("parameter")
        first = (
            single
            if single is not None
            else (
                parameters.named_children[0]
                if parameters is not None and parameters.named_children
                else None
            )
        )
        if first is not None:
            name = first.child_by_field_name("pattern") or first
            if _WORK_PARAMETERS.match(node_text(name).split(":")[0].strip()):
                return True
        function = js.enclosing_function(function)
    return False


def _use(ident: tree_sitter.Node) -> str:
    """'grow', 'shrink', 'escape' or 'read' for one mention of the collection."""
    parent = ident.parent
    if parent is None:
        return "read"
    if parent.type == "member_expression" and parent.child_by_field_name("object") == ident:
        prop = parent.child_by_field_name("property")
        method = node_text(prop) if prop is not None else ""
        outer = parent.parent
        if method in {"size", "length"} and outer is not None and outer.type == "binary_expression":
            return "shrink"  # a size check: bounded somewhere
        if method in _SHRINK:
            return "shrink"
        if method in _GROW and outer is not None and outer.type == "call_expression":
            args = js.js_arguments(outer)
            if method in {"set", "add"} and args and js.js_string(args[0]) is not None:
                return "read"  # a fixed key: does not grow with traffic
            return "grow"
        return "read"
    if parent.type == "subscript_expression" and parent.child_by_field_name("object") == ident:
        outer = parent.parent
        index = parent.child_by_field_name("index")
        if (
            outer is not None
            and outer.type == "unary_expression"
            and node_text(outer).startswith("delete")
        ):
            return "shrink"
        if (
            outer is not None
            and outer.type == "assignment_expression"
            and outer.child_by_field_name("left") == parent
            and index is not None
            and js.js_string(index) is None
            and index.type != "number"
        ):
            return "grow"
        return "read"
    if parent.type == "assignment_expression" and parent.child_by_field_name("left") == ident:
        return "shrink"  # reassigned: reset somewhere
    if parent.type in _ESCAPES:
        return "escape"
    if parent.type == "export_statement" or (
        parent.parent is not None and parent.parent.type == "export_statement"
    ):
        return "escape"
    return "read"


RULE = Rule(meta=META, doc=__doc__ or "", check_repo=check_repo)
