"""Served application calls external HTTP services, and no circuit breaker exists.

What it finds:
    A repository that serves a web application and, in its served code, calls HTTP APIs
    (requests, httpx, aiohttp, urllib; fetch with an absolute or computed URL, axios, got,
    ky; reqwest, ureq, hyper, awc) while nothing in the repository is a circuit breaker:
    no pybreaker, circuitbreaker, aiobreaker or purgatory; no opossum, cockatiel or brakes;
    no failsafe, recloser or tower limit/load-shed layer; no class, struct or setting named
    after a breaker or a failure threshold. One finding per repository, at the first
    external call. Test, example, docs and script files are not read.

Why it matters:
    When a downstream service slows down or fails, every request keeps calling it: each
    one waits for its timeout, holds a worker, a connection and memory, and retries add
    more load to the failing service. The slowness spreads to endpoints that do not even
    need that service, and the dependency cannot recover under the retry storm. A breaker
    opens after a run of failures and fails fast until the service is back.

Example:
    def quote(order: dict) -> dict:
        return requests.post(PRICING_URL, json=order, timeout=30).json()

Use instead:
    pricing_breaker = pybreaker.CircuitBreaker(fail_max=5, reset_timeout=30)

    @pricing_breaker
    def quote(order: dict) -> dict:
        return requests.post(PRICING_URL, json=order, timeout=30).json()
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

from vibe_audit.rules import ops_util
from vibe_audit.rules.base import Hit, Rule, RuleMeta
from vibe_audit.rules.context import RepoContext
from vibe_audit.schemas import Confidence, Severity

_CLIENT_CALL = {
    "python": re.compile(
        r"\brequests\.(get|post|put|patch|delete|head|request|Session)\(|"
        r"\bhttpx\.(get|post|put|patch|delete|request|stream|Client|AsyncClient)\(|"
        r"\baiohttp\.ClientSession\(|\burllib\.request\.urlopen\("
    ),
    "js": re.compile(
        r"\baxios(\.(get|post|put|patch|delete|request|create))?\(|"
        r"\bgot(\.(get|post|put|patch|delete|stream))?\(|\bky(\.(get|post|put))?\(|"
        r"(?<![\w.])fetch\(\s*(?![\"'`]\.?/)(?![\"'`]\?)"
    ),
    "rust": re.compile(
        r"\breqwest::(Client::new|Client::builder|ClientBuilder::new|get|blocking::)|"
        r"\bureq::(get|post|put|agent|AgentBuilder)|\bhyper::Client::|\bawc::Client::"
    ),
}
_FIX = {
    "python": "wrap the calls in a breaker (pybreaker.CircuitBreaker, aiobreaker, purgatory)",
    "js": "wrap the calls in a breaker (opossum's CircuitBreaker, cockatiel's circuitBreaker)",
    "rust": "wrap the client in a breaker (failsafe, recloser, a tower circuit-breaker layer)",
}
# Calls to the service itself or a sidecar on the same host.
_LOCAL = re.compile(r"localhost|127\.0\.0\.1|0\.0\.0\.0|\$\{host\}|\{host\}:")
_BROWSER = re.compile(r"^[\"']use client[\"']|\b(window|document)\.", re.M)


def _meta(language: str) -> RuleMeta:
    return RuleMeta(
        id=f"{ops_util.PREFIX[language]}http-calls-without-circuit-breaker",
        title="External HTTP calls from a served application with no circuit breaker",
        severity=Severity.MONITOR,
        confidence=Confidence.LOW,
        categories={"reliability": "Circuit Breaker"},
        checklist=["reliability.3.1"],
        problem=(
            "The {framework} application calls external HTTP services (`{call}`), and "
            "nothing in the repository opens a circuit when they keep failing."
        ),
        scenario=(
            "The external service starts timing out: every request handled here waits for "
            "the full timeout (and its retries), workers and connections pile up, and "
            "endpoints that never use that service slow down with the rest."
        ),
        impact=(
            "One failing dependency becomes a full outage, and the retry traffic keeps the "
            "dependency from recovering."
        ),
        how_to_verify=(
            "Point the service's URL at an address that accepts connections but never "
            "answers, send a burst of requests: each one waits for its timeout; nothing "
            "starts failing fast after the first few failures."
        ),
        fix=(
            "Per external service, {fix}: open after a run of failures (e.g. 5 in 10 s), "
            "fail fast while open, probe again after a cool-down."
        ),
        trade_off=(
            "Breakers need tuning per dependency and a fallback (an error message, a cached "
            "result, a disabled feature) for while they are open."
        ),
        effort_hours=(1.0, 3.0),
        languages=ops_util.LANGUAGES[language],
        experimental=True,
    )


def _check(language: str) -> Callable[[RepoContext], Iterator[Hit]]:
    def check_repo(repo: RepoContext) -> Iterator[Hit]:
        app = ops_util.served_app(repo, language)
        if app is None or ops_util.any_text(repo, ops_util.BREAKER):
            return
        files = [
            ctx
            for ctx in ops_util.code_files(repo, language)
            if not ctx.source.path.endswith((".tsx", ".jsx"))
            and not _BROWSER.search(ctx.source.text)
        ]
        call = next(
            (
                mark
                for ctx in files
                for mark in ops_util.marks(ctx, _CLIENT_CALL[language], code_only=True)
                if not _LOCAL.search(ctx.lines[mark.line - 1])
            ),
            None,
        )
        if call is None:
            return
        yield ops_util.hit(call, framework=app[1], call=call.text.rstrip("( "), fix=_FIX[language])

    return check_repo


RULES = [
    Rule(meta=_meta(language), doc=__doc__ or "", check_repo=_check(language))
    for language in ops_util.LANGUAGES
]
