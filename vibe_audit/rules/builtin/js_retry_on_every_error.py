"""Retry loop (or retry helper) that retries every error alike, 4xx responses included.

What it finds:
    In non-test JS/TS code: a ``for`` / ``while`` / ``do`` loop around a ``try`` whose block
    makes an HTTP call that fails on error statuses (axios, got, ky, ofetch, or ``fetch``
    followed by a ``throw`` in the same block, as in ``if (!res.ok) throw ...``) and leaves
    the loop on success (``return`` / ``break``), where the ``catch`` never looks at what
    failed: no status (``.status`` / ``.response`` / ``.statusCode``), no error code or
    name, no ``instanceof``, no retryable/transient check, no ``throw`` or ``break``
    before the next attempt. Also ``pRetry(fn)`` (p-retry) whose function never throws an
    ``AbortError`` and whose options give no ``shouldRetry``, and ``retry(async (bail) =>
    ...)`` (async-retry) that never calls ``bail``.

Why it matters:
    A 400, 401, 403, 404 or 422 answer will be the same on the next attempt: retrying it
    only multiplies the load on the service, delays the caller's error by the whole retry
    budget (often tens of seconds with backoff), and buries the real cause ("invalid
    token", "validation failed") under a generic "gave up after 5 attempts". Non-idempotent
    requests retried after a 409 or 422 can also repeat side effects.

Example:
    for (let attempt = 0; attempt < 5; attempt++) {
      try {
        const { data } = await axios.post(url, payload);
        return data;
      } catch (err) {
        await sleep(2 ** attempt * 500);
      }
    }

Use instead:
    for (let attempt = 0; attempt < 5; attempt++) {
      try {
        const { data } = await axios.post(url, payload);
        return data;
      } catch (err) {
        const status = err.response?.status;
        if (status !== undefined && status < 500 && status !== 429) throw err; // not retryable
        if (attempt === 4) throw err;
        await sleep(2 ** attempt * 500);
      }
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
    id="js-retry-on-every-error",
    title="Retry that does not tell retryable from non-retryable errors",
    severity=Severity.MEDIUM,
    confidence=Confidence.MEDIUM,
    categories={"reliability": "Retry"},
    checklist=["reliability.2.1"],
    problem=(
        "{what} retries every failure of `{call}` the same way: nothing checks the status "
        "or kind of error, so a 4xx answer or a validation error is retried like a "
        "network blip."
    ),
    scenario=(
        "The request is rejected with 400/401/404 (bad input, expired credentials, deleted "
        "record): each attempt gets the same answer, the caller waits out the whole retry "
        "budget, and the error it finally sees no longer says why."
    ),
    impact=(
        "Slow failures instead of immediate ones, extra load on a service that already "
        "said no, repeated side effects of non-idempotent requests, and lost error detail."
    ),
    how_to_verify=(
        "Make the endpoint answer 400 (send an invalid payload) and count the requests "
        "the code sends: more than one means the 400 was retried."
    ),
    fix=(
        "Classify before retrying: rethrow at once on 4xx other than 408/429 and on "
        "validation or parse errors, retry only network errors, timeouts and 5xx "
        "(p-retry: throw AbortError or pass shouldRetry; async-retry: call bail(err))."
    ),
    trade_off=(
        "Some APIs use 4xx for transient states (409 on a lock, 423): list the ones that "
        "are retryable for this service instead of retrying all of them."
    ),
    effort_hours=(0.25, 1.0),
    languages=js.JS_LANGUAGES,
    experimental=True,  # no retry loop in the measured real-code corpus
)

_LOOPS = ("for_statement", "for_in_statement", "while_statement", "do_statement")
_THROWING_CLIENTS = re.compile(
    r"^(?:axios|got|ky|ofetch|\$fetch|this\.axios|this\.http)(?:\.\w+)?$"
)
_FETCH = re.compile(r"^(?:globalThis\.|window\.)?fetch$")
_CLASSIFIES = re.compile(
    r"\.status\b|\.statusCode\b|\.response\b|\.code\b|\.name\b|\.errno\b|instanceof|"
    r"retryable|retriable|transient|shouldRetry|isAxiosError|isHTTPError|isNetworkError",
    re.I,
)
_STOP = frozenset(js.JS_FUNCTION_TYPES)


def check_file(ctx: FileContext) -> Iterator[Hit]:
    text = ctx.source.text
    if syntax.is_test_path(ctx.source.path) or ("catch" not in text and "etry" not in text):
        return
    for loop in syntax.of_type(ctx.root, *_LOOPS):
        hit = _loop_hit(ctx, loop)
        if hit is not None:
            yield hit
    modules = {b.local: b.module for b in js.import_bindings(ctx.root)}
    for declarator in syntax.of_type(ctx.root, "variable_declarator"):
        name, value = (
            declarator.child_by_field_name("name"),
            declarator.child_by_field_name("value"),
        )
        if name is not None and value is not None:
            source = re.match(r"""require\(\s*["']([\w@/.-]+)["']\s*\)$""", node_text(value))
            if source:
                modules[node_text(name)] = source.group(1)
    helpers = {local for local, module in modules.items() if module in {"p-retry", "async-retry"}}
    if helpers:
        for call in syntax.of_type(ctx.root, "call_expression"):
            hit = _helper_hit(ctx, call, helpers, modules)
            if hit is not None:
                yield hit


def _own(scope: tree_sitter.Node, *types: str) -> list[tree_sitter.Node]:
    return [n for n in syntax.walk(scope, stop_at=_STOP) if n.type in types]


def _loop_hit(ctx: FileContext, loop: tree_sitter.Node) -> Hit | None:
    body = loop.child_by_field_name("body")
    if body is None:
        return None
    for statement in _own(body, "try_statement"):
        if syntax.enclosing(statement, *_LOOPS) != loop:
            continue
        block = statement.child_by_field_name("body")
        handler = statement.child_by_field_name("handler")
        if block is None or handler is None:
            continue
        call = _failing_call(block)
        if call is None or not _own(block, "return_statement", "break_statement"):
            continue
        catch_body = handler.child_by_field_name("body")
        if catch_body is None or _classifies(catch_body):
            continue
        return node_hit(
            ctx,
            loop,
            until=handler,
            details={"what": "This retry loop", "call": _short(call)},
        )
    return None


def _failing_call(block: tree_sitter.Node) -> tree_sitter.Node | None:
    """An HTTP call in ``block`` whose error statuses end up in the catch."""
    throws = bool(_own(block, "throw_statement"))
    for call in _own(block, "call_expression"):
        callee = js.js_callee(call)
        if _THROWING_CLIENTS.match(callee) or (throws and _FETCH.match(callee)):
            return call
    return None


def _classifies(catch_body: tree_sitter.Node) -> bool:
    """The catch looks at the error (status, code, type) or ends the retrying itself."""
    if _own(catch_body, "throw_statement", "break_statement", "return_statement"):
        return True
    return bool(_CLASSIFIES.search(node_text(catch_body)))


def _helper_hit(
    ctx: FileContext, call: tree_sitter.Node, helpers: set[str], modules: dict[str, str]
) -> Hit | None:
    callee = js.js_callee(call)
    if callee not in helpers:
        return None
    args = js.js_arguments(call)
    if not args:
        return None
    function = js.unwrap(args[0])
    if function.type not in js.JS_FUNCTION_TYPES:
        return None  # a named function defined elsewhere: cannot see what it throws
    text = node_text(function)
    if modules[callee] == "p-retry":
        options = node_text(args[1]) if len(args) > 1 else ""
        if "AbortError" in text or "shouldRetry" in options or "onFailedAttempt" in options:
            return None
    else:
        params = function.child_by_field_name("parameters") or function.child_by_field_name(
            "parameter"
        )
        names = [node_text(p) for p in syntax.of_type(params, "identifier")] if params else []
        body = node_text(function.child_by_field_name("body") or function)
        if names and re.search(rf"\b{re.escape(names[0])}\s*\(", body):
            return None
    inner = _failing_call(function.child_by_field_name("body") or function)
    if inner is None:
        return None
    return node_hit(
        ctx,
        call,
        until=args[0],
        details={"what": f"{callee}()", "call": _short(inner)},
    )


def _short(call: tree_sitter.Node) -> str:
    text = node_text(call).split("\n", 1)[0]
    return text if len(text) <= 60 else text[:57] + "..."


RULE = Rule(meta=META, doc=__doc__ or "", check_file=check_file)
