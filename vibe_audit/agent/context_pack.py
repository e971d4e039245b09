"""The repository-wide context pack, built once and attached to every request.

It makes cross-file defects visible from any one chunk: where SQLite connections are opened
and configured, which frameworks and drivers are in use, where checkpoints are written and
whether anything renames them into place.
"""

from __future__ import annotations

from vibe_audit.rules.context import RepoFacts, Site

MAX_SITES = 6
FRAMEWORKS = (
    "fastapi", "starlette", "flask", "django", "aiohttp", "sqlalchemy", "sqlmodel", "sqlite3",
    "aiosqlite", "psycopg", "psycopg2", "asyncpg", "redis", "celery", "requests", "httpx",
    "pydantic", "websockets",
)  # fmt: skip


def _sites(sites: list[Site]) -> str:
    shown = [f"{s.path}:{s.line}" + (f" ({s.symbol})" if s.symbol else "") for s in sites]
    more = f" and {len(shown) - MAX_SITES} more" if len(shown) > MAX_SITES else ""
    return ", ".join(shown[:MAX_SITES]) + more if shown else "none found"


def build_context_pack(facts: RepoFacts) -> str:
    frameworks = [f for f in FRAMEWORKS if f in facts.imports]
    pragmas = [
        f"{name}={p.value or '(read)'} at {p.site.path}:{p.site.line}"
        for name, found in sorted(facts.pragmas.items())
        for p in found[:2]
    ]
    lines = [
        f"- Frameworks and drivers imported: {', '.join(frameworks) or 'none of the known ones'}",
        f"- SQLite connections opened at: {_sites(facts.connect_sites)}",
        f"- connect() calls with a timeout argument: {_sites(facts.connect_timeouts)}",
        f"- PRAGMAs set anywhere: {'; '.join(pragmas) or 'none'}",
        "- Functions that open a sync SQLite connection (directly or through another): "
        + (", ".join(sorted(facts.sync_db_functions)) or "none"),
        f"- JSON writes (json.dump/dumps): {_sites(facts.json_dump_sites)}",
        f"- Atomic renames (os.replace / os.rename / Path.replace): {_sites(facts.rename_sites)}",
        f"- Locks (asyncio / threading / file locks): {_sites(facts.lock_sites)}",
        f"- Foreign-key declarations: {_sites(facts.schema_references)}",
        f"- async functions: {facts.async_functions}",
    ]
    return "\n".join(lines)
