"""HTTP API: upload documents, follow their jobs, fetch results."""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

from fastapi import APIRouter, HTTPException, UploadFile
from fastapi.concurrency import run_in_threadpool

from . import db, repository, services
from .models import Document, ExportOutput, Job, UploadResponse

log = logging.getLogger(__name__)

router = APIRouter(prefix="/v1")

ALLOWED_TYPES = {"application/pdf"}


def _register_upload(filename: str, sha256: str, storage_path: str) -> UploadResponse:
    with services.get().db_pool.connection() as conn:
        document_id, created = repository.create_document(conn, filename, sha256, storage_path)
        if not created:
            return UploadResponse(document_id=document_id, job_id=None, duplicate=True)
        job_id = repository.enqueue_job(conn, document_id)
    return UploadResponse(document_id=document_id, job_id=job_id)


@router.post("/documents", status_code=201, response_model=UploadResponse)
async def upload_document(file: UploadFile) -> UploadResponse:
    if file.content_type not in ALLOWED_TYPES:
        raise HTTPException(415, f"unsupported content type {file.content_type}")
    data = await file.read()
    if not data.startswith(b"%PDF"):
        raise HTTPException(422, "not a PDF file")
    sha256 = hashlib.sha256(data).hexdigest()
    settings = services.get().settings
    dest = settings.upload_dir / f"{sha256}.pdf"
    await run_in_threadpool(dest.write_bytes, data)
    response = await run_in_threadpool(_register_upload, file.filename or dest.name, sha256, str(dest))
    log.info("upload %s -> document %s", file.filename, response.document_id)
    return response


@router.get("/documents")
async def list_documents(status: str | None = None, limit: int = 50) -> list[Document]:
    conn = await db.open_async()
    if status:
        cur = await conn.execute(
            "SELECT * FROM documents WHERE status = ? ORDER BY id DESC LIMIT ?", (status, limit)
        )
    else:
        cur = await conn.execute("SELECT * FROM documents ORDER BY id DESC LIMIT ?", (limit,))
    rows = await cur.fetchall()
    return [Document(**dict(r)) for r in rows]


@router.get("/documents/{document_id}")
async def get_document(document_id: int) -> dict[str, object]:
    with services.get().db_pool.connection() as conn:
        doc = repository.get_document(conn, document_id)
        if doc is None:
            raise HTTPException(404, "document not found")
        jobs = conn.execute(
            "SELECT * FROM jobs WHERE document_id = ? ORDER BY id DESC", (document_id,)
        ).fetchall()
    return {"document": doc, "jobs": [Job(**dict(j)) for j in jobs]}


@router.get("/documents/{document_id}/result", response_model=ExportOutput)
def get_result(document_id: int) -> ExportOutput:
    svc = services.get()
    with svc.db_pool.connection() as conn:
        doc = repository.get_document(conn, document_id)
    if doc is None:
        raise HTTPException(404, "document not found")
    if doc.status != "processed":
        raise HTTPException(409, f"document is {doc.status}")
    result = svc.store.read_result(document_id)
    if result is None:
        raise HTTPException(404, "result not found")
    return result


@router.post("/documents/{document_id}/reprocess", status_code=202)
def reprocess_document(document_id: int) -> dict[str, int]:
    svc = services.get()
    with svc.db_pool.connection() as conn:
        if repository.get_document(conn, document_id) is None:
            raise HTTPException(404, "document not found")
        svc.store.delete_document(document_id)
        job_id = repository.enqueue_job(conn, document_id)
    return {"job_id": job_id}


@router.delete("/documents/{document_id}", status_code=204)
async def delete_document(document_id: int) -> None:
    conn = await db.open_async()
    try:
        cur = await conn.execute("SELECT storage_path FROM documents WHERE id = ?", (document_id,))
        row = await cur.fetchone()
        if row is None:
            raise HTTPException(404, "document not found")
        await conn.execute("DELETE FROM documents WHERE id = ?", (document_id,))
        await conn.commit()
    finally:
        await conn.close()
    Path(row["storage_path"]).unlink(missing_ok=True)


@router.get("/jobs/{job_id}", response_model=Job)
def get_job(job_id: int) -> Job:
    with services.get().db_pool.connection() as conn:
        job = repository.get_job(conn, job_id)
    if job is None:
        raise HTTPException(404, "job not found")
    return job


@router.post("/jobs/{job_id}/cancel", response_model=Job)
def cancel_job(job_id: int) -> Job:
    with services.get().db_pool.connection() as conn:
        job = repository.get_job(conn, job_id)
        if job is None:
            raise HTTPException(404, "job not found")
        if job.status not in ("queued", "running"):
            raise HTTPException(409, f"job is already {job.status}")
        repository.set_job_status(conn, job_id, "cancelled")
        return repository.get_job(conn, job_id)


@router.post("/jobs/{job_id}/retry", response_model=Job)
def retry_job(job_id: int) -> Job:
    with services.get().db_pool.connection() as conn:
        if not repository.retry_job(conn, job_id):
            raise HTTPException(409, "only failed jobs can be retried")
        return repository.get_job(conn, job_id)
