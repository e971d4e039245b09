"""Health or readiness route that catches a failed check and still answers 200 (TS/JS, Rust).

What it finds:
    A route whose path names a health or readiness probe (``/health``, ``/healthz``,
    ``/ready``, ``/readyz``, ``/readiness``; not ``/live`` or ``/ping``) whose handler,
    as far as the rule can read it (an inline handler, or a named function of the
    repository), handles the failure of its check and has no way to answer anything but
    200. TypeScript/JavaScript: a ``catch`` (``try``/``catch`` or ``.catch(...)``) and no
    ``res.status(...)``, ``sendStatus``, ``statusCode``, ``reply.code``, ``ctx.status``,
    ``{ status: 503 }``, ``throw`` or 5xx number anywhere in the handler. Rust: an error
    branch (``Err(_) =>``, ``is_err()``, ``is_ok()``, ``unwrap_or``, ``.ok()``) in a handler
    that does not return ``Result``, has no ``?`` and names no 5xx status
    (``StatusCode::SERVICE_UNAVAILABLE``, ``HttpResponse::ServiceUnavailable()``, ``503``).

Why it matters:
    Orchestrators and load balancers (Kubernetes probes, ELB/ALB target groups, Docker
    HEALTHCHECK, uptime monitors) read the HTTP status, not the body. A probe that reports
    "database: error" inside a 200 response tells them the instance is ready, so traffic
    keeps going to an instance whose database, queue or dependency is down, and nothing
    restarts or drains it.

Example:
    app.get("/health/ready", async (_req, res) => {
      let database = "ok";
      try { await pool.query("SELECT 1"); } catch (err) { database = `error: ${err}`; }
      res.json({ status: "ok", database });
    });

Use instead:
    app.get("/health/ready", async (_req, res) => {
      try {
        await pool.query("SELECT 1");
        res.json({ status: "ok" });
      } catch (err) {
        res.status(503).json({ status: "unavailable", database: String(err) });
      }
    });
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

from vibe_audit.rules import ops_util
from vibe_audit.rules.base import Hit, Rule, RuleMeta
from vibe_audit.rules.context import RepoContext
from vibe_audit.schemas import Confidence, Severity

_PROBE = re.compile(r"(?i)health|ready|readiness")
_LIVENESS = re.compile(r"(?i)live|ping")
_HANDLES = {
    "js": re.compile(r"\bcatch\b"),
    "rust": re.compile(r"\bErr\s*\(|\.is_err\(\)|\.is_ok\(\)|\.unwrap_or|\.ok\(\)"),
}
# Anything that can answer a status other than 200.
_STATUS = {
    "js": re.compile(
        r"\.status\s*\(|sendStatus|statusCode|\.code\s*\(|\bstatus\s*[:=]\s*\d|ctx\.status|"
        r"\bthrow\b|\b5\d\d\b|HttpStatus|SERVICE_UNAVAILABLE|writeHead|next\s*\(\s*\w|"
        r"\.json\([^;]*,\s*\w+\s*\)"
    ),
    "rust": re.compile(
        r"StatusCode::(?!OK\b)\w+|ServiceUnavailable|InternalServerError|\b5\d\d\b|\?|"
        r"\bResult\s*<|\bstatus\s*\(|return\s+Err|=>\s*Err"
    ),
}
_FIX = {
    "js": "answer 503 when a check fails (`res.status(503).json(...)`, `reply.code(503)`, "
    "`c.json(body, 503)`), keeping the details in the body",
    "rust": "answer 503 when a check fails (`(StatusCode::SERVICE_UNAVAILABLE, Json(body))`, "
    "`HttpResponse::ServiceUnavailable()`), keeping the details in the body",
}


def _meta(language: str) -> RuleMeta:
    return RuleMeta(
        id=f"{ops_util.PREFIX[language]}health-check-always-ok",
        title="Health/readiness endpoint answers 200 even when its check fails",
        severity=Severity.MEDIUM,
        confidence=Confidence.MEDIUM,
        categories={"reliability": "Health Check", "guardrails": "Monitoring/Recovery"},
        checklist=["reliability.6.2"],
        problem=(
            "The handler of {route} handles the failure of its check and still answers "
            "normally: nothing in it sets a status other than 200."
        ),
        scenario=(
            "The dependency the handler checks goes down: it records the error in the body "
            "and answers 200, so the orchestrator or load balancer, which reads only the "
            "status, keeps the instance in rotation."
        ),
        impact=(
            "Requests keep being routed to an instance that cannot serve them, and no probe "
            "failure triggers a restart, a drain or an alert."
        ),
        how_to_verify=(
            "Stop the dependency the handler checks (or point it at a wrong address) and "
            "request {route}: the status is 200."
        ),
        fix="In the handler of {route}, {fix}.",
        trade_off=(
            "A probe that fails on a flaky dependency can take every instance out of rotation "
            "at once: check only what the instance needs to serve, with short timeouts."
        ),
        effort_hours=(0.25, 0.5),
        languages=ops_util.LANGUAGES[language],
        experimental=True,
    )


def _check(language: str) -> Callable[[RepoContext], Iterator[Hit]]:
    def check_repo(repo: RepoContext) -> Iterator[Hit]:
        for route in ops_util.health_routes(repo, language):
            if not _PROBE.search(route.text) or _LIVENESS.search(route.text):
                continue
            handler = ops_util.handler_text(repo, route, language)
            if handler is None or not _HANDLES[language].search(handler):
                continue
            if _STATUS[language].search(handler.replace(route.text, "")):
                continue
            yield ops_util.hit(route, route=route.text, fix=_FIX[language])
            return

    return check_repo


RULES = [
    Rule(meta=_meta(language), doc=__doc__ or "", check_repo=_check(language))
    for language in ("js", "rust")
]
