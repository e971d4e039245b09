"""Graceful shutdown waits for Ctrl+C only: SIGTERM kills the service mid-work.

What it finds:
    A Rust server (axum, hyper, warp, poem, tonic, salvo, tide) whose shutdown waits on
    ``tokio::signal::ctrl_c()`` (SIGINT), where no non-test code of the repository handles
    SIGTERM: no ``signal(SignalKind::terminate())``, ``SIGTERM``, ``signal_hook`` or
    ``ctrlc`` (whose ``termination`` feature covers SIGTERM). Servers built on actix-web
    or Rocket are not reported: both install their own SIGTERM handler.

Why it matters:
    Docker (``docker stop``), Kubernetes, systemd and most process managers stop a service
    with SIGTERM, not SIGINT. A Rust process with no SIGTERM handler is killed at once by
    the default action: the graceful drain around ``ctrl_c()`` never runs, in-flight
    requests are cut off and background work is abandoned mid-step.

Example:
    axum::serve(listener, app)
        .with_graceful_shutdown(async { tokio::signal::ctrl_c().await.ok(); })
        .await?;

Use instead:
    async fn shutdown_signal() {
        let terminate = async {
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                .expect("SIGTERM handler")
                .recv()
                .await;
        };
        tokio::select! { _ = tokio::signal::ctrl_c() => {}, _ = terminate => {} }
    }
    axum::serve(listener, app).with_graceful_shutdown(shutdown_signal()).await?;
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from vibe_audit.rules import rust, syntax
from vibe_audit.rules.base import Hit, Rule, RuleMeta, node_hit
from vibe_audit.rules.context import RepoContext
from vibe_audit.schemas import Confidence, Severity

META = RuleMeta(
    id="rust-shutdown-ignores-sigterm",
    title="Graceful shutdown listens for Ctrl+C only, not SIGTERM",
    severity=Severity.HIGH,
    confidence=Confidence.HIGH,
    categories={"reliability": "Startup/Shutdown"},
    checklist=["reliability.5.2"],
    problem=(
        "{function}() waits for `ctrl_c()` (SIGINT) to shut down, and no code handles "
        "SIGTERM, the signal container runtimes and service managers send to stop a "
        "process: on SIGTERM the {server} server is killed at once, without the drain."
    ),
    scenario=(
        "A deploy or a scale-down sends SIGTERM: the process dies immediately, in-flight "
        "requests get connection resets and background tasks stop in the middle of their "
        "work."
    ),
    impact=(
        "Every deploy drops the requests in flight and can leave jobs or files half "
        "written; the graceful-shutdown code only ever runs on a developer's Ctrl+C."
    ),
    how_to_verify=(
        "Start the service, send a slow request, then `kill -TERM <pid>` (or "
        "`docker stop`): the request is cut off and no shutdown log line appears."
    ),
    fix=(
        "Wait for either signal in {function}():\n"
        "    let term = async { tokio::signal::unix::signal(SignalKind::terminate())\n"
        '        .expect("SIGTERM handler").recv().await; };\n'
        "    tokio::select! { _ = tokio::signal::ctrl_c() => {}, _ = term => {} }"
    ),
    trade_off=(
        "None; keep the drain shorter than the orchestrator's grace period (30 s by "
        "default in Kubernetes) or it is killed anyway."
    ),
    effort_hours=(0.25, 0.5),
    languages=["rust"],
)

_SERVERS = ("axum", "hyper", "warp", "poem", "tonic", "salvo", "tide")
_SELF_HANDLING = re.compile(r"\b(actix_web|actix_server|rocket)\b")
_SERVING = re.compile(r"\bserve\b|Server::|graceful_shutdown|\bbind\(")
_TERM = re.compile(r"SignalKind::terminate|SIGTERM|signal_hook|\bctrlc\b|terminate\(\)")


def check_repo(repo: RepoContext) -> Iterator[Hit]:
    files = [ctx for ctx in repo.in_language("rust") if not syntax.is_test_path(ctx.source.path)]
    texts = [ctx.source.text for ctx in files]
    if any(_TERM.search(t) or _SELF_HANDLING.search(t) for t in texts):
        return
    server = next(
        (s for s in _SERVERS for ctx in files if s in ctx.imports or f"{s}::" in ctx.source.text),
        None,
    )
    if server is None or not any(_SERVING.search(t) for t in texts):
        return  # a client of the crate (hyper's Client), not a server
    for ctx in files:
        if "ctrl_c" not in ctx.source.text:
            continue
        uses = rust.use_paths(ctx.root)
        for call in syntax.of_type(ctx.root, "call_expression"):
            path = rust.call_path(call, uses)
            if not (path == "ctrl_c" or path.endswith("signal::ctrl_c")):
                continue
            if rust.is_rust_test(call, ctx.source.path):
                continue
            function = rust.enclosing_function(call)
            yield node_hit(
                ctx,
                call,
                details={
                    "function": rust.rust_function_name(function) if function else "main",
                    "server": server,
                },
            )
            return


RULE = Rule(meta=META, doc=__doc__ or "", check_repo=check_repo)
