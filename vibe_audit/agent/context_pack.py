"""The repository-wide context pack, built once per audit and attached to its every request.

It makes cross-file defects visible from any one chunk: where SQLite connections are opened
and configured, which frameworks and drivers are in use, where checkpoints are written and
whether anything renames them into place. Each audit gets only the facts its checklist
uses (the SQLite audit has no use for JSON writes, the checkpoint audit none for PRAGMAs),
named in its template's front matter (``context_facts``), and every list is capped: the pack
is repeated in every request of the audit.
"""

from __future__ import annotations

from collections.abc import Callable

from vibe_audit.prompts import get_audit
from vibe_audit.rules.context import Pragma, RepoFacts, Site
from vibe_audit.schemas import AuditId
from vibe_audit.schemas.audit_spec import ContextFact

MAX_SITES = 6
MAX_PRAGMAS = 8  # PRAGMA names listed, one site each
MAX_FUNCTIONS = 12  # sync-SQLite function names listed
FRAMEWORKS = (
    "fastapi", "starlette", "flask", "django", "aiohttp", "sqlalchemy", "sqlmodel", "sqlite3",
    "aiosqlite", "psycopg", "psycopg2", "asyncpg", "redis", "celery", "requests", "httpx",
    "pydantic", "websockets",
    # JavaScript / TypeScript
    "express", "fastify", "koa", "hono", "next", "better-sqlite3", "bun:sqlite", "node:sqlite",
    "sqlite", "@prisma/client", "drizzle-orm", "pg", "ioredis", "bullmq", "axios",
    "ws", "socket.io", "zustand",
    # Rust
    "tokio", "axum", "actix_web", "warp", "hyper", "rusqlite", "sqlx", "diesel", "reqwest",
    "serde_json", "tempfile",
)  # fmt: skip


def _sites(sites: list[Site]) -> str:
    shown = [f"{s.path}:{s.line}" + (f" ({s.symbol})" if s.symbol else "") for s in sites]
    more = f" and {len(shown) - MAX_SITES} more" if len(shown) > MAX_SITES else ""
    return ", ".join(shown[:MAX_SITES]) + more if shown else "none found"


def _capped(items: list[str], cap: int, separator: str = ", ") -> str:
    more = f"{separator}and {len(items) - cap} more" if len(items) > cap else ""
    return separator.join(items[:cap]) + more


def _frameworks(facts: RepoFacts) -> str:
    imported = facts.imports | facts.other.imports
    frameworks = [f for f in FRAMEWORKS if f in imported]
    return f"- Frameworks and drivers imported: {', '.join(frameworks) or 'none of the known ones'}"


def _connections(facts: RepoFacts) -> str:
    return (
        f"- SQLite connections opened at: {_sites(facts.connect_sites + facts.other.connect_sites)}"
    )


def _timeouts(facts: RepoFacts) -> str:
    return f"- connect() calls with a timeout argument: {_sites(facts.connect_timeouts)}"


def _pragmas(facts: RepoFacts) -> str:
    pragmas = [
        f"{name}={found[0].value or '(read)'} at {found[0].site.path}:{found[0].site.line}"
        + (f" (+{len(found) - 1} more)" if len(found) > 1 else "")
        for name, found in sorted(_all_pragmas(facts).items())
        if found
    ]
    return f"- PRAGMAs set anywhere: {_capped(pragmas, MAX_PRAGMAS, '; ') or 'none'}"


def _all_pragmas(facts: RepoFacts) -> dict[str, list[Pragma]]:
    """Python's PRAGMAs, then those of the JavaScript/TypeScript and Rust files."""
    merged = {name: list(found) for name, found in facts.pragmas.items()}
    for name, found in facts.other.pragmas.items():
        merged.setdefault(name, []).extend(found)
    return merged


def _sync_db(facts: RepoFacts) -> str:
    names = sorted(facts.sync_db_functions)
    return "- Functions that open a sync SQLite connection (directly or through another): " + (
        _capped(names, MAX_FUNCTIONS) or "none"
    )


def _json_writes(facts: RepoFacts) -> str:
    sites = facts.json_dump_sites + facts.other.json_write_sites
    return f"- JSON writes (json.dump/dumps, JSON.stringify, serde_json::to_*): {_sites(sites)}"


def _renames(facts: RepoFacts) -> str:
    sites = facts.rename_sites + facts.other.rename_sites
    return f"- Atomic renames (os.replace / os.rename, fs.rename, fs::rename): {_sites(sites)}"


def _locks(facts: RepoFacts) -> str:
    return f"- Locks (asyncio / threading / file locks): {_sites(facts.lock_sites)}"


def _foreign_keys(facts: RepoFacts) -> str:
    references = facts.schema_references + facts.other.schema_references
    return f"- Foreign-key declarations: {_sites(references)}"


def _async(facts: RepoFacts) -> str:
    return f"- async functions: {facts.async_functions + facts.other.async_functions}"


Fact = Callable[[RepoFacts], str]
# Every fact a template's ``context_facts`` can name, in the order of the full pack.
FACTS: dict[ContextFact, Fact] = {
    "frameworks": _frameworks,
    "connections": _connections,
    "connect_timeouts": _timeouts,
    "pragmas": _pragmas,
    "sync_db_functions": _sync_db,
    "json_writes": _json_writes,
    "renames": _renames,
    "locks": _locks,
    "foreign_keys": _foreign_keys,
    "async_functions": _async,
}


def build_context_pack(facts: RepoFacts, audit: AuditId | None = None) -> str:
    """The facts ``audit``'s checklist uses, named in its template (every fact without an
    audit), one line each."""
    chosen = list(FACTS) if audit is None else get_audit(audit).context_facts
    return "\n".join(FACTS[name](facts) for name in chosen)


def context_packs(facts: RepoFacts, audits: list[AuditId]) -> dict[AuditId, str]:
    """One context pack per audit: identical for every request of that audit in a run."""
    return {audit: build_context_pack(facts, audit) for audit in audits}
