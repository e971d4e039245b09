"""Evidence a rule's severity rests on: does the code run concurrently, is the state read back.

The audit documents reserve CRITICAL for failures that concurrency or a resume makes likely
(two writers, a crash mid-write of state a later run resumes from). A rule that cannot see
either in the code says so and reports at a lower severity (``severity_from_evidence``); the
finding carries the reason in its own words (``Finding.severity_reason``).
"""

from __future__ import annotations

from vibe_audit.rules.context import FileContext, RepoContext
from vibe_audit.schemas import Severity

# Imports that mean the code runs with several threads, processes, tasks or requests at once.
CONCURRENT_IMPORTS: dict[str, str] = {
    "threading": "threads",
    "concurrent": "a thread or process pool",
    "multiprocessing": "several processes",
    "asyncio": "asyncio tasks",
    "trio": "trio tasks",
    "anyio": "async tasks",
    "fastapi": "a FastAPI server (concurrent requests)",
    "starlette": "a Starlette server (concurrent requests)",
    "flask": "a Flask server (concurrent requests)",
    "django": "a Django server (concurrent requests)",
    "aiohttp": "an aiohttp server or client tasks",
    "tornado": "a Tornado server",
    "sanic": "a Sanic server",
    "quart": "a Quart server",
    "celery": "Celery workers",
    "rq": "RQ workers",
    "huey": "Huey workers",
    "dramatiq": "Dramatiq workers",
    "apscheduler": "a scheduler running jobs",
    "gunicorn": "gunicorn workers",
    "uvicorn": "a uvicorn server",
    # JavaScript / TypeScript and Rust
    "worker_threads": "worker threads",
    "cluster": "several processes (cluster)",
    "express": "an Express server (concurrent requests)",
    "fastify": "a Fastify server (concurrent requests)",
    "ws": "a websocket server",
    "tokio": "tokio tasks",
    "rayon": "a thread pool (rayon)",
    "actix_web": "an actix-web server",
    "axum": "an axum server",
}


def concurrency(ctx: FileContext, repo: RepoContext | None = None) -> str | None:
    """Why this file's code may run concurrently, or None when nothing shows it: the file
    imports a threading / async / server / worker module, or defines async functions."""
    for name in sorted(ctx.imports):
        if name in CONCURRENT_IMPORTS:
            return f"{ctx.source.path} uses {CONCURRENT_IMPORTS[name]} ({name})"
    if ctx.source.language == "python" and "async def " in ctx.source.text:
        return f"{ctx.source.path} defines async functions (concurrent tasks)"
    return None


def repo_concurrency(repo: RepoContext) -> str | None:
    """The first file of the repository whose code shows concurrency, as a reason."""
    for ctx in repo.files:
        reason = concurrency(ctx)
        if reason is not None:
            return reason
    return None


def at_most(severity: Severity, cap: Severity) -> Severity:
    """``severity``, lowered to ``cap`` when it is above it."""
    order = list(Severity)  # most severe first
    return severity if order.index(severity) >= order.index(cap) else cap
