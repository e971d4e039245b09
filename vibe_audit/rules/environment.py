"""Infer the "Environment & Assumptions" each audit document asks for first, from repo facts.

A topic the facts settle is stated with its evidence (path:line). A topic they cannot settle
gets the audit's best-practice default and is marked Needs Confirmation.
"""

from __future__ import annotations

from collections.abc import Callable

from vibe_audit.rules.context import RepoFacts, Site
from vibe_audit.schemas import Assumption
from vibe_audit.schemas.audit_spec import AuditSpec

MAX_REFS = 3


def _refs(sites: list[Site]) -> list[str]:
    return [f"{s.path}:{s.line}" for s in sites[:MAX_REFS]]


Inferred = tuple[str, list[str]] | None


def _journal_mode(facts: RepoFacts) -> Inferred:
    if not facts.connect_sites:
        return None
    mode = facts.pragma_value("journal_mode")
    if mode:
        return f"{mode.upper()} (set by PRAGMA journal_mode)", _refs(
            [p.site for p in facts.pragmas["journal_mode"]]
        )
    return (
        "DELETE, the SQLite default: no PRAGMA journal_mode=WAL anywhere in the audited code",
        _refs(facts.connect_sites),
    )


def _busy_timeout(facts: RepoFacts) -> Inferred:
    if not facts.connect_sites:
        return None
    pragma = facts.pragma_value("busy_timeout")
    if pragma:
        return f"{pragma} ms (PRAGMA busy_timeout)", _refs(
            [p.site for p in facts.pragmas["busy_timeout"]]
        )
    if facts.connect_timeouts:
        return "timeout= passed to connect()", _refs(facts.connect_timeouts)
    return (
        "5 s, the Python sqlite3/aiosqlite default (no busy_timeout PRAGMA, no timeout= argument)",
        _refs(facts.connect_sites),
    )


def _sqlite_mode(facts: RepoFacts) -> Inferred:
    journal, timeout = _journal_mode(facts), _busy_timeout(facts)
    if journal is None or timeout is None:
        return None
    return f"journal: {journal[0]}; busy timeout: {timeout[0]}", journal[1]


def _pooling(facts: RepoFacts) -> Inferred:
    if not facts.connect_sites:
        return None
    in_functions = [s for s in facts.connect_sites if s.symbol]
    if in_functions:
        names = sorted({s.symbol or "" for s in in_functions})
        return (
            f"a new connection per call of {', '.join(names)}; no pool found",
            _refs(in_functions),
        )
    return "one module-level connection shared by all callers", _refs(facts.connect_sites)


def _async_driver(facts: RepoFacts) -> Inferred:
    drivers = [d for d in ("sqlite3", "aiosqlite") if d in facts.imports]
    if not drivers:
        return None
    note = " (blocking driver)" if drivers == ["sqlite3"] and facts.async_functions else ""
    return f"{' and '.join(drivers)}{note}; {facts.async_functions} async function(s)", []


def _transactions(facts: RepoFacts) -> Inferred:
    if not facts.connect_sites:
        return None
    if facts.begin_statements:
        return "explicit BEGIN statements", _refs(facts.begin_statements)
    return (
        "implicit: the driver's default deferred transactions, ended by "
        f"{facts.commit_calls} commit() call(s); no explicit BEGIN found",
        [],
    )


def _locking_mode(facts: RepoFacts) -> Inferred:
    if not facts.connect_sites:
        return None
    mode = facts.pragma_value("locking_mode")
    return (f"{mode.upper()} (PRAGMA locking_mode)" if mode else "NORMAL, the SQLite default"), []


def _checkpoint_writes(facts: RepoFacts) -> Inferred:
    if not facts.json_dump_sites:
        return None
    return (
        f"{len(facts.json_dump_sites)} JSON write site(s); "
        f"{len(facts.rename_sites)} atomic rename(s) (os.replace / os.rename)",
        _refs(facts.json_dump_sites),
    )


def _async_patterns(facts: RepoFacts) -> Inferred:
    if not facts.async_functions:
        return None
    locks = (
        f"{len(facts.lock_sites)} lock(s)" if facts.lock_sites else "no asyncio/threading/file lock"
    )
    return f"{facts.async_functions} async function(s); {locks}", _refs(facts.lock_sites)


