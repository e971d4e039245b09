"""Pydantic models: stage outputs persisted as checkpoints, and API responses."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Optional

from pydantic import BaseModel, Field


class PageText(BaseModel):
    page_no: int
    text: str
    confidence: float = Field(ge=0.0, le=1.0)
    language: Optional[str]


class SplitOutput(BaseModel):
    page_count: int
    page_images: list[str]


class OcrOutput(BaseModel):
    engine: str
    pages: list[PageText]


class ClassifyOutput(BaseModel):
    doc_type: str
    score: float


class ExportOutput(BaseModel):
    document_id: int
    filename: str
    doc_type: str
    page_count: int
    text: str


class StageRecord(BaseModel):
    """Envelope written for every completed stage."""

    document_id: int
    stage: str
    created_at: datetime
    output: dict[str, Any]


class Document(BaseModel):
    id: int
    filename: str
    sha256: str
    storage_path: str
    status: str
    page_count: int | None = None
    doc_type: str | None = None
    created_at: str


class Job(BaseModel):
    id: int
    document_id: int
    status: str
    stage: str | None = None
    worker: str | None = None
    attempts: int = 0
    error: str | None = None
    created_at: str
    started_at: str | None = None
    finished_at: str | None = None


class UploadResponse(BaseModel):
    document_id: int
    job_id: int | None
    duplicate: bool = False
