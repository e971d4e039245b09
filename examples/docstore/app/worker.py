"""The processing pipeline: OCR, then layout, then export."""

import os

import requests

from app.checkpoints import load_checkpoint, save_checkpoint, save_manifest
from app.db import get_connection, set_status

OCR_URL = os.environ.get("OCR_URL", "http://ocr:9000/v1/ocr")
STAGES = ["ocr", "layout", "export"]


def run_ocr(doc_id, file_path):
    with open(file_path, "rb") as f:
        response = requests.post(OCR_URL, files={"file": f})
    response.raise_for_status()
    return response.json()


def run_layout(ocr):
    return {"blocks": [{"text": page["text"], "page": page["page"]} for page in ocr["pages"]]}


def process_document(doc_id, file_path):
    set_status(doc_id, "processing")
    ocr = load_checkpoint(doc_id, "ocr")
    if ocr is None:
        ocr = run_ocr(doc_id, file_path)
        save_checkpoint(doc_id, "ocr", ocr)
    layout = run_layout(ocr)
    save_checkpoint(doc_id, "layout", layout)

    conn = get_connection()
    for page in ocr["pages"]:
        conn.execute(
            "INSERT INTO pages (document_id, page_no, text) VALUES (?, ?, ?)",
            (doc_id, page["page"], page["text"]),
        )
    try:
        conn.execute(
            "UPDATE documents SET ocr_text = ?, status = 'done' WHERE id = ?",
            ("\n".join(p["text"] for p in ocr["pages"]), doc_id),
        )
        conn.commit()
    except Exception:
        pass
    conn.close()
    save_manifest(doc_id, STAGES)
