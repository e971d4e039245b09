"""Outbound HTTP call with no timeout.

What it finds:
    ``requests.get/post/put/patch/delete/head/request(...)`` and
    ``urllib.request.urlopen(...)`` called without a ``timeout`` argument (and without
    ``**kwargs`` that could carry one). httpx and aiohttp are not flagged: they time out by
    default.

Why it matters:
    requests and urlopen wait forever by default. A dependency that accepts the connection
    and never answers holds the worker, its database connection and its memory until the
    process is restarted; enough of them exhaust the worker pool.

Example:
    requests.post(OCR_URL, json=payload)

Use instead:
    requests.post(OCR_URL, json=payload, timeout=(3.05, 30))   # connect, read
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
    id="http-call-without-timeout",
    title="HTTP call without a timeout",
    severity=Severity.HIGH,
    confidence=Confidence.HIGH,
    categories={"reliability": "Timeout"},
    checklist=["reliability.1.1", "reliability.8.1"],
    problem=(
        "{call}(...) is called without a timeout, and this client waits forever by default. "
        "A dependency that hangs holds this worker indefinitely."
    ),
    scenario=(
        "The remote service accepts the connection but stalls (overload, GC pause, network "
        "partition): every request that reaches this line hangs, and the worker pool drains."
    ),
    impact=(
        "One slow dependency takes the whole service down: with N workers, N stuck calls "
        "stop all processing until restart."
    ),
    how_to_verify=(
        "Point the URL at `nc -l 9999` (accepts, never answers) and call the code path: it "
        "never returns."
    ),
    fix="Pass an explicit (connect, read) timeout:\n    {call}(..., timeout=(3.05, 30))",
    trade_off=(
        "A read timeout too short for slow but healthy responses causes spurious failures; "
        "pair it with retries with backoff for idempotent calls."
    ),
    effort_hours=(0.25, 0.5),
)

_REQUESTS = {
    f"requests.{verb}"
    for verb in ("get", "post", "put", "patch", "delete", "head", "options", "request")
}
_URLOPEN = {"urllib.request.urlopen", "request.urlopen", "urlopen"}


def check_file(ctx: FileContext) -> Iterator[Hit]:
    if "requests" not in ctx.imports and "urllib" not in ctx.imports:
        return
    for call in syntax.of_type(ctx.root, "call"):
        name = syntax.callee(call)
        if name not in _REQUESTS and name not in _URLOPEN:
            continue
        keywords = syntax.keyword_names(call)
        if "timeout" in keywords or "**" in keywords:
            continue
        if name in _URLOPEN and len(syntax.positional_args(call)) >= 3:
            continue  # urlopen(url, data, timeout) passed positionally
        yield node_hit(
            ctx,
            call,
            details={"call": name, "text": node_text(call)},
            replacement=_with_timeout(ctx, call),
        )


def _with_timeout(ctx: FileContext, call: tree_sitter.Node) -> str | None:
    """The call's line with a timeout argument added, when the call fits on one line."""
    args = call.child_by_field_name("arguments")
    if args is None or syntax.line(call) != syntax.end_line(call) or not args.named_children:
        return None
    line = ctx.lines[syntax.line(call) - 1]
    end = args.end_point.column - 1  # the closing parenthesis
    inner = line[:end].rstrip().rstrip(",")
    return f"{inner}, timeout=(3.05, 30){line[end:]}"


RULE = Rule(meta=META, doc=__doc__ or "", check_file=check_file)
