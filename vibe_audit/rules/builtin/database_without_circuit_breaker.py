"""Served application writes its database, and nothing trips on repeated failures.

What it finds:
    A repository that serves a web application, opens its own database and writes to it
    (INSERT / UPDATE / DELETE statements, ``commit()``, ORM saves), while nothing in the
    repository is a circuit breaker or a failure threshold: no breaker library (pybreaker,
    aiobreaker, purgatory; opossum, cockatiel; failsafe, recloser), no class, struct or
    setting named after a breaker, ``consecutive_failures``, ``failure_threshold`` or
    ``max_failures``. One finding per repository, at the line that opens the database.
    Test, example, docs and script files are not read.

Why it matters:
    When the database is locked, full or unreachable, every request still tries to write:
    each waits for its busy or connect timeout, retries pile onto the lock holder, and
    request workers are tied up waiting. A breaker that opens after a run of lock or
    connection failures answers at once (503, read-only mode, a queue for later) and lets
    the database recover.

Example:
    def save(order):
        with engine.begin() as conn:
            conn.execute(insert(orders).values(**order))

Use instead:
    db_breaker = pybreaker.CircuitBreaker(fail_max=10, reset_timeout=5,
                                          exclude=[IntegrityError])

    @db_breaker
    def save(order):
        with engine.begin() as conn:
            conn.execute(insert(orders).values(**order))
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from vibe_audit.rules import ops_util
from vibe_audit.rules.base import Hit, Rule, RuleMeta
from vibe_audit.rules.context import RepoContext
from vibe_audit.schemas import Confidence, Severity


def _meta(language: str) -> RuleMeta:
    return RuleMeta(
        id=f"{ops_util.PREFIX[language]}database-without-circuit-breaker",
        title="Database writes from a served application with no circuit breaker",
        severity=Severity.MONITOR,
        confidence=Confidence.LOW,
        categories={"reliability": "Circuit Breaker", "guardrails": "Monitoring/Recovery"},
        checklist=["reliability.3.2", "guardrails.10A"],
        problem=(
            "The {framework} application writes to its database (opened with "
            "`{database}`), and nothing stops it from hammering the database when writes "
            "keep failing on locks or connections: no circuit breaker or failure threshold "
            "exists."
        ),
        scenario=(
            "The database is locked by a long write, out of connections or restarting: "
            "every request still attempts its write, waits for the busy or connect "
            "timeout, and the waiting requests pile up behind the failing database."
        ),
        impact=(
            "Request workers are exhausted waiting on the database, the whole service "
            "stalls instead of degrading, and the retry load slows the database's recovery."
        ),
        how_to_verify=(
            "Hold a write lock on the database (or stop it) and send a burst of write "
            "requests: each waits for the full timeout; none fails fast."
        ),
        fix=(
            "Wrap the write path in a breaker that opens after a run of lock or connection "
            "errors (not constraint violations), answers 503 or switches to read-only "
            "while open, and closes after a few successful writes."
        ),
        trade_off=(
            "A breaker adds a state to reason about and must exclude data errors "
            "(constraint violations) from its failure count, or bad input opens it."
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
        database = ops_util.database(repo, language)
        if database is None or not ops_util.writes_database(repo, language):
            return
        yield ops_util.hit(database, framework=app[1], database=database.text.rstrip("( "))

    return check_repo


RULES = [
    Rule(meta=_meta(language), doc=__doc__ or "", check_repo=_check(language))
    for language in ops_util.LANGUAGES
]
