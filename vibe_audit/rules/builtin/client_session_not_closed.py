"""HTTP client session created per call and never closed.

What it finds:
    ``aiohttp.ClientSession()``, ``httpx.Client()``, ``httpx.AsyncClient()`` or
    ``requests.Session()`` created in a function body outside a ``with`` / ``async with``,
    bound to a local name that is never closed (``close()`` / ``aclose()``) and never leaves
    the function (not returned, stored on ``self`` or in a container, passed on, or a
    global); and a request chained on a fresh client (``requests.Session().get(...)``).

Why it matters:
    Each client owns a connection pool with open sockets. Created per call and dropped,
    the sockets stay open until garbage collection (aiohttp warns "Unclosed client
    session"); under load the process runs out of descriptors or ephemeral ports, and
    every call also pays a fresh TCP/TLS handshake.

Example:
    async def describe(image_url):
        session = aiohttp.ClientSession()
        async with session.post(VLM_URL, json={"url": image_url}) as response:
            return await response.json()

Use instead:
    async def describe(image_url):
        async with aiohttp.ClientSession(timeout=TIMEOUT) as session:
            async with session.post(VLM_URL, json={"url": image_url}) as response:
                return await response.json()
    # better: one session per process, created at startup and closed at shutdown
"""

from __future__ import annotations

from collections.abc import Iterator

from vibe_audit.chunker.parsing import node_text
from vibe_audit.rules import pyflow, syntax
from vibe_audit.rules.base import Hit, Rule, RuleMeta
from vibe_audit.rules.context import FileContext
from vibe_audit.schemas import Confidence, Severity

META = RuleMeta(
    id="client-session-not-closed",
    title="HTTP client session never closed",
    severity=Severity.HIGH,
    confidence=Confidence.HIGH,
    categories={"reliability": "Resource Leak"},
    checklist=["reliability.10.1", "reliability.10.2"],
    problem=(
        "{function}() creates {client}() and never closes it: its connection pool and "
        "sockets leak on every call."
    ),
    scenario=(
        "Each request through this path opens a new client and leaves it for the garbage "
        "collector; at a few hundred requests per minute, open sockets pile up (CLOSE_WAIT) "
        "until connections fail with 'Too many open files' or port exhaustion."
    ),
    impact=(
        "Descriptor and memory growth until the worker fails; higher latency on every call "
        "from the new TCP/TLS handshake; 'Unclosed client session' warnings in the logs."
    ),
    how_to_verify=(
        "Call the path in a loop and watch `ls /proc/<pid>/fd | wc -l` (or `ss -tan | grep "
        "CLOSE_WAIT`) grow; aiohttp logs 'Unclosed client session'."
    ),
    fix=(
        "Use the client as a context manager (`with {client}() as client:` / `async with`), "
        "or better, create one client at startup, reuse it, and close it at shutdown."
    ),
    trade_off=(
        "A shared client must be closed on shutdown (lifespan handler); a per-call `with` "
        "block is simplest but pays a handshake per call."
    ),
    effort_hours=(0.25, 1.0),
    experimental=True,  # below the precision gate on real code: benchmarks/precision.py
)

CLIENTS = frozenset(
    {"aiohttp.ClientSession", "httpx.Client", "httpx.AsyncClient", "requests.Session",
     "requests.session"}
)  # fmt: skip


def check_file(ctx: FileContext) -> Iterator[Hit]:
    if not ctx.imports & {"aiohttp", "httpx", "requests"}:
        return
    aliases = pyflow.import_aliases(ctx.root)
    global_names = pyflow.module_globals(ctx.root)
    for call in syntax.of_type(ctx.root, "call"):
        client = pyflow.canonical(syntax.callee(call), aliases)
        if client not in CLIENTS:
            continue
        function = pyflow.enclosing_function(call)
        if function is None or pyflow.in_with_item(call):
            continue
        details = {"function": syntax.function_name(function), "client": client}
        parent = call.parent
        if parent is not None and parent.type == "attribute":
            grand = parent.parent
            method = parent.child_by_field_name("attribute")
            if (
                grand is not None
                and grand.type == "call"
                and method is not None
                and node_text(method) not in {"close", "aclose", "__enter__", "__aenter__"}
            ):
                yield pyflow.hit(ctx, grand, **details)
            continue
        bound = pyflow.bound_name(call)
        if bound is None or bound in global_names or pyflow.released(bound, function, call):
            continue
        yield pyflow.hit(ctx, call, **details)


RULE = Rule(meta=META, doc=__doc__ or "", check_file=check_file)
