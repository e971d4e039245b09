"""Background threads: workers that claim queued jobs and run the pipeline, and the reaper."""

from __future__ import annotations

import logging
import threading
import time

from . import db, repository
from .config import Settings
from .db import ConnectionPool
from .metrics import Metrics
from .models import Job
from .pipeline import Pipeline

log = logging.getLogger(__name__)


class WorkerPool:
    def __init__(
        self, db_pool: ConnectionPool, pipeline: Pipeline, metrics: Metrics, count: int, poll_interval_s: float
    ) -> None:
        self._db_pool = db_pool
        self._pipeline = pipeline
        self._metrics = metrics
        self._count = count
        self._poll_interval_s = poll_interval_s
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        for i in range(self._count):
            t = threading.Thread(target=self._loop, name=f"worker-{i}", daemon=True)
            t.start()
            self._threads.append(t)
        log.info("started %d workers", self._count)

    def stop(self) -> None:
        self._stop.set()

    def alive(self) -> int:
        return sum(1 for t in self._threads if t.is_alive())

    def _loop(self) -> None:
        name = threading.current_thread().name
        while not self._stop.is_set():
            job = self._claim(name)
            if job is None:
                self._stop.wait(self._poll_interval_s)
                continue
            self._handle(job)
        log.info("%s stopped", name)

    def _claim(self, name: str) -> Job | None:
        with self._db_pool.connection() as conn:
            return repository.claim_next_job(conn, name)

    def _handle(self, job: Job) -> None:
        log.info("job %s: processing document %s (attempt %d)", job.id, job.document_id, job.attempts)
        started = time.monotonic()
        with self._db_pool.connection() as conn:
            try:
                self._pipeline.run(conn, job)
                self._metrics.incr("jobs_completed")
            except Exception as exc:
                log.exception("job %s failed", job.id)
                repository.fail_job(conn, job.id, f"{type(exc).__name__}: {exc}")
                self._metrics.incr("jobs_failed")
            finally:
                self._metrics.observe("job_seconds", time.monotonic() - started)


class Reaper(threading.Thread):
    def __init__(self, settings: Settings, metrics: Metrics) -> None:
        super().__init__(name="reaper", daemon=True)
        self._settings = settings
        self._metrics = metrics
        self._stopping = threading.Event()

    def run(self) -> None:
        while not self._stopping.wait(self._settings.reaper_interval_s):
            try:
                conn = db.shared_connection()
                n = repository.requeue_stuck(conn, self._settings.stuck_after_s)
                if n:
                    log.warning("requeued %d stuck jobs", n)
                    self._metrics.incr("jobs_requeued", n)
            except Exception:
                log.exception("reaper pass failed")

    def stop(self) -> None:
        self._stopping.set()
