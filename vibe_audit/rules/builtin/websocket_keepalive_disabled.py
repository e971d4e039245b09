"""WebSocket keepalive pings turned off: dead connections are never detected.

What it finds:
    In non-test Python code, a call that opens or serves WebSockets with its ping-based
    keepalive switched off by an explicit ``None`` (or ``0``): ``websockets.serve`` /
    ``websockets.connect`` (and ``unix_serve`` / ``unix_connect``, imported from any
    ``websockets`` module) with ``ping_interval=None`` or ``ping_timeout=None``, and
    ``uvicorn.run`` / ``uvicorn.Config`` with ``ws_ping_interval=None`` or
    ``ws_ping_timeout=None``. Files that send their own pings (a ``.ping(`` call) are skipped.

Why it matters:
    The websockets library (and uvicorn, which runs it for ASGI apps) sends a Ping every 20
    seconds and closes a connection whose Pong does not come back within 20 seconds. Turned
    off, a peer that vanished without a TCP close (a laptop closed, a mobile network
    change, a proxy dropping the idle connection) stays "connected" for hours: the server
    keeps its state, memory and subscriptions, and a client waits on ``recv()`` forever.

Example:
    async with websockets.serve(handler, "0.0.0.0", 8765, ping_interval=None):
        await asyncio.Future()

Use instead:
    async with websockets.serve(handler, "0.0.0.0", 8765, ping_interval=20, ping_timeout=20):
        await asyncio.Future()
"""

from __future__ import annotations

from collections.abc import Iterator

import tree_sitter

from vibe_audit.chunker.parsing import node_text
from vibe_audit.rules import syntax
from vibe_audit.rules.base import Hit, Rule, RuleMeta, node_hit
from vibe_audit.rules.context import FileContext
from vibe_audit.schemas import Confidence, Severity

META = RuleMeta(
    id="websocket-keepalive-disabled",
    title="WebSocket keepalive pings disabled",
    severity=Severity.MEDIUM,
    confidence=Confidence.HIGH,
    categories={"reliability": "Timeout"},
    checklist=["reliability.1.5"],
    problem=(
        "`{call}` sets `{option}={value}`, which turns off the ping/pong keepalive the "
        "library runs by default (a ping every 20 s, closed after 20 s without a pong): "
        "a peer that disappears without closing the TCP connection is never noticed."
    ),
    scenario=(
        "A client's network drops (laptop sleep, Wi-Fi change, a proxy closing idle "
        "connections) without a FIN: the connection stays open on this side, its handler "
        "waits on the next message forever and whatever it holds is never released."
    ),
    impact=(
        "Half-open connections pile up with their memory, tasks and subscriptions; a "
        "client waiting for messages hangs instead of reconnecting."
    ),
    how_to_verify=(
        "Connect, then cut the peer's network (iptables DROP, or suspend the VM): with "
        "keepalive off the connection is still listed as open minutes later."
    ),
    fix=(
        "Remove `{option}={value}` to get the library default, or set an explicit interval "
        "and timeout (e.g. 20 s / 20 s); if pings were disabled because handlers block the "
        "event loop, fix the blocking instead."
    ),
    trade_off=(
        "Each ping costs a few bytes per connection; very long synchronous work in a "
        "handler delays pongs and gets healthy connections closed."
    ),
    effort_hours=(0.1, 0.5),
)

_WEBSOCKETS_CALLS = frozenset({"serve", "connect", "unix_serve", "unix_connect"})
_WEBSOCKETS_OPTIONS = ("ping_interval", "ping_timeout")
_UVICORN_CALLS = frozenset({"uvicorn.run", "uvicorn.Config", "Config", "run"})
_UVICORN_OPTIONS = ("ws_ping_interval", "ws_ping_timeout")
_OFF = frozenset({"None", "0", "0.0"})


def check_file(ctx: FileContext) -> Iterator[Hit]:
    text = ctx.source.text
    if "ping_" not in text or syntax.is_test_path(ctx.source.path) or ".ping(" in text:
        return
    websockets_names = _imported_from(ctx.root, "websockets")
    uvicorn = "uvicorn" in ctx.imports
    for call in syntax.of_type(ctx.root, "call"):
        name = syntax.callee(call)
        options: tuple[str, ...] = ()
        if _is_websockets_call(name, websockets_names):
            options = _WEBSOCKETS_OPTIONS
        elif uvicorn and name in _UVICORN_CALLS and (name.startswith("uvicorn.") or
                                                    _from_uvicorn(ctx.root, name)):  # fmt: skip
            options = _UVICORN_OPTIONS
        for option in options:
            value = syntax.keyword_value(call, option)
            if value is None or node_text(value).strip() not in _OFF:
                continue
            yield node_hit(
                ctx,
                call,
                details={
                    "call": f"{name}(...)",
                    "option": option,
                    "value": node_text(value).strip(),
                },
            )
            break


def _is_websockets_call(name: str, imported: set[str]) -> bool:
    if syntax.last_name(name) not in _WEBSOCKETS_CALLS:
        return False
    if name.startswith("websockets."):
        return True
    return "." not in name and name in imported


def _imported_from(root: tree_sitter.Node, package: str) -> set[str]:
    """Names bound by ``from <package>[.x] import a, b as c``."""
    names: set[str] = set()
    for statement in syntax.of_type(root, "import_from_statement"):
        module = statement.child_by_field_name("module_name")
        if module is None or node_text(module).split(".")[0] != package:
            continue
        for child in statement.children_by_field_name("name"):
            alias = child.child_by_field_name("alias") if child.type == "aliased_import" else None
            names.add(node_text(alias if alias is not None else child).split(".")[-1])
    return names


def _from_uvicorn(root: tree_sitter.Node, name: str) -> bool:
    return name in _imported_from(root, "uvicorn")


RULE = Rule(meta=META, doc=__doc__ or "", check_file=check_file)
