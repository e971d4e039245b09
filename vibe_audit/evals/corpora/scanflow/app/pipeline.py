"""The processing pipeline: split -> ocr -> classify -> export, one checkpoint per stage."""

from __future__ import annotations

import logging
import re
import sqlite3
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

import pypdfium2 as pdfium
from pydantic import BaseModel

from . import repository, webhooks
from .checkpoints import CheckpointStore
from .config import Settings
from .metrics import Metrics
from .models import ClassifyOutput, Document, ExportOutput, Job, OcrOutput, SplitOutput
from .ocr_client import OcrClient, OcrError

log = logging.getLogger(__name__)

DOC_TYPES = {
    "invoice": re.compile(r"\b(invoice|rechnung|facture|amount due|vat)\b", re.I),
    "receipt": re.compile(r"\b(receipt|subtotal|cash|change due)\b", re.I),
    "contract": re.compile(r"\b(agreement|hereinafter|party|terminate)\b", re.I),
}


class Pipeline:
    def __init__(self, settings: Settings, store: CheckpointStore, ocr: OcrClient, metrics: Metrics) -> None:
        self.settings = settings
        self.store = store
        self.ocr = ocr
        self.metrics = metrics
        self.stages: list[tuple[str, Callable[[Document], BaseModel]]] = [
            ("split", self._split),
            ("ocr", self._ocr),
            ("classify", self._classify),
            ("export", self._export),
        ]

    def run(self, conn: sqlite3.Connection, job: Job) -> None:
        doc = repository.get_document(conn, job.document_id)
        if doc is None:
            raise LookupError(f"document {job.document_id} of job {job.id} not found")

        manifest = self.store.load_manifest(doc.id) or self.store.new_manifest(doc)
        for name, stage in self.stages:
            if name in manifest["stages_done"]:
                log.info("document %s: %s already done, resuming", doc.id, name)
                continue
            repository.set_stage(conn, job.id, name)
            try:
                output = stage(doc)
            except Exception:
                log.exception("stage %s failed for document %s", name, doc.id)
                self.metrics.incr(f"stage_failed.{name}")
                raise
            self.store.save_stage(doc.id, name, output)
            self.store.mark_stage_done(doc.id, name)

        export = self.store.load_stage(doc.id, "export", ExportOutput)
        ocr = self.store.load_stage(doc.id, "ocr", OcrOutput)
        if export is None or ocr is None:
            raise RuntimeError(f"document {doc.id}: stage outputs missing after the last stage")
        repository.complete_job(conn, job.id, doc.id, export.doc_type, ocr.pages)
        self.store.write_result(doc.id, export)
        if self.settings.webhook_url:
            webhooks.send(
                self.settings.webhook_url,
                self.settings.webhook_secret,
                "document.processed",
                {"document_id": doc.id, "doc_type": export.doc_type, "page_count": export.page_count},
            )

    # ------------------------------------------------------------ stages

    def _split(self, doc: Document) -> SplitOutput:
        out_dir = self.store.doc_dir(doc.id) / "pages"
        out_dir.mkdir(parents=True, exist_ok=True)
        pdf = pdfium.PdfDocument(doc.storage_path)
        images: list[str] = []
        try:
            for i in range(len(pdf)):
                bitmap = pdf[i].render(scale=300 / 72)
                target = out_dir / f"page-{i:04d}.png"
                bitmap.to_pil().save(target)
                images.append(str(target))
        finally:
            pdf.close()
        return SplitOutput(page_count=len(images), page_images=images)

    def _ocr_one(self, document_id: int, page_no: int, image: Path) -> None:
        page = self.ocr.recognize_page(image, page_no)
        self.store.save_page(document_id, page)
        self.store.mark_page_done(document_id, page_no)

    def _ocr(self, doc: Document) -> OcrOutput:
        split = self.store.load_stage(doc.id, "split", SplitOutput)
        if split is None:
            raise RuntimeError(f"document {doc.id}: split stage output missing")
        manifest = self.store.load_manifest(doc.id) or {}
        done = set(manifest.get("pages_done", []))
        todo = [(n, Path(p)) for n, p in enumerate(split.page_images) if n not in done]

        with ThreadPoolExecutor(max_workers=self.settings.ocr_parallelism) as pool:
            futures = {pool.submit(self._ocr_one, doc.id, n, img): n for n, img in todo}
            for fut in as_completed(futures):
                try:
                    fut.result()
                except OcrError as exc:
                    log.warning("document %s page %s: %s; skipping page", doc.id, futures[fut], exc)

        pages = [self.store.load_page(doc.id, n) for n in range(split.page_count)]
        return OcrOutput(engine=self.ocr.engine, pages=[p for p in pages if p is not None])

    def _classify(self, doc: Document) -> ClassifyOutput:
        ocr = self.store.load_stage(doc.id, "ocr", OcrOutput)
        text = " ".join(p.text for p in ocr.pages) if ocr else ""
        best, best_hits = "other", 0
        for doc_type, pattern in DOC_TYPES.items():
            hits = len(pattern.findall(text))
            if hits > best_hits:
                best, best_hits = doc_type, hits
        words = max(len(text.split()), 1)
        return ClassifyOutput(doc_type=best, score=min(1.0, best_hits * 20 / words))

    def _export(self, doc: Document) -> ExportOutput:
        ocr = self.store.load_stage(doc.id, "ocr", OcrOutput)
        classified = self.store.load_stage(doc.id, "classify", ClassifyOutput)
        if ocr is None or classified is None:
            raise RuntimeError(f"document {doc.id}: export needs ocr and classify outputs")
        return ExportOutput(
            document_id=doc.id,
            filename=doc.filename,
            doc_type=classified.doc_type,
            page_count=len(ocr.pages),
            text="\n\f".join(p.text for p in sorted(ocr.pages, key=lambda p: p.page_no)),
        )
