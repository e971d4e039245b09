"""HTTP API."""

import asyncio
import uuid
from pathlib import Path

from fastapi import FastAPI, HTTPException, UploadFile

from app.db import get_connection, init_db
from app.worker import process_document

UPLOAD_DIR = Path("data/uploads")

app = FastAPI(title="docstore")


@app.on_event("startup")
async def startup():
    init_db()


@app.post("/documents")
async def upload(file: UploadFile):
    doc_id = uuid.uuid4().hex
    UPLOAD_DIR.mkdir(parents=True, exist_ok=True)
    target = UPLOAD_DIR / f"{doc_id}-{file.filename}"
    target.write_bytes(await file.read())
    conn = get_connection()
    conn.execute(
        "INSERT INTO documents (id, filename, status) VALUES (?, ?, 'pending')",
        (doc_id, file.filename),
    )
    conn.commit()
    asyncio.create_task(asyncio.to_thread(process_document, doc_id, str(target)))
    return {"id": doc_id}


@app.get("/documents/{doc_id}")
async def get_document(doc_id: str):
    conn = get_connection()
    row = conn.execute("SELECT * FROM documents WHERE id = ?", (doc_id,)).fetchone()
    if row is None:
        raise HTTPException(404, "no such document")
    return dict(row)


@app.post("/documents/{doc_id}/retry")
async def retry(doc_id: str):
    conn = get_connection()
    row = conn.execute("SELECT status, filename FROM documents WHERE id = ?", (doc_id,)).fetchone()
    if row["status"] == "failed":
        conn.execute("UPDATE documents SET status = 'pending' WHERE id = ?", (doc_id,))
        conn.commit()
        target = UPLOAD_DIR / f"{doc_id}-{row['filename']}"
        asyncio.create_task(asyncio.to_thread(process_document, doc_id, str(target)))
    return {"id": doc_id, "status": "pending"}
