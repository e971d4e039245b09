"""Rust HTTP server reading request bodies with the size limit turned off.

What it finds:
    In non-test Rust code: axum's ``DefaultBodyLimit::disable()`` (or
    ``DefaultBodyLimit::max(usize::MAX)``) in a repository that sets no
    ``RequestBodyLimitLayer`` of its own; ``axum::body::to_bytes(body, usize::MAX)``;
    actix-web ``PayloadConfig::new(usize::MAX)`` and ``.limit(usize::MAX)`` on
    ``JsonConfig`` / ``PayloadConfig`` / ``FormConfig``; and a request body read whole with
    no limit, ``hyper::body::to_bytes(req.into_body())`` / ``req.into_body().collect()``,
    in a function that never looks at the content length or wraps the body in ``Limited``.

Why it matters:
    axum caps extracted bodies (``Bytes``, ``String``, ``Json``, ``Form``) at 2 MB and
    actix-web's extractors have limits of their own; disabling them, or reading the raw
    body whole, lets the size of what a client sends decide how much memory the request
    takes. One multi-gigabyte body, or a few concurrent ones, exhausts the process's
    memory and every in-flight request fails with it.

Example:
    let app = Router::new()
        .route("/upload", post(upload))
        .layer(DefaultBodyLimit::disable());

Use instead:
    let app = Router::new()
        .route("/upload", post(upload))
        .layer(DefaultBodyLimit::disable())
        .layer(RequestBodyLimitLayer::new(250 * 1024 * 1024)); // tower_http::limit
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import tree_sitter

from vibe_audit.chunker.parsing import node_text
from vibe_audit.rules import rust, syntax
from vibe_audit.rules.base import Hit, Rule, RuleMeta, node_hit
from vibe_audit.rules.context import FileContext, RepoContext
from vibe_audit.schemas import Confidence, Severity

META = RuleMeta(
    id="rust-request-body-without-size-limit",
    title="Request body read with no size limit",
    severity=Severity.MEDIUM,
    confidence=Confidence.MEDIUM,
    categories={"reliability": "Load Shedding"},
    checklist=["reliability.4.1"],
    problem=(
        "`{text}` {why}: the size of the body a client sends alone decides how much "
        "memory this request takes."
    ),
    scenario=(
        "A client sends a multi-gigabyte body (a wrong file, a retry loop, or on purpose): "
        "it is buffered whole, the process runs out of memory and is killed with every "
        "request it was serving."
    ),
    impact=(
        "Memory exhaustion and restarts driven by client input, instead of a 413 answer to "
        "the one oversized request."
    ),
    how_to_verify=(
        "POST a body larger than the server's free memory to the route (e.g. `head -c 4G "
        "/dev/zero | curl --data-binary @- ...`) and watch the process's resident memory."
    ),
    fix=(
        "Keep a limit sized to the largest legitimate request: `DefaultBodyLimit::max(n)` "
        "or `tower_http::limit::RequestBodyLimitLayer::new(n)` (axum), `.limit(n)` "
        "(actix-web), `http_body_util::Limited::new(body, n)` or a Content-Length check "
        "before `to_bytes` / `collect` (hyper); stream large bodies to disk instead."
    ),
    trade_off="A limit rejects legitimate large bodies: make it configurable.",
    effort_hours=(0.1, 0.5),
    languages=["rust"],
    experimental=True,  # no HTTP server body handling in the measured real-code corpus
)

_HUGE = re.compile(r"^(?:usize|u64|u32)::MAX$")
_REPO_LIMIT = re.compile(r"RequestBodyLimit|Limited::new|content_length_limit")
_FUNCTION_LIMIT = re.compile(
    r"content_length|CONTENT_LENGTH|size_hint|Limited|max_body|body_limit", re.I
)
_ACTIX_CONFIGS = re.compile(r"(?:Json|Payload|Form)Config")


def check_repo(repo: RepoContext) -> Iterator[Hit]:
    files = repo.in_language("rust")
    repo_limited = any(_REPO_LIMIT.search(ctx.source.text) for ctx in files)
    for ctx in files:
        if not syntax.is_test_path(ctx.source.path):
            yield from _check_file(ctx, repo_limited)


def _check_file(ctx: FileContext, repo_limited: bool) -> Iterator[Hit]:
    text = ctx.source.text
    if not re.search(r"DefaultBodyLimit|to_bytes|Config|into_body", text):
        return
    for call in syntax.of_type(ctx.root, "call_expression"):
        if rust.is_rust_test(call, ctx.source.path):
            continue
        why = _why(call, text, repo_limited)
        if why is not None:
            said = " ".join(node_text(call).split())
            said = said if len(said) <= 70 else said[:67] + "..."
            yield node_hit(ctx, call, details={"text": said, "why": why})


def _why(call: tree_sitter.Node, text: str, repo_limited: bool) -> str | None:
    function = call.child_by_field_name("function")
    name = node_text(function).replace(" ", "") if function is not None else ""
    args = rust.call_arguments(call)
    last = name.rsplit("::", 1)[-1].rsplit(".", 1)[-1]
    if name.endswith("DefaultBodyLimit::disable") and not repo_limited:
        return "turns off axum's 2 MB body limit and no RequestBodyLimitLayer replaces it"
    if name.endswith("DefaultBodyLimit::max") and args and _HUGE.match(node_text(args[0])):
        return "sets axum's body limit to the largest integer, which is no limit"
    if last == "to_bytes" and len(args) == 2 and _HUGE.match(node_text(args[1])):
        return "reads the whole body with the largest integer as its limit, which is no limit"
    if (
        (name.endswith("PayloadConfig::new") or last == "limit")
        and args
        and _HUGE.match(node_text(args[0]))
    ):
        if last != "limit" or _ACTIX_CONFIGS.search(name) or _ACTIX_CONFIGS.search(text):
            return "sets the body extractor's limit to the largest integer, which is no limit"
        return None
    if _reads_request_whole(call, name, args):
        scope = rust.enclosing_function(call)
        if scope is None or _FUNCTION_LIMIT.search(node_text(scope)):
            return None
        return "reads the request body whole with no size limit and no Content-Length check"
    return None


def _reads_request_whole(call: tree_sitter.Node, name: str, args: list[tree_sitter.Node]) -> bool:
    """``to_bytes(req.into_body())`` (hyper 0.14) / ``req.into_body().collect()``."""
    if name.rsplit("::", 1)[-1] == "to_bytes" and len(args) == 1:
        target = node_text(args[0])
    elif rust.method_name(call) == "collect" and not args:
        receiver = rust.receiver(call)
        target = node_text(receiver) if receiver is not None else ""
    else:
        return False
    return "into_body()" in target and bool(re.match(r"^(?:req|request)\b", target))


RULE = Rule(meta=META, doc=__doc__ or "", check_repo=check_repo)
