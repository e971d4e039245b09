"""fetch() with no abort signal, so it can wait forever.

What it finds:
    ``fetch(url)`` and ``fetch(url, init)`` (also ``window.fetch`` / ``globalThis.fetch``)
    where ``init`` is an object literal with no ``signal`` property. Not flagged: an ``init``
    that is a variable or spreads another object (its keys cannot be seen), an init with a
    ``timeout`` option (node-fetch v2), a ``new Request(...)`` argument, ``self.fetch``
    where ``self`` is a variable (``var self = this``: a method), a fetch raced
    against a timer (``Promise.race``), a ``fetch`` the file defines, imports or
    ``require``s from a wrapper library (make-fetch-happen, ky, ofetch, ...), and scripts a
    web app serves to the browser (under static/, public/, assets/, web/, www/): measured on
    real code, those were all noise.

Why it matters:
    fetch has no timeout of its own: a server that accepts the connection and never
    answers keeps the promise pending for minutes (browser) or until undici's 300 s header
    timeout (Node). The UI spinner never ends, retries never start, and on a server each
    hung call holds its request and memory.

Example:
    const res = await fetch(`${API}/orders/${id}`, { method: "POST", body });

Use instead:
    const res = await fetch(`${API}/orders/${id}`, {
      method: "POST",
      body,
      signal: AbortSignal.timeout(10_000),
    });
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import tree_sitter

from vibe_audit.chunker.parsing import node_text
from vibe_audit.rules import js, syntax
from vibe_audit.rules.base import Hit, Rule, RuleMeta, node_hit
from vibe_audit.rules.context import FileContext
from vibe_audit.schemas import Confidence, Severity

META = RuleMeta(
    id="js-fetch-without-timeout",
    title="fetch() without a timeout signal",
    severity=Severity.MEDIUM,
    confidence=Confidence.HIGH,
    categories={"reliability": "Timeout"},
    checklist=["reliability.1.1", "reliability.8.1"],
    problem=(
        "{call} is called without an AbortSignal, and fetch never times out by itself. "
        "A backend that stalls leaves this request pending indefinitely."
    ),
    scenario=(
        "The API accepts the connection but hangs (overload, deadlock, proxy black hole): "
        "the promise in {function} never settles, its loading state never clears and no "
        "retry or error path runs."
    ),
    impact=(
        "The user sees an endless spinner and cannot recover without a reload; on a Node "
        "server each hung call holds a request, a socket and its memory for minutes."
    ),
    how_to_verify=(
        "Point the URL at `nc -l 9999` (accepts, never answers) and trigger {function}: "
        "the request stays pending and no error is shown."
    ),
    fix=(
        "Pass a signal that aborts: `fetch(url, { ...init, signal: "
        "AbortSignal.timeout(10_000) })` (or an AbortController whose abort() a timer "
        "calls), and handle the resulting TimeoutError/AbortError."
    ),
    trade_off=(
        "Too short a timeout fails slow but healthy requests (large transfers, exports): "
        "choose it per endpoint and combine with a retry for idempotent calls."
    ),
    effort_hours=(0.25, 0.5),
    languages=js.JS_LANGUAGES,
    # Below the precision gate on real code (benchmarks/precision.py: 0 of 8 worth acting
    # on: browser UIs, interactive CLI logins, workflow steps bounded by their platform).
    experimental=True,
)

_FETCH = frozenset({"fetch", "window.fetch", "globalThis.fetch", "self.fetch", "global.fetch"})
# Libraries whose `fetch` is the standard one (no timeout option of their own).
_STANDARD_FETCH = ("node-fetch", "undici", "cross-fetch", "isomorphic-fetch", "whatwg-fetch")
_STANDARD_FETCH_RE = re.compile(
    r"""require\(\s*['"`](node-fetch|undici|cross-fetch|isomorphic-fetch)"""
)


def check_file(ctx: FileContext) -> Iterator[Hit]:
    text = ctx.source.text
    if "fetch(" not in text or _fetch_is_redefined(ctx) or _browser_asset(ctx.source.path):
        return
    requests = _request_variables(ctx.root) if "new Request" in text else set()
    for call in syntax.of_type(ctx.root, "call_expression"):
        name = js.js_callee(call)
        if name not in _FETCH or not _lacks_signal(call, requests) or _raced(call):
            continue
        if name.startswith("self.") and _self_is_bound(call):
            continue  # var self = this: a method of the object, not the worker's fetch
        function = js.enclosing_function(call)
        yield node_hit(
            ctx,
            call,
            details={
                "call": f"{name}(...)",
                "function": (
                    f"{js.js_function_name(function)}()" if function is not None else "module code"
                ),
                "text": node_text(call),
            },
        )


_ASSET_DIRS = frozenset({"static", "public", "assets", "www", "wwwroot", "htdocs", "web"})


def _self_is_bound(call: tree_sitter.Node) -> bool:
    """``self`` is a variable or parameter of a function around the call (``var self =
    this``), not the global of a web worker."""
    if js.is_parameter("self", call):
        return True
    function = js.enclosing_function(call)
    while function is not None:
        if "self" in js.declared_values(function):
            return True
        function = js.enclosing_function(function)
    return False


def _browser_asset(path: str) -> bool:
    """A script a web app serves to the browser (static/, public/, assets/, web/): its fetch
    calls go to the page's own server and a hang shows as a spinner the user can retry;
    the reliability audit's concern is a server or worker held by a hung call."""
    return any(part in _ASSET_DIRS for part in path.split("/")[:-1])


def _fetch_is_redefined(ctx: FileContext) -> bool:
    """The file defines its own ``fetch`` or imports one from a non-standard library."""
    for node in ctx.root.named_children:
        if node.type == "export_statement" and node.named_children:
            node = node.named_children[0]
        if node.type == "function_declaration":
            name = node.child_by_field_name("name")
            if name is not None and node_text(name) == "fetch":
                return True
        elif node.type == "import_statement" and "fetch" in _bound_names(node):
            source = node.child_by_field_name("source")
            module = js.js_string(source) if source is not None else None
            if module and not module.startswith(_STANDARD_FETCH):
                return True
        elif node.type in {"lexical_declaration", "variable_declaration"}:
            for declarator in node.named_children:
                if declarator.type == "variable_declarator" and _binds_other_fetch(declarator):
                    return True
    return False


def _binds_other_fetch(declarator: tree_sitter.Node) -> bool:
    """``const fetch = require("make-fetch-happen")`` / ``const { fetch } = x``: any
    top-level binding of ``fetch`` but ``require`` of a standard fetch library."""
    name = declarator.child_by_field_name("name")
    value = declarator.child_by_field_name("value")
    if name is None or value is None:
        return False
    if name.type == "identifier" and node_text(name) != "fetch":
        return False
    if name.type != "identifier" and "fetch" not in {
        node_text(n) for n in syntax.of_type(name, "shorthand_property_identifier_pattern")
    }:
        return False
    module = node_text(value)
    return not (module.startswith("require(") and _STANDARD_FETCH_RE.search(module))


def _bound_names(statement: tree_sitter.Node) -> set[str]:
    """Local names an import statement binds (default and named imports)."""
    names: set[str] = set()
    for clause in statement.named_children:
        if clause.type != "import_clause":
            continue
        for child in clause.named_children:
            if child.type == "identifier":
                names.add(node_text(child))
        for spec in syntax.of_type(clause, "import_specifier"):
            target = spec.child_by_field_name("alias") or spec.child_by_field_name("name")
            if target is not None:
                names.add(node_text(target))
    return names


def _request_variables(root: tree_sitter.Node) -> set[str]:
    """Variables the file initialises with ``new Request(...)`` (they may carry a signal)."""
    return {
        name
        for name, value in js.declared_values(root).items()
        if js.unwrap(value).type == "new_expression"
        and node_text(js.unwrap(value)).startswith("new Request")
    }


def _lacks_signal(call: tree_sitter.Node, requests: set[str]) -> bool:
    args = js.js_arguments(call)
    if not args or args[0].type == "spread_element":
        return False
    first = js.unwrap(args[0])
    if first.type == "new_expression" or node_text(first) in requests:
        return False
    if len(args) == 1:
        return True
    init = js.unwrap(args[1])
    if init.type != "object":
        return False  # a variable or call: its keys cannot be seen
    keys = js.object_keys(init)
    return not keys & {"signal", "timeout", "..."}


def _raced(call: tree_sitter.Node) -> bool:
    """The fetch is an element of ``Promise.race([...])`` / ``Promise.any([...])``."""
    current = call.parent
    while current is not None and current.type not in js.JS_FUNCTION_TYPES:
        if current.type == "call_expression" and js.js_callee(current) in {
            "Promise.race",
            "Promise.any",
        }:
            return True
        current = current.parent
    return False


RULE = Rule(meta=META, doc=__doc__ or "", check_file=check_file)
