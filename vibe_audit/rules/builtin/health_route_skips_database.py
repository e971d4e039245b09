"""Served application with its own database, and no health route that checks it.

What it finds:
    A repository that serves a web application and opens its own database (sqlite3,
    SQLAlchemy, psycopg, asyncpg, Django models; better-sqlite3, pg, mysql2, Prisma,
    Mongoose, Sequelize, TypeORM, Knex, Drizzle; sqlx pools, rusqlite, diesel, sea-orm,
    tokio-postgres) where either no route answers a health probe, or every health route's
    handler that the rule can read never mentions the database (no query, no ``SELECT 1``,
    no pool, session, connection or ping). Handlers in another module that the rule cannot
    resolve count as checking. One finding per repository: at the first health route, or
    at the database open when there is none.

Why it matters:
    A health endpoint that answers 200 while the database is locked, full, unreachable or
    out of connections tells the orchestrator and the monitors that the service is fine.
    Every request that needs the database then fails, and nothing drains the instance,
    alerts on it or restarts it.

Example:
    engine = create_engine(DATABASE_URL)

    @app.get("/health")
    def health():
        return {"status": "ok"}

Use instead:
    @app.get("/health/database")
    def database_health(response: Response):
        try:
            with engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            return {"database": "ok"}
        except SQLAlchemyError as exc:
            response.status_code = 503
            return {"database": f"error: {exc}"}
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

from vibe_audit.rules import ops_util
from vibe_audit.rules.base import Hit, Rule, RuleMeta
from vibe_audit.rules.context import RepoContext
from vibe_audit.schemas import Confidence, Severity

# Anything a handler could check the database through (lenient: any such word is silence).
_TOUCHES = re.compile(
    r"(?i)(db|database|pool|conn|session|engine|execute|query|select\s+1|ping|prisma|sqlx|"
    r"knex|sequelize|mongoose|mongo|redis|sqlite|postgres|store|storage|repo|dao|check|"
    r"probe|depend|model|migrat)"
)
_LIVENESS = re.compile(r"(?i)live|alive|ping|heartbeat")


def _meta(language: str) -> RuleMeta:
    return RuleMeta(
        id=f"{ops_util.PREFIX[language]}health-route-skips-database",
        title="No health route checks the application's database",
        severity=Severity.MONITOR,
        confidence=Confidence.MEDIUM,
        categories={"guardrails": "Monitoring/Recovery", "reliability": "Health Check"},
        checklist=["guardrails.8C"],
        problem=(
            "The application opens its own database ({database}) and {where}: nothing "
            "reports the database's health over HTTP."
        ),
        scenario=(
            "The database becomes unreachable, locked or out of connections: the service "
            "keeps answering its probes, so monitors stay green and the orchestrator keeps "
            "routing requests that all fail on their first query."
        ),
        impact=(
            "Database outages are found by users instead of monitors; nothing drains or "
            "restarts the affected instances."
        ),
        how_to_verify=(
            "Stop the database (or lock the SQLite file, or exhaust the pool) and request "
            "the health routes: they still answer 200."
        ),
        fix=(
            "Add a database health route (e.g. GET /health/database or the readiness "
            "route) that runs a cheap query such as `SELECT 1` with a short timeout and "
            "answers 503 when it fails."
        ),
        trade_off=(
            "A readiness probe that fails on the database takes every instance out of "
            "rotation during an outage; keep the liveness probe dependency-free so "
            "instances are not restarted in a loop."
        ),
        effort_hours=(0.5, 1.0),
        languages=ops_util.LANGUAGES[language],
        experimental=True,
    )


def _check(language: str) -> Callable[[RepoContext], Iterator[Hit]]:
    def check_repo(repo: RepoContext) -> Iterator[Hit]:
        if ops_util.served_app(repo, language) is None:
            return
        database = ops_util.database(repo, language)
        if database is None or ops_util.probe_covered(repo):
            return
        routes = ops_util.health_routes(repo, language)
        if not routes:
            yield ops_util.hit(
                database,
                database=database.text.rstrip("( "),
                where="no route of the repository answers a health probe",
            )
            return
        skipping = []
        for route in routes:
            handler = ops_util.handler_text(repo, route, language)
            if handler is None or _TOUCHES.search(_without_route(handler, route.text)):
                return  # a health route that (maybe) checks the database
            skipping.append(route)
        probes = [r for r in skipping if not _LIVENESS.search(r.text)]
        if probes:
            yield ops_util.hit(
                probes[0],
                database=database.text.rstrip("( "),
                where=f"its health route {probes[0].text} never touches it",
            )
        else:  # liveness routes only, which rightly check nothing
            yield ops_util.hit(
                database,
                database=database.text.rstrip("( "),
                where=f"its only probe routes are liveness ones ({skipping[0].text})",
            )

    return check_repo


_PROBE_WORD = re.compile(r"(?i)\w*(health|ready|live|alive|ping|status|heartbeat)\w*")


def _without_route(handler: str, route: str) -> str:
    """The handler's text without its route and probe names (``def healthcheck``)."""
    return _PROBE_WORD.sub("", handler.replace(route, ""))


RULES = [
    Rule(meta=_meta(language), doc=__doc__ or "", check_repo=_check(language))
    for language in ops_util.LANGUAGES
]
