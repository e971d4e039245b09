"""WebSocket broadcast that awaits each client's send in turn, with no timeout.

What it finds:
    In a non-test Python file that uses WebSockets (FastAPI / Starlette ``WebSocket``, the
    websockets library), a ``for`` loop over a collection of connections whose body awaits
    ``<conn>.send_text(...)`` / ``send_json`` / ``send_bytes`` / ``send(...)`` directly:
    not inside ``asyncio.wait_for`` / ``asyncio.timeout`` / ``anyio.fail_after``, with no
    timeout anywhere in the loop, and not handed to ``asyncio.gather`` / a task.

Why it matters:
    A send waits while the connection's write buffer is full. One slow or half-dead client
    (a phone on a bad network, a browser tab in the background) therefore stalls the loop,
    and every other subscriber waits behind it: status updates arrive late for everyone,
    and the code that called the broadcast (often a worker reporting progress) is held up
    too. If a send raises for a client that just went away, the clients after it in the
    loop get nothing.

Example:
    for ws in self.subscribers[task_id]:
        await ws.send_text(message)

Use instead:
    async def _send(ws):
        try:
            await asyncio.wait_for(ws.send_text(message), timeout=5)
        except Exception:
            self.subscribers[task_id].discard(ws)   # drop slow or dead clients

    await asyncio.gather(*(_send(ws) for ws in list(self.subscribers[task_id])))
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import tree_sitter

from vibe_audit.chunker.parsing import node_text
from vibe_audit.rules import syntax
from vibe_audit.rules.base import Hit, Rule, RuleMeta, node_hit
from vibe_audit.rules.context import FileContext
from vibe_audit.schemas import Confidence, Severity

META = RuleMeta(
    id="websocket-broadcast-without-timeout",
    title="WebSocket broadcast awaits each client with no timeout",
    severity=Severity.MEDIUM,
    confidence=Confidence.MEDIUM,
    categories={"reliability": "Timeout"},
    checklist=["reliability.1.5"],
    problem=(
        "This loop awaits `{send}` for each connection of `{collection}` one after the "
        "other, with no timeout: one slow or half-dead client holds up the send to every "
        "client after it, and the caller of the broadcast with them."
    ),
    scenario=(
        "One subscriber's network stalls: its socket buffer fills, `{send}` waits on it, "
        "and the other subscribers stop getting updates until that connection finally "
        "errors out; a send that raises for a client that left skips the rest of the loop."
    ),
    impact=(
        "Updates delayed or lost for every client because of one; the task doing the "
        "broadcast (progress reporting, a worker) is blocked for as long as the slowest "
        "client."
    ),
    how_to_verify=(
        "Open two connections, stop reading on one (pause the process, or throttle it), "
        "trigger many broadcasts and watch the other connection's updates stall."
    ),
    fix=(
        "Send to each client with a timeout (`await asyncio.wait_for({send}, 5)`), run the "
        "sends concurrently (asyncio.gather, or a per-client queue and writer task), and "
        "drop clients whose send times out or fails."
    ),
    trade_off=(
        "Dropping slow clients means they must reconnect and resync; per-client queues "
        "need a bound of their own."
    ),
    effort_hours=(0.5, 2.0),
    experimental=True,  # one real-code case measured; blocking depends on the server's buffers
)

_SENDS = frozenset({"send_text", "send_json", "send_bytes", "send"})
_WS_FILE = re.compile(r"\bWebSocket\b|\bwebsockets\b")
_CONNECTIONS = re.compile(r"websocket|socket|\bws\b|_ws\b|\bws_|conn|client|subscriber|peer", re.I)
_TIMEOUTS = re.compile(r"wait_for|timeout|fail_after|move_on_after|gather|create_task|TaskGroup")


def check_file(ctx: FileContext) -> Iterator[Hit]:
    text = ctx.source.text
    if "send" not in text or syntax.is_test_path(ctx.source.path) or not _WS_FILE.search(text):
        return
    for loop in syntax.of_type(ctx.root, "for_statement"):
        left, right = loop.child_by_field_name("left"), loop.child_by_field_name("right")
        body = loop.child_by_field_name("body")
        if left is None or right is None or body is None or left.type != "identifier":
            continue
        name = node_text(left)
        if not (_CONNECTIONS.search(name) or _CONNECTIONS.search(node_text(right))):
            continue
        if _TIMEOUTS.search(node_text(body)):
            continue
        send = _awaited_send(body, name)
        if send is None:
            continue
        yield node_hit(
            ctx,
            loop,
            until=send,
            details={"send": node_text(send.named_children[0]), "collection": node_text(right)},
        )


def _awaited_send(body: tree_sitter.Node, name: str) -> tree_sitter.Node | None:
    """The first ``await <name>.send_*(...)`` of the loop body (not in a nested function)."""
    for node in syntax.walk(body, stop_at=syntax.FUNCTION_TYPES | {"class_definition"}):
        if node.type != "await" or not node.named_children:
            continue
        call = node.named_children[0]
        if call.type != "call":
            continue
        callee = syntax.callee(call)
        if (
            "." in callee
            and callee.rsplit(".", 1)[0] == name
            and syntax.last_name(callee) in _SENDS
        ):
            return node
    return None


RULE = Rule(meta=META, doc=__doc__ or "", check_file=check_file)
