"""FastAPI application: wiring, startup and shutdown."""

from __future__ import annotations

import logging

from fastapi import FastAPI

from . import api, db, health, services
from .config import load_settings
from .checkpoints import cleanup_stale_tmp

logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
log = logging.getLogger("scanflow")

app = FastAPI(title="scanflow", version="0.4.2")
app.include_router(api.router)
app.include_router(health.router)


@app.on_event("startup")
def startup() -> None:
    settings = load_settings()
    settings.upload_dir.mkdir(parents=True, exist_ok=True)
    settings.checkpoint_dir.mkdir(parents=True, exist_ok=True)
    db.init_db(settings.db_path)
    cleanup_stale_tmp(settings.checkpoint_dir, settings.tmp_max_age_s)
    svc = services.build(settings)
    svc.workers.start()
    svc.reaper.start()
    log.info("scanflow started: %d workers, db pool %d", settings.worker_count, settings.db_pool_size)


@app.on_event("shutdown")
def shutdown() -> None:
    svc = services.get()
    svc.reaper.stop()
    svc.workers.stop()
    svc.ocr.close()
    svc.db_pool.close_all()
    db.close_shared()
    log.info("scanflow stopped")
