"""Rust WebSocket server reading messages with no ping and no idle timeout.

What it finds:
    A non-test Rust file that accepts WebSockets (axum ``WebSocketUpgrade``,
    tokio-tungstenite ``accept_async`` / ``accept_hdr_async``, warp ``ws()``, actix-ws)
    and reads them in a loop, ``while let Some(msg) = socket.next().await`` /
    ``socket.recv().await``, in a file that never sends a ping, arms no timer
    (``interval``, ``timeout``, ``sleep``) and uses no ``select!`` next to the read.

Why it matters:
    Neither axum's WebSocket nor tokio-tungstenite sends pings by itself or closes an idle
    connection: they answer the peer's pings, nothing more. A client that vanished
    without a TCP close (sleep, network change, a proxy dropping the idle connection)
    leaves this loop waiting on ``next()`` forever, with the task, its buffers and every
    subscription it holds; on a busy server these half-open connections accumulate.

Example:
    async fn handle_socket(mut socket: WebSocket, state: AppState) {
        while let Some(Ok(msg)) = socket.recv().await {
            state.apply(msg).await;
        }
    }

Use instead:
    async fn handle_socket(mut socket: WebSocket, state: AppState) {
        let mut ping = tokio::time::interval(Duration::from_secs(20));
        loop {
            tokio::select! {
                _ = ping.tick() => {
                    if socket.send(Message::Ping(Vec::new().into())).await.is_err() { break }
                }
                msg = tokio::time::timeout(Duration::from_secs(60), socket.recv()) => {
                    match msg {
                        Ok(Some(Ok(msg))) => state.apply(msg).await,
                        _ => break, // idle for 60 s (no pong either), closed or failed
                    }
                }
            }
        }
    }
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import tree_sitter

from vibe_audit.chunker.parsing import node_text
from vibe_audit.rules import rust, syntax
from vibe_audit.rules.base import Hit, Rule, RuleMeta, node_hit
from vibe_audit.rules.context import FileContext
from vibe_audit.schemas import Confidence, Severity

META = RuleMeta(
    id="rust-websocket-read-without-timeout",
    title="WebSocket server read loop without ping or idle timeout",
    severity=Severity.MEDIUM,
    confidence=Confidence.MEDIUM,
    categories={"reliability": "Timeout"},
    checklist=["reliability.1.5"],
    problem=(
        "{function}() reads the WebSocket with `{read}` in a loop, and nothing in this file "
        "sends pings or times out an idle connection: a client that disappears without "
        "closing the TCP connection leaves this loop waiting forever."
    ),
    scenario=(
        "A client's laptop sleeps or its network changes: no FIN arrives, `{read}` never "
        "returns, and the task with its buffers and subscriptions stays alive for hours."
    ),
    impact=(
        "Half-open connections and their tasks accumulate (memory, file descriptors, "
        "broadcast subscribers), and the server counts clients that are long gone."
    ),
    how_to_verify=(
        "Connect a client, then drop its traffic (iptables DROP, or suspend the VM): the "
        "server still holds the connection and its task minutes later."
    ),
    fix=(
        "Send a Ping on a `tokio::time::interval` (e.g. every 20 s) from a `select!` next to "
        "the read, and wrap the read in `tokio::time::timeout` (e.g. 60 s): a connection "
        "with no message and no pong in that time is closed."
    ),
    trade_off=(
        "Pings cost a few bytes per connection; too short an idle timeout closes clients "
        "on slow networks."
    ),
    effort_hours=(0.5, 2.0),
    languages=["rust"],
    experimental=True,  # no WebSocket server in the measured real-code corpus
)

_SERVER = re.compile(
    r"\bWebSocketUpgrade\b|\baccept_async\b|\baccept_hdr_async\b|\bwarp::ws\b|"
    r"\bactix_ws\b|\bon_upgrade\b"
)
_KEEPALIVE = re.compile(
    r"Message::Ping\s*\(\s*[^)_]|\.ping\(|\binterval\s*\(|\btimeout\s*\(|\bsleep\s*\(|"
    r"select!|heartbeat|keep_?alive",
    re.I,
)
_READS = frozenset({"next", "recv"})


def check_file(ctx: FileContext) -> Iterator[Hit]:
    text = ctx.source.text
    if syntax.is_test_path(ctx.source.path) or not _SERVER.search(text):
        return
    if _KEEPALIVE.search(text):
        return
    for loop in syntax.of_type(ctx.root, "while_expression", "loop_expression"):
        read = _read_in(loop)
        if read is None or rust.is_rust_test(loop, ctx.source.path):
            continue
        function = rust.enclosing_function(loop)
        name = rust.rust_function_name(function) if function is not None else "<module>"
        yield node_hit(ctx, loop, until=read, details={"function": name, "read": node_text(read)})


def _read_in(loop: tree_sitter.Node) -> tree_sitter.Node | None:
    """The ``x.next().await`` / ``x.recv().await`` a loop waits on: in a ``while let``
    condition, or the scrutinee of a ``match`` directly in a ``loop`` body."""
    if loop.type == "while_expression":
        condition = loop.child_by_field_name("condition")
        value = condition.child_by_field_name("value") if condition is not None else None
        return value if value is not None and _is_read(value) else None
    body = loop.child_by_field_name("body")
    for statement in body.named_children if body is not None else []:
        inner = statement.named_children[0] if statement.named_children else statement
        if inner.type == "match_expression":
            value = inner.child_by_field_name("value")
            if value is not None and _is_read(value):
                return value
    return None


def _is_read(node: tree_sitter.Node) -> bool:
    if node.type != "await_expression" or not node.named_children:
        return False
    call = node.named_children[0]
    return (
        call.type == "call_expression"
        and rust.method_name(call) in _READS
        and not (rust.call_arguments(call))
    )


RULE = Rule(meta=META, doc=__doc__ or "", check_file=check_file)
