"""Health or readiness endpoint that catches a failed check and still answers 200.

What it finds:
    A route handler (``@app.get``, ``@router.get``, ``@app.route``, ``@bp.route``,
    ``@routes.get``, ``@app.api_route``) whose path names a health or readiness probe
    (``/health``, ``/healthz``, ``/ready``, ``/readyz``, ``/readiness``; not ``/live``), that
    runs a check inside ``try`` and handles its failure in an ``except`` clause, and has no
    way to answer anything but 200: no ``raise``, no ``abort()``, no ``status_code`` /
    ``status=``, no ``(body, 503)`` tuple, and every ``return`` gives a plain body (a dict, a
    name, ``jsonify(...)``).

Why it matters:
    Orchestrators and load balancers (Kubernetes probes, ELB/ALB target groups, Docker
    HEALTHCHECK, uptime monitors) read the HTTP status, not the body. A probe that reports
    "database: error" inside a 200 response tells them the instance is ready, so traffic
    keeps going to an instance whose database, queue or dependency is down, and nothing
    restarts or drains it.

Example:
    @router.get("/health/ready")
    def ready():
        checks = {}
        try:
            db.execute("SELECT 1")
            checks["database"] = "ok"
        except sqlite3.Error as exc:
            checks["database"] = f"error: {exc}"
        return {"status": "ok", "checks": checks}

Use instead:
    @router.get("/health/ready")
    def ready(response: Response):
        ...
        ok = checks["database"] == "ok"
        response.status_code = 200 if ok else 503
        return {"status": "ok" if ok else "unavailable", "checks": checks}
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import tree_sitter

from vibe_audit.chunker.parsing import node_text
from vibe_audit.rules import syntax
from vibe_audit.rules.base import Hit, Rule, RuleMeta, node_hit
from vibe_audit.rules.context import FileContext
from vibe_audit.rules.pyflow import caught
from vibe_audit.schemas import Confidence, Severity

META = RuleMeta(
    id="health-check-always-ok",
    title="Health/readiness endpoint answers 200 even when its check fails",
    severity=Severity.MEDIUM,
    confidence=Confidence.MEDIUM,
    categories={"reliability": "Health Check", "guardrails": "Monitoring/Recovery"},
    checklist=["reliability.6.2"],
    problem=(
        "{function}() serves {route}: it catches the failure of its check (`except "
        "{caught}`) and still returns a normal body, so the endpoint answers HTTP 200 whether "
        "the check passed or not."
    ),
    scenario=(
        "The dependency {function}() checks goes down: the handler records the error in the "
        "body and answers 200, so the orchestrator or load balancer, which reads only the "
        "status, keeps the instance in rotation."
    ),
    impact=(
        "Requests keep being routed to an instance that cannot serve them, and no probe "
        "failure triggers a restart, a drain or an alert."
    ),
    how_to_verify=(
        "Stop the dependency {function}() checks (or point it at a wrong address) and "
        "request {route}: the status is 200."
    ),
    fix=(
        "Answer 503 when a check fails: set `response.status_code = 503` (FastAPI), return "
        "`(body, 503)` (Flask) or raise HTTPException(503), keeping the details in the body."
    ),
    trade_off=(
        "A probe that fails on a flaky dependency can take every instance out of rotation "
        "at once: check only what the instance needs to serve, with short timeouts."
    ),
    effort_hours=(0.25, 0.5),
)

_ROUTE_METHODS = frozenset({"get", "route", "api_route", "head", "add_api_route"})
_PROBE_PATH = re.compile(r"health|ready|readiness", re.I)
_LIVENESS = re.compile(r"live", re.I)
# Anything that can set a status other than 200.
_STATUS = re.compile(
    r"\braise\b|status_code|\bstatus\s*=|abort\(|HTTPStatus|SERVICE_UNAVAILABLE|"
    r"\b5\d\d\b|make_response|Response\(|set_status|\.status\s*="
)
_BODY_CALLS = frozenset({"jsonify", "dict", "JSONResponse", "ORJSONResponse", "UJSONResponse"})


def check_file(ctx: FileContext) -> Iterator[Hit]:
    if not _PROBE_PATH.search(ctx.source.text):
        return
    for definition in syntax.of_type(ctx.root, "decorated_definition"):
        function = definition.child_by_field_name("definition")
        if function is None or function.type != "function_definition":
            continue
        route = _probe_route(definition)
        if route is None:
            continue
        body = function.child_by_field_name("body")
        if body is None or _STATUS.search(node_text(body)):
            continue
        handler = _swallowing_handler(function)
        if handler is None or not _plain_returns(function):
            continue
        yield node_hit(
            ctx,
            handler,
            named_by=function,
            details={
                "function": syntax.function_name(function),
                "route": route,
                "caught": caught(handler) or "",
            },
        )


def _probe_route(definition: tree_sitter.Node) -> str | None:
    for decorator in (c for c in definition.named_children if c.type == "decorator"):
        call = next((c for c in decorator.named_children if c.type == "call"), None)
        if call is None:
            continue
        name = syntax.callee(call)
        if "." not in name or syntax.last_name(name) not in _ROUTE_METHODS:
            continue
        if _STATUS.search(node_text(call)):
            return None  # the route declares its own status
        args = syntax.positional_args(call)
        path = syntax.string_value(args[0]) if args else None
        if path and _PROBE_PATH.search(path) and not _LIVENESS.search(path):
            return path
    return None


def _swallowing_handler(function: tree_sitter.Node) -> tree_sitter.Node | None:
    """An except clause of the function's own body that handles the failure of a check
    (its try body calls something)."""
    for statement in syntax.body_nodes(function, "try_statement"):
        try_body = statement.child_by_field_name("body")
        if try_body is None or not any(True for _ in syntax.of_type(try_body, "call")):
            continue
        for clause in statement.named_children:
            if clause.type == "except_clause":
                return clause
    return None


def _plain_returns(function: tree_sitter.Node) -> bool:
    """Every return statement gives a body (a dict, a name, jsonify(...)), not a response
    built by a helper the rule cannot see into."""
    returns = list(syntax.body_nodes(function, "return_statement"))
    if not returns:
        return False
    for statement in returns:
        value = statement.named_children[0] if statement.named_children else None
        if value is None:
            return False
        if value.type in {"dictionary", "identifier", "string"}:
            continue
        if value.type == "call" and syntax.last_name(syntax.callee(value)) in _BODY_CALLS:
            continue
        return False
    return True


RULE = Rule(meta=META, doc=__doc__ or "", check_file=check_file)
