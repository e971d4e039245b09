"""axios request with no timeout (axios waits forever by default).

What it finds:
    Calls of the axios default export (``axios.get(url)``, ``axios.post(url, data,
    config)``, ``axios.request(config)``, ``axios(config)``; also the compiled TypeScript
    form ``axios_1.default.get``) whose config is absent or an object literal with none of
    ``timeout``, ``signal`` or ``cancelToken``, in a repository that never sets
    ``axios.defaults.timeout``. Not flagged: configs it cannot see (a variable, a spread),
    calls on instances (``axios.create(...)`` instances carry their own defaults), and
    scripts a web app serves to the browser (under static/, public/, assets/, web/, www/).

Why it matters:
    axios's default ``timeout`` is 0, which means no timeout at all: a server that accepts
    the connection and never answers keeps the promise pending indefinitely (Node has no
    overall timeout on an outgoing request). A worker or request handler awaiting it hangs
    with its resources, and no retry or error path runs.

Example:
    const { data } = await axios.post(`${BILLING_URL}/charges`, charge);

Use instead:
    const { data } = await axios.post(`${BILLING_URL}/charges`, charge, { timeout: 10_000 });
    // or once: const http = axios.create({ baseURL: BILLING_URL, timeout: 10_000 });
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import tree_sitter

from vibe_audit.chunker.parsing import node_text
from vibe_audit.rules import js, patching, syntax
from vibe_audit.rules.base import Hit, Rule, RuleMeta
from vibe_audit.rules.builtin.js_fetch_without_timeout import _browser_asset
from vibe_audit.rules.context import FileContext, RepoContext
from vibe_audit.schemas import Confidence, Patch, PatchSafety, Severity

META = RuleMeta(
    id="js-axios-without-timeout",
    title="axios request without a timeout",
    severity=Severity.MEDIUM,
    confidence=Confidence.HIGH,
    categories={"reliability": "Timeout"},
    checklist=["reliability.1.1", "reliability.8.1"],
    problem=(
        "{call} is sent without a `timeout`, and axios's default timeout is 0 (none): a "
        "backend that stalls leaves this request pending indefinitely."
    ),
    scenario=(
        "The remote service accepts the connection but never answers (overload, deadlock, "
        "a proxy black hole): the await in {function} never settles, and no error or retry "
        "path runs."
    ),
    impact=(
        "A hung request holds its caller (a request handler, a job, a UI action) and its "
        "socket and memory until the process restarts; under load the hung calls pile up."
    ),
    how_to_verify=(
        "Point the URL at `nc -l 9999` (accepts, never answers) and trigger {function}: the "
        "call stays pending with no error."
    ),
    fix=(
        "Pass `{ timeout: 10_000 }` in the request config (or `signal: "
        "AbortSignal.timeout(10_000)`), or create one instance with `axios.create({ "
        "timeout: 10_000 })` and send every request through it; handle the ECONNABORTED / "
        "ETIMEDOUT error."
    ),
    trade_off=(
        "Too short a timeout fails slow but healthy calls (large transfers, exports): "
        "choose it per endpoint, and retry only idempotent requests."
    ),
    effort_hours=(0.25, 0.5),
    languages=js.JS_LANGUAGES,
)

# {method: index of the config argument}
_CONFIG_AT = {
    "get": 1, "delete": 1, "head": 1, "options": 1, "getUri": -1,
    "post": 2, "put": 2, "patch": 2, "postForm": 2, "putForm": 2, "patchForm": 2,
    "request": 0,
}  # fmt: skip
_GUARDS = frozenset({"timeout", "signal", "cancelToken", "..."})
_DEFAULTS = re.compile(r"\.defaults\.timeout\s*=|defaults\s*=\s*\{[^}]*timeout", re.S)
_REQUIRE = re.compile(r"""^(?:__import(?:Default|Star)\()?require\(\s*["'`]axios["'`]\s*\)\)?$""")


def check_repo(repo: RepoContext) -> Iterator[Hit]:
    files = [
        ctx
        for ctx in repo.in_language(*js.JS_LANGUAGES)
        if "axios" in ctx.source.text
        and not syntax.is_test_path(ctx.source.path)
        and not _browser_asset(ctx.source.path)
    ]
    if any(_DEFAULTS.search(ctx.source.text) for ctx in files):
        return
    for ctx in files:
        for call, anchor in _unbounded(ctx):
            function = js.enclosing_function(call)
            name = js.js_function_name(function) if function is not None else "<anonymous>"
            yield Hit(
                path=ctx.source.path,
                start_line=syntax.line(anchor),
                end_line=syntax.line(anchor),
                symbol=js.js_symbol(call),
                details={
                    "call": re.sub(r"\s+", "", js.js_callee(call)) + "(...)",
                    "function": f"{name}()" if name != "<anonymous>" else "the caller",
                    "text": node_text(call).split("\n", 1)[0],
                },
            )


def _unbounded(ctx: FileContext) -> Iterator[tuple[tree_sitter.Node, tree_sitter.Node]]:
    """(call, the node its finding points at) of every axios request of the file sent with
    no timeout."""
    names = _axios_names(ctx.root)
    if not names:
        return
    for call in syntax.of_type(ctx.root, "call_expression"):
        request, config = _config(call, names)
        if not request:
            continue
        if config is not None:
            config = _literal(js.unwrap(config), call)
            if config.type != "object" or js.object_keys(config) & _GUARDS:
                continue
        function_node = call.child_by_field_name("function")
        method = (
            function_node.child_by_field_name("property")
            if function_node is not None and function_node.type == "member_expression"
            else None
        )
        yield call, method if method is not None else call


def _literal(node: tree_sitter.Node, call: tree_sitter.Node) -> tree_sitter.Node:
    """The object literal a ``const`` of the call's function (or of the file) holds when
    ``node`` names one, else ``node``."""
    if node.type != "identifier":
        return node
    scope = js.enclosing_function(call)
    while True:
        root = scope if scope is not None else _root(call)
        value = js.declared_values(root).get(node_text(node))
        if value is not None:
            return js.unwrap(value)
        if scope is None:
            return node
        scope = js.enclosing_function(scope)


def _root(node: tree_sitter.Node) -> tree_sitter.Node:
    while node.parent is not None:
        node = node.parent
    return node


def _axios_names(root: tree_sitter.Node) -> set[str]:
    """Names the file binds to the axios default export ('axios', 'axios_1.default')."""
    names: set[str] = set()
    for bound in js.import_bindings(root):
        if bound.module != "axios":
            continue
        if bound.kind == "namespace":
            names.add(f"{bound.local}.default")
        elif bound.kind == "default" or bound.imported == "default":
            names.add(bound.local)
    for declarator in syntax.of_type(root, "variable_declarator"):
        target = declarator.child_by_field_name("name")
        value = declarator.child_by_field_name("value")
        if target is None or value is None or target.type != "identifier":
            continue
        text = re.sub(r"\s+", "", node_text(js.unwrap(value)))
        if text.endswith(".default"):
            text = text.removesuffix(".default")
        if _REQUIRE.match(text):
            name = node_text(target)
            names.add(f"{name}.default" if text.startswith("__import") else name)
    return names


def _config(call: tree_sitter.Node, names: set[str]) -> tuple[bool, tree_sitter.Node | None]:
    """(is an axios request whose config can be judged, its config argument or None)."""
    callee = re.sub(r"\s+", "", js.js_callee(call))
    args = js.js_arguments(call)
    if any(a.type == "spread_element" for a in args):
        return False, None
    if callee in names:  # axios(config) / axios(url, config)
        if not args:
            return False, None
        first = js.unwrap(args[0])
        if first.type == "object":
            index = 0
        elif js.js_string(first) is not None or first.type == "template_string":
            index = 1  # axios(url, config?)
        elif len(args) > 1:
            index = 1
        else:
            return False, None  # axios(config) with a config it cannot see
    else:
        owner, _, method = callee.rpartition(".")
        if owner not in names or _CONFIG_AT.get(method, -1) < 0:
            return False, None
        index = _CONFIG_AT[method]
        if method == "request" and not args:
            return False, None
    return True, args[index] if index < len(args) else None


def fix(ctx: FileContext, hit: Hit) -> Patch | None:
    """Safe: give the request a 10 s timeout. A config object literal gets a ``timeout``
    property; a config named by a variable is passed as ``{ timeout: 10_000, ...config }``
    (its own timeout, if it gains one, still wins); a call without a config gets one at the
    config's place: ``axios.get(url, { timeout })``, ``axios.post(url, data, { timeout })``
    (``undefined`` for a missing ``data``), ``axios(url, { timeout })``. TypeScript writes
    ``10_000``; JavaScript ``10000`` (numeric separators need Node 12.5+)."""
    matches = [
        call
        for call, anchor in _unbounded(ctx)
        if syntax.line(anchor) == hit.start_line
        and node_text(call).split("\n", 1)[0] == hit.details.get("text")
    ]
    if len(matches) != 1:
        return None
    call = matches[0]
    value = "10_000" if ctx.source.language in {"typescript", "tsx"} else "10000"
    request, config = _config(call, _axios_names(ctx.root))
    arguments = call.child_by_field_name("arguments")
    if not request or arguments is None:
        return None
    if config is not None:
        config = js.unwrap(config)
        if config.type == "object":
            edit = patching.append_item(ctx, config, f"timeout: {value}", pad=" ")
        elif config.type == "identifier":
            new = f"{{ timeout: {value}, ...{node_text(config)} }}"
            edit = patching.replace_node(ctx, config, new)
        else:
            return None
    else:
        args = js.js_arguments(call)
        index = _config_index(call, args)
        if index is None or len(args) not in {index, index - 1} or not args:
            return None
        filler = "undefined, " if len(args) == index - 1 else ""
        edit = patching.append_item(ctx, arguments, f"{filler}{{ timeout: {value} }}")
    if edit is None:
        return None
    return Patch(
        safety=PatchSafety.SAFE,
        description=f"give {hit.details['call']} a 10 s timeout (timeout: {value}): a server "
        "that never answers makes it fail with ECONNABORTED instead of leaving it pending "
        "forever",
        edits=[edit],
    )


def _config_index(call: tree_sitter.Node, args: list[tree_sitter.Node]) -> int | None:
    """Where the config argument goes in the call: ``axios(url, config)`` 1,
    ``axios.get(url, config)`` 1, ``axios.post(url, data, config)`` 2."""
    function = call.child_by_field_name("function")
    if function is not None and function.type == "member_expression":
        property_node = function.child_by_field_name("property")
        method = node_text(property_node) if property_node is not None else ""
        index = _CONFIG_AT.get(method, -1)
        return index if index > 0 else None
    first = js.unwrap(args[0]) if args else None
    if first is not None and (js.js_string(first) is not None or first.type == "template_string"):
        return 1
    return None


RULE = Rule(meta=META, doc=__doc__ or "", check_repo=check_repo, fix=fix)
