"""Several processes opening a new response cache at the same moment all succeed: each
migration is checked and applied under the write lock, so none is applied twice (the loser
used to fail with "table batches already exists", reported as a usage error)."""

from __future__ import annotations

import multiprocessing
import sqlite3
from multiprocessing.synchronize import Barrier
from pathlib import Path

from vibe_audit.agent.cache import MIGRATIONS, ResponseCache

PROCESSES = 3
TRIALS = 25


def _open(directory: str, barrier: Barrier, results: multiprocessing.Queue[str]) -> None:
    barrier.wait()
    try:
        ResponseCache(Path(directory))
        results.put("ok")
    except Exception as exc:  # reported to the parent, which fails the test with it
        results.put(f"{type(exc).__name__}: {exc}")


def test_concurrent_first_opens_never_apply_a_migration_twice(tmp_path: Path) -> None:
    context = multiprocessing.get_context("fork")
    for trial in range(TRIALS):
        directory = tmp_path / f"cache-{trial}"
        barrier = context.Barrier(PROCESSES)
        results: multiprocessing.Queue[str] = context.Queue()
        workers = [
            context.Process(target=_open, args=(str(directory), barrier, results))
            for _ in range(PROCESSES)
        ]
        for worker in workers:
            worker.start()
        outcomes = [results.get(timeout=60) for _ in workers]
        for worker in workers:
            worker.join(timeout=60)
        assert outcomes == ["ok"] * PROCESSES, (trial, outcomes)
        db = sqlite3.connect(directory / "responses.sqlite3")
        applied = [row[0] for row in db.execute("SELECT name FROM migrations ORDER BY name")]
        db.close()
        assert applied == [name for name, _ in MIGRATIONS]
