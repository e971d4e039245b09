"""Evidence a rule's severity rests on: does the code run concurrently, is the state read back.

The audit documents reserve CRITICAL for failures that concurrency or a resume makes likely
(two writers, a crash mid-write of state a later run resumes from). A rule that cannot see
either in the code says so and reports at a lower severity; the finding carries the reason
in its own words (``Finding.severity_reason``).
"""

from __future__ import annotations

import re

from vibe_audit.rules.context import FileContext, RepoContext
from vibe_audit.schemas.resources import Resource

# Imports that mean the code runs with several threads, processes, tasks or requests at once.
# Primitives (threads, pools, asyncio) show it in the module that uses them; frameworks
# (servers, workers) also in every module they import: their handlers call into it.
PRIMITIVES = frozenset(
    {"threading", "concurrent", "multiprocessing", "asyncio", "trio", "anyio",
     "worker_threads", "cluster", "tokio", "rayon"}
)  # fmt: skip
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


def concurrency(ctx: FileContext, frameworks_only: bool = False) -> str | None:
    """Why this file's code may run concurrently, or None when nothing shows it: the file
    imports a threading / async / server / worker module, or defines async functions (with
    ``frameworks_only``, only a server or worker framework counts)."""
    for name in sorted(ctx.imports):
        if name in CONCURRENT_IMPORTS and not (frameworks_only and name in PRIMITIVES):
            return f"{ctx.source.path} uses {CONCURRENT_IMPORTS[name]} ({name})"
    if frameworks_only:
        return None
    if ctx.source.language == "python" and "async def " in ctx.source.text:
        return f"{ctx.source.path} defines async functions (concurrent tasks)"
    return None


def reaching_concurrency(ctx: FileContext, repo: RepoContext, depth: int = 3) -> str | None:
    """Why this file's code may run concurrently: its own imports, or a module that imports
    it, directly or through up to ``depth`` modules (server -> worker -> checkpoints), and
    runs a server or workers: its handlers call into it. A thread or event loop elsewhere,
    even in a module that imports this one, is not evidence that this code runs on it."""
    own = concurrency(ctx)
    if own is not None:
        return own
    seen = {ctx.source.path}
    frontier = [ctx]
    for _ in range(depth):
        importers = []
        for target in frontier:
            pattern = _import_pattern(target.source.path)
            if pattern is None:
                continue
            for other in repo.files:
                if other.source.path in seen or other.source.language != ctx.source.language:
                    continue
                if pattern.search(other.source.text):
                    seen.add(other.source.path)
                    reason = concurrency(other, frameworks_only=True)
                    if reason is not None:
                        via = "" if target is ctx else f" through {target.source.path}"
                        return f"{reason}, and it imports {ctx.source.path}{via}"
                    importers.append(other)
        frontier = importers
    return None


def _import_pattern(path: str) -> re.Pattern[str] | None:
    stem = _module_name(path)
    if not stem:
        return None
    return re.compile(
        rf"^\s*(?:from\s+[\w.]*\b{stem}\b[\w.]*\s+import|import\s+[\w.]*\b{stem}\b"
        rf"|from\s+[\w.]+\s+import\s+[^\n]*\b{stem}\b)",
        re.MULTILINE,
    )


def _module_name(path: str) -> str:
    parts = path.removesuffix(".py").split("/")
    name = parts[-2] if parts[-1] == "__init__" and len(parts) > 1 else parts[-1]
    return name if name.isidentifier() else ""


def named_files(repo: RepoContext, directories: bool = True) -> list[Resource]:
    """File (and, with ``directories``, checkpoint-directory) resources whose path pattern
    names something: a pattern with no literal part ('*', '{path}', '*/*') says nothing
    about which file it is, so linking its writers to its readers would join unrelated
    files."""
    kinds = ("file-path", "checkpoint-dir") if directories else ("file-path",)
    return [
        r
        for r in repo.resources.of_kind(*kinds)
        if re.sub(r"\{[^}]*\}|\*|/", "", r.name).strip(".")
    ]


def writes_in_place(resource: Resource) -> bool:
    """Some writer of the resource writes it without a rename (not an atomic replace)."""
    atomic = ("replace", "rename", "move", "atomic")
    return any(
        not any(word in op for op in w.operations for word in atomic) for w in resource.writers
    )
