"""HTTP client timeout explicitly disabled.

What it finds:
    ``timeout=None`` passed to an httpx, requests or aiohttp call or client (including
    methods of a client created in the same file), ``httpx.Timeout(None)``, and
    ``aiohttp.ClientTimeout()`` / ``ClientTimeout(total=None)`` with every limit unset.
    (A missing timeout on requests/urlopen is http-call-without-timeout's finding.)

Why it matters:
    httpx (5 s) and aiohttp (5 min total) time out by default; ``None`` switches that off.
    A dependency that accepts the connection and never answers then holds the request, its
    worker and its connection slot forever.

Example:
    client = httpx.AsyncClient(timeout=None)   # VLM inference "can be slow"

Use instead:
    client = httpx.AsyncClient(timeout=httpx.Timeout(120, connect=5))
"""

from __future__ import annotations

from collections.abc import Iterator

import tree_sitter

from vibe_audit.chunker.parsing import node_text
from vibe_audit.rules import patching, pyflow, syntax
from vibe_audit.rules.base import Hit, Rule, RuleMeta
from vibe_audit.rules.context import FileContext
from vibe_audit.schemas import Confidence, LineEdit, Patch, PatchSafety, Severity

META = RuleMeta(
    id="http-timeout-disabled",
    title="HTTP timeout explicitly disabled",
    severity=Severity.HIGH,
    confidence=Confidence.HIGH,
    categories={"reliability": "Timeout"},
    checklist=["reliability.1.1", "reliability.8.1"],
    problem=(
        "{text} turns the HTTP client's timeout off: a dependency that stops answering "
        "holds this call forever."
    ),
    scenario=(
        "The remote service accepts the connection and stalls (overload, GC pause, a "
        "half-open TCP connection after a network blip): every call through this client "
        "hangs, and its connection pool fills with stuck requests."
    ),
    impact=(
        "Requests pile up behind the stuck calls until the worker pool or connection pool is "
        "exhausted; the service stops responding though only one dependency is down."
    ),
    how_to_verify=(
        "Point the client at `nc -l 9999` (accepts, never answers) and call the code path: "
        "it never returns."
    ),
    fix=(
        "Set finite limits sized for the slowest healthy call, with a short connect timeout: "
        "httpx.Timeout(120, connect=5), aiohttp.ClientTimeout(total=120, sock_connect=5), "
        "requests timeout=(5, 120)."
    ),
    trade_off=(
        "Long-running calls (model inference, large downloads) need a generous read timeout; "
        "for streaming use a per-read timeout rather than none."
    ),
    effort_hours=(0.1, 0.5),
)

_MODULES = ("httpx.", "requests.", "aiohttp.")
_CLIENTS = frozenset(
    {"httpx.Client", "httpx.AsyncClient", "requests.Session", "requests.session",
     "aiohttp.ClientSession"}
)  # fmt: skip


def check_file(ctx: FileContext) -> Iterator[Hit]:
    if not ctx.imports & {"httpx", "requests", "aiohttp"} or "None" not in ctx.source.text:
        return
    aliases = pyflow.import_aliases(ctx.root)
    calls = [
        (c, pyflow.canonical(syntax.callee(c), aliases)) for c in syntax.of_type(ctx.root, "call")
    ]
    clients = {_target(c) for c, name in calls if name in _CLIENTS} - {None}
    for call, name in calls:
        if name in {"httpx.Timeout", "aiohttp.ClientTimeout"}:
            values = _argument_values(call)
            if all(node_text(v) == "None" for v in values) and (
                values or name == "aiohttp.ClientTimeout"
            ):
                yield pyflow.hit(ctx, call, text=node_text(call))
            continue
        timeout = _keyword(call, "timeout")
        if timeout is None or node_text(timeout) != "None":
            continue
        receiver = name.rpartition(".")[0]
        if name.startswith(_MODULES) or receiver in clients:
            yield pyflow.hit(ctx, call, text=f"{syntax.callee(call)}(..., timeout=None)")


def _keyword(call: tree_sitter.Node, keyword: str) -> tree_sitter.Node | None:
    args = call.child_by_field_name("arguments")
    for arg in args.named_children if args is not None else []:
        name = arg.child_by_field_name("name") if arg.type == "keyword_argument" else None
        if name is not None and node_text(name) == keyword:
            return arg.child_by_field_name("value")
    return None


