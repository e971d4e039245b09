"""Queries on documents, jobs and pages. Every function takes a sqlite3 connection."""

from __future__ import annotations

import logging
import sqlite3
from datetime import datetime, timedelta, timezone

from .models import Document, Job, PageText

log = logging.getLogger(__name__)


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


# ---------------------------------------------------------------- documents


def create_document(
    conn: sqlite3.Connection, filename: str, sha256: str, storage_path: str
) -> tuple[int, bool]:
    """Insert a document, or return the existing one with the same content."""
    row = conn.execute("SELECT id FROM documents WHERE sha256 = ?", (sha256,)).fetchone()
    if row is not None:
        return row["id"], False
    cur = conn.execute(
        "INSERT INTO documents (filename, sha256, storage_path) VALUES (?, ?, ?)",
        (filename, sha256, storage_path),
    )
    conn.commit()
    return cur.lastrowid, True


def get_document(conn: sqlite3.Connection, document_id: int) -> Document | None:
    row = conn.execute("SELECT * FROM documents WHERE id = ?", (document_id,)).fetchone()
    return Document(**dict(row)) if row else None


# ---------------------------------------------------------------- jobs


def enqueue_job(conn: sqlite3.Connection, document_id: int) -> int:
    cur = conn.execute("INSERT INTO jobs (document_id) VALUES (?)", (document_id,))
    conn.execute("UPDATE documents SET status = 'queued' WHERE id = ?", (document_id,))
    conn.commit()
    return cur.lastrowid


def get_job(conn: sqlite3.Connection, job_id: int) -> Job | None:
    row = conn.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
    return Job(**dict(row)) if row else None


def claim_next_job(conn: sqlite3.Connection, worker: str) -> Job | None:
    """Take the oldest queued job for this worker."""
    row = conn.execute(
        "SELECT id FROM jobs WHERE status = 'queued' ORDER BY created_at, id LIMIT 1"
    ).fetchone()
    if row is None:
        return None
    conn.execute(
        "UPDATE jobs SET status = 'running', worker = ?, started_at = ?, attempts = attempts + 1"
        " WHERE id = ?",
        (worker, _now(), row["id"]),
    )
    conn.commit()
    return get_job(conn, row["id"])


def set_stage(conn: sqlite3.Connection, job_id: int, stage: str) -> None:
    conn.execute("UPDATE jobs SET stage = ? WHERE id = ?", (stage, job_id))


def set_job_status(conn: sqlite3.Connection, job_id: int, status: str) -> None:
    conn.execute(
        "UPDATE jobs SET status = ?, finished_at = ? WHERE id = ?", (status, _now(), job_id)
    )
    conn.commit()


def complete_job(
    conn: sqlite3.Connection, job_id: int, document_id: int, doc_type: str, pages: list[PageText]
) -> None:
    conn.executemany(
        "INSERT INTO pages (document_id, page_no, text, confidence) VALUES (?, ?, ?, ?)",
        [(document_id, p.page_no, p.text, p.confidence) for p in pages],
    )
    conn.commit()
    conn.execute(
        "UPDATE documents SET status = 'processed', page_count = ?, doc_type = ? WHERE id = ?",
        (len(pages), doc_type, document_id),
    )
    conn.commit()
    conn.execute(
        "UPDATE jobs SET status = 'completed', stage = NULL, finished_at = ? WHERE id = ?",
        (_now(), job_id),
    )
    conn.commit()


def fail_job(conn: sqlite3.Connection, job_id: int, error: str) -> None:
    try:
        conn.execute(
            "UPDATE jobs SET status = 'failed', error = ?, finished_at = ? WHERE id = ?",
            (error[:2000], _now(), job_id),
        )
        conn.execute(
            "UPDATE documents SET status = 'failed'"
            " WHERE id = (SELECT document_id FROM jobs WHERE id = ?)",
            (job_id,),
        )
        conn.commit()
    except sqlite3.OperationalError as exc:
        log.warning("could not record failure of job %s: %s", job_id, exc)


def retry_job(conn: sqlite3.Connection, job_id: int) -> bool:
    """Put a failed job back in the queue. False if it is not (or no longer) failed."""
    cur = conn.execute(
        "UPDATE jobs SET status = 'queued', error = NULL, worker = NULL, started_at = NULL"
        " WHERE id = ? AND status = 'failed'",
        (job_id,),
    )
    conn.commit()
    return cur.rowcount == 1


def requeue_stuck(conn: sqlite3.Connection, older_than_s: int) -> int:
    """Return jobs whose worker went away to the queue."""
    cutoff = (datetime.now(timezone.utc) - timedelta(seconds=older_than_s)).strftime(
        "%Y-%m-%d %H:%M:%S"
    )
    cur = conn.execute(
        "UPDATE jobs SET status = 'queued', worker = NULL"
        " WHERE status = 'running' AND started_at < ?",
        (cutoff,),
    )
    conn.commit()
    return cur.rowcount


def queue_depth(conn: sqlite3.Connection) -> dict[str, int]:
    rows = conn.execute("SELECT status, COUNT(*) AS n FROM jobs GROUP BY status").fetchall()
    return {r["status"]: r["n"] for r in rows}
