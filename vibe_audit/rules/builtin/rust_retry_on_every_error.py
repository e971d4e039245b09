"""Rust retry that retries every error alike, HTTP 4xx answers included.

What it finds:
    In non-test Rust code that turns error statuses into errors (reqwest's
    ``error_for_status()``): a ``loop`` / ``for`` / ``while`` around a ``match`` on the
    request's result whose ``Err`` arm goes round again without looking at the error (no
    ``.status()``, ``is_timeout()`` / ``is_connect()`` / ``is_status()`` or other ``is_*``
    check, no ``StatusCode``, nothing named retryable / transient, no return or break);
    a ``backoff`` retry in a file that marks errors ``transient`` and never ``permanent``;
    and tokio-retry's ``Retry::spawn`` (which retries every error) rather than ``RetryIf``.

Why it matters:
    ``error_for_status()`` makes a 400, 401, 404 or 422 an ``Err`` like a refused
    connection. Retrying it gets the same answer every time: the caller waits out the
    whole retry budget, the service gets the bad request several times over, and the
    error finally returned hides the first, meaningful one. Non-idempotent requests can
    repeat side effects.

Example:
    for attempt in 0..5 {
        match client.post(url).json(&body).send().await.and_then(|r| r.error_for_status()) {
            Ok(resp) => return Ok(resp),
            Err(err) => {
                warn!(%err, attempt, "request failed, retrying");
                tokio::time::sleep(Duration::from_millis(500 << attempt)).await;
            }
        }
    }

Use instead:
    for attempt in 0..5 {
        match client.post(url).json(&body).send().await.and_then(|r| r.error_for_status()) {
            Ok(resp) => return Ok(resp),
            Err(err) if err.status().is_some_and(|s| s.is_client_error()) => return Err(err.into()),
            Err(err) => {
                warn!(%err, attempt, "request failed, retrying");
                tokio::time::sleep(Duration::from_millis(500 << attempt)).await;
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
    id="rust-retry-on-every-error",
    title="Retry that does not tell retryable from non-retryable errors",
    severity=Severity.MEDIUM,
    confidence=Confidence.MEDIUM,
    categories={"reliability": "Retry"},
    checklist=["reliability.2.1"],
    problem=(
        "{what} in {function}() retries every error of the request the same way: nothing "
        "checks the status or kind of error, so a 4xx answer turned into an error by "
        "error_for_status() is retried like a network failure."
    ),
    scenario=(
        "The server rejects the request with 400/401/404 (bad input, expired token, "
        "deleted resource): every attempt gets the same answer, the caller waits out the "
        "whole retry budget, and the error it finally gets no longer says why."
    ),
    impact=(
        "Slow failures instead of immediate ones, repeated load and side effects on the "
        "other service, and the first meaningful error lost."
    ),
    how_to_verify=(
        "Point the call at an endpoint that answers 400 (or send an invalid body) and count "
        "the requests sent: more than one means the 400 was retried."
    ),
    fix=(
        "Classify the error before retrying: give up at once when `err.status()` is a "
        "client error other than 408/429, or when the error is a decode/builder error; "
        "retry `is_timeout()` / `is_connect()` and 5xx only (backoff: "
        "`Error::permanent` for the rest; tokio-retry: `RetryIf::spawn` with a condition)."
    ),
    trade_off=(
        "Some services use 4xx for transient states (409, 423, 429): list those explicitly "
        "as retryable."
    ),
    effort_hours=(0.25, 1.0),
    languages=["rust"],
    experimental=True,  # no retry loop in the measured real-code corpus
)

_LOOPS = ("loop_expression", "for_expression", "while_expression")
_CLASSIFIES = re.compile(
    r"\.status\(\)|\.is_\w+\(\)|StatusCode|retryable|retriable|transient|permanent|"
    r"\breturn\b|\bbreak\b|\?\s*;|panic!|bail!",
    re.I,
)


def check_file(ctx: FileContext) -> Iterator[Hit]:
    text = ctx.source.text
    if "error_for_status" not in text or syntax.is_test_path(ctx.source.path):
        return
    for loop in syntax.of_type(ctx.root, *_LOOPS):
        if rust.is_rust_test(loop, ctx.source.path) or "error_for_status" not in node_text(loop):
            continue
        arm = _blind_err_arm(loop)
        if arm is not None:
            yield _hit(ctx, loop, arm, "This retry loop")
    if "transient" in text and "ermanent" not in text and "backoff" in text:
        for node in syntax.of_type(ctx.root, "scoped_identifier"):
            if node_text(node).replace(" ", "").endswith("Error::transient"):
                if not rust.is_rust_test(node, ctx.source.path):
                    yield _hit(ctx, node, node, "The backoff retry (every error transient)")
                break
    if "RetryIf" not in text:
        for call in syntax.of_type(ctx.root, "call_expression"):
            function = call.child_by_field_name("function")
            if (
                function is not None
                and node_text(function).endswith("Retry::spawn")
                and not rust.is_rust_test(call, ctx.source.path)
            ):
                yield _hit(ctx, call, call, "Retry::spawn (retries every error)")


def _blind_err_arm(loop: tree_sitter.Node) -> tree_sitter.Node | None:
    """The ``Err(..) => ...`` arm of a match in the loop that retries without a look."""
    body = loop.child_by_field_name("body")
    if body is None:
        return None
    for match in syntax.walk(body, stop_at=frozenset({"closure_expression", "function_item"})):
        if match.type != "match_expression":
            continue
        arms = list(syntax.of_type(match, "match_arm"))
        err_arms = [a for a in arms if _pattern(a).startswith("Err")]
        ok_arms = [a for a in arms if _pattern(a).startswith("Ok")]
        if not err_arms or not ok_arms:
            continue
        if not any(re.search(r"\breturn\b|\bbreak\b", node_text(a)) for a in ok_arms):
            continue  # success does not leave the loop: not a retry
        if any(_CLASSIFIES.search(node_text(a)) for a in err_arms):
            continue
        return err_arms[0]
    return None


def _pattern(arm: tree_sitter.Node) -> str:
    pattern = arm.child_by_field_name("pattern")
    return node_text(pattern).strip() if pattern is not None else ""


def _hit(ctx: FileContext, node: tree_sitter.Node, until: tree_sitter.Node, what: str) -> Hit:
    function = rust.enclosing_function(node)
    name = rust.rust_function_name(function) if function is not None else "<module>"
    return node_hit(ctx, node, until=until, details={"what": what, "function": name})


RULE = Rule(meta=META, doc=__doc__ or "", check_file=check_file)
