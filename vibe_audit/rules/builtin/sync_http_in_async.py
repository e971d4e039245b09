"""Synchronous HTTP call inside an async function.

What it finds:
    ``requests.get/post/...``, ``urllib.request.urlopen``, httpx's module-level
    ``httpx.get/post/...``, and methods of a ``requests.Session()`` / ``httpx.Client()``
    created in the same function, called in the body of an ``async def`` (not in a nested
    sync def or lambda).

Why it matters:
    These clients block the calling thread until the response arrives, and in a coroutine
    that thread is the event loop. A slow dependency (seconds, or forever without a timeout)
    freezes every other request and background task on the worker.

Example:
    async def describe(image_url):
        return requests.post(VLM_URL, json={"url": image_url}, timeout=60).json()

Use instead:
    async def describe(image_url):
        async with httpx.AsyncClient(timeout=httpx.Timeout(60, connect=5)) as client:
            response = await client.post(VLM_URL, json={"url": image_url})
        return response.json()
"""

from __future__ import annotations

from collections.abc import Iterator

import tree_sitter

from vibe_audit.rules import pyflow, syntax
from vibe_audit.rules.base import Hit, Rule, RuleMeta
from vibe_audit.rules.context import FileContext
from vibe_audit.schemas import Confidence, Severity

META = RuleMeta(
    id="sync-http-in-async",
    title="Blocking HTTP call inside an async function",
    severity=Severity.HIGH,
    confidence=Confidence.HIGH,
    categories={"reliability": "Concurrency"},
    checklist=["reliability.1.1", "reliability.8.1", "reliability.4.2"],
    problem=(
        "async {function}() calls {call}(...), a synchronous HTTP client: the event loop is "
        "blocked until the remote service answers."
    ),
    scenario=(
        "The dependency slows to 10 s per response: each call stalls the whole worker for "
        "10 s, so every other request on it (including health checks) waits behind it."
    ),
    impact=(
        "Throughput of the worker collapses to one outbound call at a time; a hung "
        "dependency makes the service unresponsive, not just the endpoint that uses it."
    ),
    how_to_verify=(
        "Point the URL at a server that sleeps 5 s, call this path, and time a request to an "
        "unrelated endpoint of the same worker: it waits the same 5 s."
    ),
    fix=(
        "Use an async client (`async with httpx.AsyncClient(timeout=...) as client: await "
        "client.get(...)`, or aiohttp), or move the call off the loop: "
        "`await asyncio.to_thread({call}, ...)`."
    ),
    trade_off=(
        "httpx.AsyncClient/aiohttp are best shared per process (connection pooling); "
        "to_thread is the smallest change but uses the default thread pool (bounded)."
    ),
    effort_hours=(0.25, 1.0),
)

_VERBS = ("get", "post", "put", "patch", "delete", "head", "options", "request")
SYNC_HTTP = frozenset(
    {f"requests.{v}" for v in _VERBS}
    | {f"httpx.{v}" for v in (*_VERBS, "stream")}
    | {"urllib.request.urlopen"}
)
SYNC_CLIENTS = frozenset({"requests.Session", "requests.session", "httpx.Client"})
_CLIENT_METHODS = frozenset({*_VERBS, "stream", "send"})


def check_file(ctx: FileContext) -> Iterator[Hit]:
    if not ctx.imports & {"requests", "httpx", "urllib"} or "async" not in ctx.source.text:
        return
    aliases = pyflow.import_aliases(ctx.root)
    for function in syntax.functions(ctx.root):
        if syntax.is_async(function):
            yield from _blocking_http(ctx, function, aliases)


def _blocking_http(
    ctx: FileContext, function: tree_sitter.Node, aliases: dict[str, str]
) -> Iterator[Hit]:
    clients: set[str] = set()
    for node in syntax.body_nodes(function):
        if node.type != "call":
            continue
        name = pyflow.canonical(syntax.callee(node), aliases)
        if name in SYNC_CLIENTS:
            bound = pyflow.bound_name(node)
            if bound:
                clients.add(bound)
            continue
        receiver, _, method = name.rpartition(".")
        if name in SYNC_HTTP or (receiver in clients and method in _CLIENT_METHODS):
            yield pyflow.hit(
                ctx, node, function=syntax.function_name(function), call=syntax.callee(node)
            )


RULE = Rule(meta=META, doc=__doc__ or "", check_file=check_file)
