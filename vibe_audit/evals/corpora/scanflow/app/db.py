"""SQLite access: schema, connection setup, a small pool for sync code, async helper."""

from __future__ import annotations

import logging
import queue
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import aiosqlite

log = logging.getLogger(__name__)

SCHEMA = """
CREATE TABLE IF NOT EXISTS documents (
    id           INTEGER PRIMARY KEY,
    filename     TEXT NOT NULL,
    sha256       TEXT NOT NULL,
    storage_path TEXT NOT NULL,
    status       TEXT NOT NULL DEFAULT 'uploaded',
    page_count   INTEGER,
    doc_type     TEXT,
    created_at   TEXT NOT NULL DEFAULT (datetime('now'))
);
CREATE INDEX IF NOT EXISTS idx_documents_sha ON documents (sha256);

CREATE TABLE IF NOT EXISTS jobs (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    document_id INTEGER NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
    status      TEXT NOT NULL DEFAULT 'queued',
    stage       TEXT,
    worker      TEXT,
    attempts    INTEGER NOT NULL DEFAULT 0,
    error       TEXT,
    created_at  TEXT NOT NULL DEFAULT (datetime('now')),
    started_at  TEXT,
    finished_at TEXT
);
CREATE INDEX IF NOT EXISTS idx_jobs_status ON jobs (status, created_at);

CREATE TABLE IF NOT EXISTS pages (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    document_id INTEGER NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
    page_no     INTEGER NOT NULL,
    text        TEXT NOT NULL,
    confidence  REAL
);
CREATE INDEX IF NOT EXISTS idx_pages_doc ON pages (document_id, page_no);
"""

_db_path: Path | None = None
_shared: sqlite3.Connection | None = None


def _configure(conn: sqlite3.Connection) -> sqlite3.Connection:
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA busy_timeout=5000")
    conn.execute("PRAGMA foreign_keys=ON")
    # writes are small and frequent; skip the fsync on every commit
    conn.execute("PRAGMA synchronous=OFF")
    return conn


def connect(path: Path | None = None) -> sqlite3.Connection:
    target = path or _db_path
    if target is None:
        raise RuntimeError("database not initialised")
    return _configure(sqlite3.connect(target, check_same_thread=False))


def init_db(path: Path) -> None:
    global _db_path
    _db_path = path
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = connect(path)
    try:
        conn.executescript(SCHEMA)
        conn.commit()
    finally:
        conn.close()
    log.info("database ready at %s", path)


def shared_connection() -> sqlite3.Connection:
    """One long-lived connection for lightweight housekeeping queries."""
    global _shared
    if _shared is None:
        _shared = connect()
    return _shared


def close_shared() -> None:
    global _shared
    if _shared is not None:
        _shared.close()
        _shared = None


class ConnectionPool:
    """Fixed-size pool of sqlite3 connections shared by the API and the workers."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._idle: queue.Queue[sqlite3.Connection] = queue.Queue(maxsize=size)
        for _ in range(size):
            self._idle.put(connect())

    def acquire(self) -> sqlite3.Connection:
        return self._idle.get()

    def release(self, conn: sqlite3.Connection) -> None:
        self._idle.put(conn)

    @contextmanager
    def connection(self) -> Iterator[sqlite3.Connection]:
        conn = self.acquire()
        try:
            yield conn
        finally:
            if conn.in_transaction:
                conn.rollback()
            self.release(conn)

    def in_use(self) -> int:
        return self._size - self._idle.qsize()

    def close_all(self) -> None:
        while True:
            try:
                self._idle.get_nowait().close()
            except queue.Empty:
                break


async def open_async() -> aiosqlite.Connection:
    """aiosqlite connection for the async endpoints; the caller closes it."""
    if _db_path is None:
        raise RuntimeError("database not initialised")
    conn = await aiosqlite.connect(_db_path)
    conn.row_factory = aiosqlite.Row
    return conn
