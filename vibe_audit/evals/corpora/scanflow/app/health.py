"""Liveness, readiness and metrics endpoints."""

from __future__ import annotations

import sqlite3

from fastapi import APIRouter

from . import db, repository, services

router = APIRouter(tags=["health"])


@router.get("/health/live")
async def live() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/health/ready")
def ready() -> dict[str, object]:
    svc = services.get()
    checks: dict[str, object] = {}
    try:
        conn = db.shared_connection()
        checks["queue"] = repository.queue_depth(conn)
        checks["database"] = "ok"
    except sqlite3.Error as exc:
        checks["database"] = f"error: {exc}"
    checks["workers_alive"] = svc.workers.alive()
    checks["db_pool_in_use"] = svc.db_pool.in_use()
    checks["ocr"] = "ok" if svc.ocr.ping() else "unreachable"
    return {"status": "ok", "checks": checks}


@router.get("/metrics")
def metrics() -> dict[str, object]:
    return services.get().metrics.snapshot()
