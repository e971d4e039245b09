"""Process-wide singletons, built once at startup."""

from __future__ import annotations

from dataclasses import dataclass

from .checkpoints import CheckpointStore
from .config import Settings
from .db import ConnectionPool
from .metrics import Metrics
from .ocr_client import OcrClient
from .pipeline import Pipeline
from .worker import Reaper, WorkerPool


@dataclass
class Services:
    settings: Settings
    db_pool: ConnectionPool
    store: CheckpointStore
    ocr: OcrClient
    metrics: Metrics
    workers: WorkerPool
    reaper: Reaper


_services: Services | None = None


def build(settings: Settings) -> Services:
    global _services
    metrics = Metrics()
    db_pool = ConnectionPool(settings.db_pool_size)
    store = CheckpointStore(settings.checkpoint_dir)
    ocr = OcrClient(settings)
    pipeline = Pipeline(settings, store, ocr, metrics)
    workers = WorkerPool(db_pool, pipeline, metrics, settings.worker_count, settings.poll_interval_s)
    _services = Services(settings, db_pool, store, ocr, metrics, workers, Reaper(settings, metrics))
    return _services


def get() -> Services:
    if _services is None:
        raise RuntimeError("services not started")
    return _services