def _argument_values(call: tree_sitter.Node) -> list[tree_sitter.Node]:
    """Every argument's value expression ([] for a call with no arguments); a splat makes the
    values unknown, so it is returned as itself (never the literal None)."""
    args = call.child_by_field_name("arguments")
    values: list[tree_sitter.Node] = []
    for arg in args.named_children if args is not None else []:
        if arg.type == "comment":
            continue
        value = arg.child_by_field_name("value") if arg.type == "keyword_argument" else arg
        values.append(value if value is not None else arg)
    return values


def _target(call: tree_sitter.Node) -> str | None:
    """What a client is bound to: a name, ``self.client``, or a ``with ... as`` name."""
    node = call.parent if call.parent is not None and call.parent.type == "await" else call
    parent = node.parent
    if parent is not None and parent.type == "assignment":
        left = parent.child_by_field_name("left")
        if left is not None and left.type in {"identifier", "attribute"}:
            return node_text(left)
    return pyflow.bound_name(call)


# The fix's finite limits, per library: 5 s to connect, 120 s for the slowest healthy call.
_LIMITS = {
    "httpx.Timeout": "(120, connect=5)",
    "aiohttp.ClientTimeout": "(total=120, sock_connect=5)",
}


def fix(ctx: FileContext, hit: Hit) -> Patch | None:
    """Safe: the disabled timeout becomes the fix's finite limits, 5 s to connect and 120 s
    in all: ``httpx.Timeout(120, connect=5)``, ``aiohttp.ClientTimeout(total=120,
    sock_connect=5)``, requests' ``timeout=(5, 120)``. A file that names httpx / aiohttp only
    through ``from`` imports gets ``import httpx`` / ``import aiohttp``."""
    site = _site(ctx, hit)
    if site is None:
        return None
    edits, said, module = site
    if module is not None:
        edits += patching.python_import_edits(ctx, [module])
        said += f" (adds `import {module}`)"
    return Patch(
        safety=PatchSafety.SAFE,
        description=f"{said}: 5 s to connect, 120 s for the slowest healthy call (size it for "
        "the dependency)",
        edits=edits,
    )


def _site(ctx: FileContext, hit: Hit) -> tuple[list[LineEdit], str, str | None] | None:
    """The edit for one hit, what it does, and the module it needs imported (if any)."""
    aliases = pyflow.import_aliases(ctx.root)
    calls = [
        (c, pyflow.canonical(syntax.callee(c), aliases))
        for c in syntax.of_type(ctx.root, "call")
        if syntax.line(c) == hit.start_line
    ]
    text = hit.details.get("text")
    for call, name in calls:
        if name in _LIMITS and node_text(call) == text:
            arguments = call.child_by_field_name("arguments")
            if arguments is None:
                return None
            limits = _LIMITS[name]
            edit = patching.replace_node(ctx, arguments, limits)
            return [edit], f"{node_text(call)} becomes {syntax.callee(call)}{limits}", None
    found = [
        c
        for c, _ in calls
        if text == f"{syntax.callee(c)}(..., timeout=None)" and _keyword(c, "timeout") is not None
    ]
    if len(found) != 1:
        return None
    call = found[0]
    value = _keyword(call, "timeout")
    library = _library(ctx, call, aliases)
    if value is None or library is None:
        return None
    missing: str | None = None
    if library == "requests":
        limit = "(5, 120)"
    else:
        module = patching.python_module_alias(ctx, library)
        if module is None:
            missing = module = library
        constructor = "Timeout" if library == "httpx" else "ClientTimeout"
        limit = f"{module}.{constructor}{_LIMITS[f'{library}.{constructor}']}"
    edit = patching.replace_node(ctx, value, limit)
    return [edit], f"timeout=None becomes timeout={limit} on {syntax.callee(call)}()", missing


def _library(ctx: FileContext, call: tree_sitter.Node, aliases: dict[str, str]) -> str | None:
    """httpx, requests or aiohttp: of the call itself, or of the client it is a method of."""
    name = pyflow.canonical(syntax.callee(call), aliases)
    if name.startswith(_MODULES):
        return name.split(".")[0]
    receiver = name.rpartition(".")[0]
    made = [
        (c, made.split(".")[0])
        for c in syntax.of_type(ctx.root, "call")
        if (made := pyflow.canonical(syntax.callee(c), aliases)) in _CLIENTS
        and _target(c) == receiver
    ]
    scope = pyflow.enclosing_function(call)
    local = {library for c, library in made if pyflow.enclosing_function(c) == scope}
    libraries = local or {library for _, library in made}  # the function's own client first
    return libraries.pop() if len(libraries) == 1 else None


RULE = Rule(meta=META, doc=__doc__ or "", check_file=check_file, fix=fix)
