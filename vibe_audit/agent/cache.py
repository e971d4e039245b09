"""The response cache: SQLite in WAL mode, one writer, named append-only migrations.

Every answer is stored the moment it arrives, keyed by provider, model, template version,
the request's content hash and the call parameters. An unchanged re-run makes no model
call, and a run killed at any point re-uses every answer it had already received.

All SQLite work runs on one dedicated thread (never on the event loop): sqlite3 blocks.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import sqlite3
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vibe_audit.errors import UserError

CACHE_ENV = "VIBE_AUDIT_CACHE_DIR"
OPEN_PATIENCE_S = 10.0
MIGRATIONS: list[tuple[str, str]] = [
    (
        "0001_answers",
        """CREATE TABLE answers (
            key TEXT PRIMARY KEY,
            provider TEXT NOT NULL,
            model TEXT NOT NULL,
            template_version TEXT NOT NULL,
            text TEXT NOT NULL,
            tokens_in INTEGER NOT NULL,
            tokens_out INTEGER NOT NULL,
            created_at REAL NOT NULL
        )""",
    ),
    (
        # Batches submitted by --batch and not yet collected: a restarted run resumes them
        # instead of paying twice. keys: JSON list of the answers' cache keys.
        "0002_batches",
        """CREATE TABLE batches (
            batch_id TEXT PRIMARY KEY,
            provider TEXT NOT NULL,
            model TEXT NOT NULL,
            keys TEXT NOT NULL,
            submitted_at REAL NOT NULL,
            ended_at REAL,
            state TEXT NOT NULL DEFAULT 'submitted'
        )""",
    ),
]


def default_cache_dir() -> Path:
    configured = os.environ.get(CACHE_ENV)
    if configured:
        return Path(configured)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "vibe-audit"


def cache_key(
    provider: str, model: str, template_version: str, content: str, params: dict[str, Any]
) -> str:
    blob = json.dumps(
        [provider, model, template_version, hashlib.sha256(content.encode()).hexdigest(), params],
        sort_keys=True,
    )
    return hashlib.sha256(blob.encode()).hexdigest()


@dataclass(frozen=True)
class PendingBatch:
    batch_id: str
    keys: list[str]
    submitted_at: float


class ResponseCache:
    def __init__(self, directory: Path) -> None:
        self.path = directory / "responses.sqlite3"
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="vibe-audit-cache")
        try:
            directory.mkdir(parents=True, exist_ok=True)
            self._db = self._executor.submit(self._open).result()
        except (OSError, sqlite3.Error) as exc:
            self._executor.shutdown()
            raise UserError(f"cannot open the response cache at {self.path}: {exc}") from exc

    def _open(self) -> sqlite3.Connection:
        """Connect, switch to WAL and apply the migrations. Several processes may do this
        to a new file at once: switching a new database to WAL can report "database is
        locked" at once, without waiting for the busy timeout, so the whole setup is retried
        with a short backoff for up to OPEN_PATIENCE_S."""
        deadline = time.monotonic() + OPEN_PATIENCE_S
        delay = 0.01
        while True:
            try:
                return self._setup()
            except sqlite3.OperationalError as exc:
                locked = "locked" in str(exc) or "busy" in str(exc)
                if not locked or time.monotonic() + delay > deadline:
                    raise
                time.sleep(delay)
                delay = min(delay * 2, 0.5)

    def _setup(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=5, isolation_level=None, check_same_thread=True)
        try:
            return self._migrate(db)
        except sqlite3.Error:
            db.close()
            raise

    def _migrate(self, db: sqlite3.Connection) -> sqlite3.Connection:
        db.execute("PRAGMA busy_timeout=5000")  # before anything that may wait for a lock
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.execute("CREATE TABLE IF NOT EXISTS migrations (name TEXT PRIMARY KEY, applied_at REAL)")
        for name, sql in MIGRATIONS:
            # Checked under the write lock: several processes opening a new cache at once
            # must not both apply one migration (the loser would fail "already exists").
            db.execute("BEGIN IMMEDIATE")
            try:
                done = db.execute("SELECT 1 FROM migrations WHERE name = ?", (name,)).fetchone()
                if done is None:
                    db.execute(sql)
                    db.execute("INSERT INTO migrations VALUES (?, ?)", (name, time.time()))
                db.execute("COMMIT")
            except sqlite3.Error:
                db.execute("ROLLBACK")
                raise
        return db

    async def get(self, key: str) -> tuple[str, int, int] | None:
        def read() -> tuple[str, int, int] | None:
            row = self._db.execute(
                "SELECT text, tokens_in, tokens_out FROM answers WHERE key = ?", (key,)
            ).fetchone()
            return (str(row[0]), int(row[1]), int(row[2])) if row else None

        return await asyncio.get_running_loop().run_in_executor(self._executor, read)

    async def put(
        self,
        key: str,
        provider: str,
        model: str,
        template_version: str,
        text: str,
        tokens_in: int,
        tokens_out: int,
    ) -> None:
        def write() -> None:
            with self._db:  # one short transaction per answer: a kill loses nothing received
                self._db.execute(
                    "INSERT OR REPLACE INTO answers VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        key,
                        provider,
                        model,
                        template_version,
                        text,
                        tokens_in,
                        tokens_out,
                        time.time(),
                    ),
                )

        await asyncio.get_running_loop().run_in_executor(self._executor, write)

    async def add_batch(self, batch_id: str, provider: str, model: str, keys: list[str]) -> None:
        def write() -> None:
            with self._db:
                self._db.execute(
                    "INSERT OR REPLACE INTO batches (batch_id, provider, model, keys, "
                    "submitted_at) VALUES (?, ?, ?, ?, ?)",
                    (batch_id, provider, model, json.dumps(keys), time.time()),
                )

        await asyncio.get_running_loop().run_in_executor(self._executor, write)

    async def pending_batches(self, provider: str, model: str) -> list[PendingBatch]:
        """Batches of this provider and model submitted and not yet collected, oldest first."""

        def read() -> list[PendingBatch]:
            rows = self._db.execute(
                "SELECT batch_id, keys, submitted_at FROM batches WHERE provider = ? AND "
                "model = ? AND ended_at IS NULL ORDER BY submitted_at",
                (provider, model),
            ).fetchall()
            return [PendingBatch(str(r[0]), list(json.loads(r[1])), float(r[2])) for r in rows]

        return await asyncio.get_running_loop().run_in_executor(self._executor, read)

    async def end_batch(self, batch_id: str, state: str) -> None:
        """Mark a batch collected (its answers are in the cache) or lost."""

        def write() -> None:
            with self._db:
                self._db.execute(
                    "UPDATE batches SET ended_at = ?, state = ? WHERE batch_id = ?",
                    (time.time(), state, batch_id),
                )

        await asyncio.get_running_loop().run_in_executor(self._executor, write)

    def count(self) -> int:
        return int(
            self._executor.submit(
                lambda: self._db.execute("SELECT COUNT(*) FROM answers").fetchone()[0]
            ).result()
        )

    def close(self) -> None:
        self._executor.submit(self._db.close).result()
        self._executor.shutdown()
