"""Served web application with no health or liveness route.

What it finds:
    A repository that serves a web application (FastAPI, Flask, Starlette, Quart, Sanic,
    aiohttp, Django ``urlpatterns``; express, fastify, Koa, Hono, NestJS, ``Bun.serve``,
    ``Deno.serve``, Next.js route handlers; actix-web, axum, warp, Rocket, poem) where no
    route path names a probe (``/health``, ``/healthz``, ``/live``, ``/livez``, ``/ping``,
    ``/status``, ``/ready``), no probe library is used (fastapi-health, django-health-check,
    @godaddy/terminus, lightship, @nestjs/terminus) and no container ``HEALTHCHECK`` or
    Kubernetes ``livenessProbe`` is declared. One finding per repository, at the line that
    creates the application. Test, example, docs and script files are not read.

Why it matters:
    Orchestrators, load balancers and uptime monitors need a cheap endpoint that answers
    200 while the process can still serve. Without one they probe a real endpoint (slow, with
    side effects, behind authentication) or nothing at all, so a wedged process (a
    deadlocked event loop, an exhausted thread pool) stays in rotation and is never
    restarted.

Example:
    app = FastAPI()

    @app.post("/orders")
    def create_order(order: Order): ...

Use instead:
    app = FastAPI()

    @app.get("/health/live")
    def live():
        return {"status": "alive"}   # no dependencies: only "the process answers"
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from vibe_audit.rules import ops_util
from vibe_audit.rules.base import Hit, Rule, RuleMeta
from vibe_audit.rules.context import RepoContext
from vibe_audit.schemas import Confidence, Severity

_EXAMPLE = {
    "python": '@app.get("/health/live")\n    def live():\n        return {"status": "alive"}',
    "js": 'app.get("/health/live", (_req, res) => res.json({ status: "alive" }));',
    "rust": 'Router::new().route("/health/live", get(|| async { "alive" }))',
}


def _meta(language: str) -> RuleMeta:
    return RuleMeta(
        id=f"{ops_util.PREFIX[language]}no-liveness-route",
        title="Served web application has no health or liveness route",
        severity=Severity.MONITOR,
        confidence=Confidence.MEDIUM,
        categories={"reliability": "Health Check"},
        checklist=["reliability.6.1"],
        problem=(
            "The {framework} application created here serves requests, and no route of the "
            "repository answers a health or liveness probe (/health, /healthz, /live, "
            "/ping, /status), nor is a container HEALTHCHECK or livenessProbe declared."
        ),
        scenario=(
            "The process wedges (a blocked event loop, an exhausted worker pool) but keeps "
            "its port open: with no probe endpoint the orchestrator or load balancer cannot "
            "tell, keeps routing requests to it and never restarts it."
        ),
        impact=(
            "Requests time out against a dead instance until someone notices by hand; "
            "monitors that probe a real endpoint add load and false alarms instead."
        ),
        how_to_verify=(
            "List the application's routes: none answers a probe path; check the "
            "deployment (Dockerfile, Kubernetes manifest) for a HEALTHCHECK or "
            "livenessProbe pointing elsewhere."
        ),
        fix=(
            "Add a dependency-free liveness route and point the orchestrator at it:\n    "
            + _EXAMPLE[language]
        ),
        trade_off=(
            "None for liveness; keep it free of database or network checks, which belong in "
            "a separate readiness route."
        ),
        effort_hours=(0.25, 0.5),
        languages=ops_util.LANGUAGES[language],
        experimental=True,
    )


def _check(language: str) -> Callable[[RepoContext], Iterator[Hit]]:
    def check_repo(repo: RepoContext) -> Iterator[Hit]:
        app = ops_util.served_app(repo, language)
        if app is None:
            return
        if ops_util.probe_covered(repo) or any(
            ops_util.health_routes(repo, other) for other in ops_util.LANGUAGES
        ):
            return
        mark, framework = app
        yield ops_util.hit(mark, framework=framework)

    return check_repo


RULES = [
    Rule(meta=_meta(language), doc=__doc__ or "", check_repo=_check(language))
    for language in ops_util.LANGUAGES
]