def _http_clients(facts: RepoFacts) -> Inferred:
    clients = [c for c in ("requests", "httpx", "aiohttp", "urllib") if c in facts.imports]
    if not clients:
        return None
    notes = {"requests": "requests (no default timeout)", "urllib": "urllib (no default timeout)"}
    return ", ".join(notes.get(c, c) for c in clients), []


def _db_engine(facts: RepoFacts) -> Inferred:
    engines = [
        e
        for e in ("sqlite3", "aiosqlite", "sqlalchemy", "psycopg", "psycopg2", "asyncpg")
        if e in facts.imports
    ]
    return (", ".join(engines), _refs(facts.connect_sites)) if engines else None


def _constraints(facts: RepoFacts) -> Inferred:
    if not facts.schema_references and not facts.check_constraints:
        return None
    fk = facts.pragma_value("foreign_keys")
    enforced = "enforced (PRAGMA foreign_keys=ON)" if fk in {"on", "1"} else "NOT enforced"
    return (
        f"{len(facts.schema_references)} foreign-key declaration(s), {enforced}; "
        f"{len(facts.check_constraints)} CHECK constraint(s)",
        _refs(facts.schema_references + facts.check_constraints),
    )


INFER: dict[str, Callable[[RepoFacts], Inferred]] = {
    "journal_mode": _journal_mode,
    "busy_timeout": _busy_timeout,
    "sqlite_mode": _sqlite_mode,
    "pooling": _pooling,
    "async_driver": _async_driver,
    "transactions": _transactions,
    "locking_mode": _locking_mode,
    "checkpoint_writes": _checkpoint_writes,
    "write_patterns": _checkpoint_writes,
    "async_patterns": _async_patterns,
    "http_clients": _http_clients,
    "db_engine": _db_engine,
    "database": _sqlite_mode,
    "sqlite_usage": _pooling,
    "constraints": _constraints,
}


def infer_assumptions(spec: AuditSpec, facts: RepoFacts) -> list[Assumption]:
    assumptions = []
    for topic in spec.environment:
        infer = INFER.get(topic.key)
        inferred = infer(facts) if infer is not None else None
        if inferred is None:
            assumptions.append(
                Assumption(
                    topic=topic.text,
                    value=f"Needs Confirmation. Best-practice default: {topic.default}",
                    needs_confirmation=True,
                )
            )
        else:
            value, evidence = inferred
            assumptions.append(
                Assumption(
                    topic=topic.text, value=value, needs_confirmation=False, evidence=evidence
                )
            )
    return assumptions


# What each audit is about, as words its subject leaves in code (lower-cased). An audit
# whose words appear nowhere in the audited files does not apply: its checklist items are
# "not applicable", not "clean". Conservative: one mention anywhere keeps it applicable.
_SUBJECT_WORDS: dict[str, tuple[str, tuple[str, ...]]] = {
    "sqlite": ("no SQLite in the audited code", ("sqlite",)),
    "checkpoint": (
        "no state or checkpoint files written in the audited code",
        ("json.dump", "write_text(", "writefile", "serde_json", "localstorage", "pickle.dump",
         "persist", "checkpoint", "fs::write", "to_writer", "yaml.dump", "msgpack"),
    ),
    "guardrails": (
        "no database in the audited code",
        ("sqlite", "psycopg", "sqlalchemy", "insert into", "update ", "create table", "prisma",
         "sqlx", "diesel", "knex", "typeorm", "mongoose", "django.db", "pymongo", "asyncpg",
         "mysql", "postgres", "drizzle", "sequelize", "redis"),
    ),
}  # fmt: skip


def absent_subject(audit: str, texts: list[str]) -> str | None:
    """Why ``audit`` does not apply to code whose file texts are ``texts`` (no SQLite for the
    SQLite audit, ...), or None when it applies. concurrency and reliability always apply."""
    subject = _SUBJECT_WORDS.get(audit)
    if subject is None or not texts:
        return None
    reason, words = subject
    for text in texts:
        lowered = text.lower()
        if any(word in lowered for word in words):
            return None
    return reason
