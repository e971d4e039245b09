"""WebSocket client that never reconnects after the connection drops.

What it finds:
    ``new WebSocket(url)`` (also ``window.WebSocket``) in a non-test file that handles
    messages (``onmessage`` / a "message" listener) but where no close handler
    (``ws.onclose = ...``, ``addEventListener("close", ...)``, ``ws.on("close", ...)``)
    schedules a reconnect: neither the handler nor a function of the file it calls uses
    ``setTimeout`` / ``setInterval`` or calls something named ``*connect*`` / ``*retry*``.
    A close handler given by name that the file does not define is trusted. Files that
    mention reconnect / retry / backoff anywhere (reconnect logic elsewhere in the file,
    e.g. an effect keyed on the connection state) and files using a reconnecting wrapper
    (reconnecting-websocket, partysocket, sockette, react-use-websocket) are skipped.

Why it matters:
    WebSockets drop all the time: deploys, load balancer idle timeouts, laptop sleep, Wi-Fi
    changes. Without a reconnect the page silently stops receiving updates; status badges
    and progress bars freeze on stale state until the user reloads.

Example:
    const ws = new WebSocket(url);
    ws.onmessage = (e) => store.apply(JSON.parse(e.data));
    ws.onclose = () => setConnected(false);

Use instead:
    function connect(attempt = 0) {
      const ws = new WebSocket(url);
      ws.onopen = () => { attempt = 0; resync(); };
      ws.onmessage = (e) => store.apply(JSON.parse(e.data));
      ws.onclose = () => {
        const delay = Math.min(30_000, 1000 * 2 ** attempt) * (0.5 + Math.random());
        setTimeout(() => connect(attempt + 1), delay);
      };
    }
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
    id="js-websocket-without-reconnect",
    title="WebSocket without reconnect on close",
    severity=Severity.MEDIUM,
    confidence=Confidence.MEDIUM,
    categories={"reliability": "Dependency Failure", "concurrency": "Distributed State"},
    checklist=["reliability.1.5", "reliability.2.2", "concurrency.6A", "concurrency.6C"],
    problem=(
        "A WebSocket is opened here but {close_handling}, so after any disconnect the "
        "client stops receiving updates for good."
    ),
    scenario=(
        "A deploy restarts the backend (or a proxy closes the idle connection): the socket "
        "closes, nothing reconnects, and the page keeps showing the state from before the "
        "drop while processing continues on the server."
    ),
    impact=(
        "Users act on stale status and progress until they reload; events sent while "
        "disconnected are lost and the UI diverges from the backend."
    ),
    how_to_verify=(
        "Open the page, restart the backend (or kill the socket in devtools): no new "
        "connection appears in the Network tab and updates stop."
    ),
    fix=(
        "In the close handler schedule a reconnect with capped exponential backoff and "
        "jitter (setTimeout(connect, min(30s, 1s * 2^attempt))), reset the attempt count "
        "on open, and re-fetch current state after reconnecting to cover missed events."
    ),
    trade_off=(
        "Reconnect loops need a cap and jitter or every client hammers the server at once "
        "after an outage; stop reconnecting on deliberate close (logout, unmount)."
    ),
    effort_hours=(0.5, 2.0),
    languages=js.JS_LANGUAGES,
)

_WRAPPERS = ("reconnecting-websocket", "partysocket", "sockette", "react-use-websocket")
_MENTIONS_RETRY = re.compile(r"reconnect|retry|retries|backoff", re.I)
_CONSTRUCTORS = frozenset({"WebSocket", "window.WebSocket", "globalThis.WebSocket"})


def check_file(ctx: FileContext) -> Iterator[Hit]:
    text = ctx.source.text
    if "WebSocket(" not in text or "message" not in text or syntax.is_test_path(ctx.source.path):
        return
    if any(name.startswith(_WRAPPERS) for name in ctx.imports) or _MENTIONS_RETRY.search(text):
        return
    sockets: list[tree_sitter.Node] = []
    handlers: list[tree_sitter.Node] = []
    handles_messages = False
    for node in syntax.walk(ctx.root):
        if node.type == "new_expression":
            constructor = node.child_by_field_name("constructor")
            if constructor is not None and node_text(constructor) in _CONSTRUCTORS:
                sockets.append(node)
        elif node.type == "assignment_expression":
            event = _assigned_event(node)
            right = node.child_by_field_name("right")
            handles_messages |= event == "message"
            if event == "close" and right is not None:
                handlers.append(right)
        elif node.type == "call_expression":
            event, handler = _listener(node)
            handles_messages |= event == "message"
            if event == "close" and handler is not None:
                handlers.append(handler)
    if not sockets or not handles_messages:
        return
    functions = _functions_by_name(ctx.root)
    openers = {
        js.js_function_name(function)
        for socket in sockets
        if (function := js.enclosing_function(socket)) is not None
    }
    if any(_reconnects(handler, functions, openers) for handler in handlers):
        return
    close_handling = (
        "its close handler never schedules a reconnect"
        if handlers
        else "nothing handles its close event"
    )
    for socket in sockets:
        yield node_hit(
            ctx,
            socket,
            details={"close_handling": close_handling, "text": node_text(socket)},
        )


def _assigned_event(assignment: tree_sitter.Node) -> str | None:
    """'close' for ``x.onclose = ...``, 'message' for ``x.onmessage = ...``."""
    left = assignment.child_by_field_name("left")
    if left is None or left.type != "member_expression":
        return None
    prop = left.child_by_field_name("property")
    name = node_text(prop) if prop is not None else ""
    return name[2:] if name in {"onclose", "onmessage"} else None


def _listener(call: tree_sitter.Node) -> tuple[str | None, tree_sitter.Node | None]:
    """('close', handler) for ``x.addEventListener("close", handler)`` / ``x.on("close", h)``."""
    name = js.js_callee(call)
    if not name.endswith((".addEventListener", ".on", ".once")):
        return None, None
    args = js.js_arguments(call)
    event = js.js_string(args[0]) if args else None
    if event not in {"close", "message"}:
        return None, None
    return event, args[1] if len(args) > 1 else None


def _functions_by_name(root: tree_sitter.Node) -> dict[str, tree_sitter.Node]:
    """Every named function, method and function-valued variable of the file."""
    found: dict[str, tree_sitter.Node] = {}
    for node in syntax.of_type(root, *js.JS_FUNCTION_TYPES):
        name = js.js_function_name(node)
        if name != "<anonymous>":
            found.setdefault(name, node)
    return found


def _reconnects(
    handler: tree_sitter.Node, functions: dict[str, tree_sitter.Node], openers: set[str]
) -> bool:
    """The handler (or a function of the file it names or calls) schedules a reconnect."""
    handler = js.unwrap(handler)
    if handler.type in {"identifier", "member_expression"}:
        target = functions.get(node_text(handler).rsplit(".", 1)[-1])
        if target is None:
            return True  # defined elsewhere: cannot tell, trust it
        handler = target
    called = _called_names(handler)
    if _any_reconnect(called, openers):
        return True
    return any(
        _any_reconnect(_called_names(functions[name]), openers)
        for name in called
        if name in functions and functions[name] != handler
    )


def _called_names(scope: tree_sitter.Node) -> set[str]:
    """Last names of the functions called under ``scope`` ('connect' for this.connect())."""
    return {
        js.js_callee(call).rsplit(".", 1)[-1] for call in syntax.of_type(scope, "call_expression")
    }


def _any_reconnect(names: set[str], openers: set[str]) -> bool:
    """A timer, a function that opens the socket, or a *reconnect* / connect* / *retry* call."""
    for name in names:
        lower = name.lower()
        if name in openers or name in {"setTimeout", "setInterval"}:
            return True
        if "disconnect" in lower:
            continue
        if any(word in lower for word in ("reconnect", "retry", "backoff")):
            return True
        if lower.startswith("connect") or lower.endswith("connect"):
            return True
    return False


RULE = Rule(meta=META, doc=__doc__ or "", check_file=check_file)
