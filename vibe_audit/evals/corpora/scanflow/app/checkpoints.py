"""Per-document checkpoint store.

Layout under <data>/checkpoints/<document_id>/:
    manifest.json        stages and pages already done (drives resume)
    <stage>.json         StageRecord for every finished stage
    pages/page-NNNN.png  rendered page images
    pages/page-NNNN.json OCR result of one page
    result.json          final export, served by the API
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel

from .models import Document, ExportOutput, PageText, StageRecord

log = logging.getLogger(__name__)

M = TypeVar("M", bound=BaseModel)


class CheckpointStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    def doc_dir(self, document_id: int) -> Path:
        return self.root / str(document_id)

    # ------------------------------------------------------------ files

    def _atomic_write(self, path: Path, payload: str) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(payload)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    # ------------------------------------------------------------ stages

    def save_stage(self, document_id: int, stage: str, output: BaseModel) -> None:
        record = StageRecord(
            document_id=document_id,
            stage=stage,
            created_at=datetime.now(timezone.utc),
            output=output.model_dump(mode="json"),
        )
        self._atomic_write(self.doc_dir(document_id) / f"{stage}.json", record.model_dump_json())

    def load_stage(self, document_id: int, stage: str, model: type[M]) -> M | None:
        path = self.doc_dir(document_id) / f"{stage}.json"
        if not path.exists():
            return None
        try:
            record = StageRecord.model_validate_json(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError:
            log.warning("unreadable checkpoint %s, stage will be recomputed", path)
            return None
        return model.model_validate(record.output)

    # ------------------------------------------------------------ pages

    def page_path(self, document_id: int, page_no: int) -> Path:
        return self.doc_dir(document_id) / "pages" / f"page-{page_no:04d}.json"

    def save_page(self, document_id: int, page: PageText) -> None:
        self._atomic_write(self.page_path(document_id, page.page_no), page.model_dump_json())

    def load_page(self, document_id: int, page_no: int) -> PageText | None:
        path = self.page_path(document_id, page_no)
        if not path.exists():
            return None
        return PageText.model_validate_json(path.read_text(encoding="utf-8"))

    # ------------------------------------------------------------ manifest

    def _manifest_path(self, document_id: int) -> Path:
        return self.doc_dir(document_id) / "manifest.json"

    def _write_manifest(self, document_id: int, data: dict[str, Any]) -> None:
        path = self._manifest_path(document_id)
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "w", encoding="utf-8") as f:
            json.dump(data, f, indent=2)

    def new_manifest(self, doc: Document) -> dict[str, Any]:
        data = {
            "document_id": doc.id,
            "sha256": doc.sha256,
            "stages_done": [],
            "pages_done": [],
            "created_at": datetime.now(timezone.utc).isoformat(),
        }
        self._write_manifest(doc.id, data)
        return data

    def load_manifest(self, document_id: int) -> dict[str, Any] | None:
        path = self._manifest_path(document_id)
        if not path.exists():
            return None
        return json.loads(path.read_text(encoding="utf-8"))

    def mark_stage_done(self, document_id: int, stage: str) -> None:
        data = self.load_manifest(document_id) or {"stages_done": [], "pages_done": []}
        if stage not in data["stages_done"]:
            data["stages_done"].append(stage)
        self._write_manifest(document_id, data)

    def mark_page_done(self, document_id: int, page_no: int) -> None:
        data = self.load_manifest(document_id) or {"stages_done": [], "pages_done": []}
        data["pages_done"] = sorted(set(data["pages_done"]) | {page_no})
        self._write_manifest(document_id, data)

    # ------------------------------------------------------------ result

    def write_result(self, document_id: int, export: ExportOutput) -> None:
        self._atomic_write(self.doc_dir(document_id) / "result.json", export.model_dump_json(indent=2))

    def read_result(self, document_id: int) -> ExportOutput | None:
        path = self.doc_dir(document_id) / "result.json"
        if not path.exists():
            return None
        return ExportOutput.model_validate_json(path.read_text(encoding="utf-8"))

    def delete_document(self, document_id: int) -> None:
        shutil.rmtree(self.doc_dir(document_id), ignore_errors=True)


def cleanup_stale_tmp(root: Path, max_age_s: int) -> int:
    """Delete leftovers of interrupted atomic writes (.<name>.<random>.tmp) older than max_age_s."""
    if not root.exists():
        return 0
    cutoff = time.time() - max_age_s
    removed = 0
    for path in root.rglob(".*.tmp"):
        try:
            if path.is_file() and path.stat().st_mtime < cutoff:
                path.unlink()
                removed += 1
        except FileNotFoundError:
            continue
    if removed:
        log.info("removed %d stale temp files under %s", removed, root)
    return removed
