"""Client for the OCR service (POST /v1/recognize, one page image per request)."""

from __future__ import annotations

import logging
from pathlib import Path

import httpx

from .config import Settings
from .models import PageText

log = logging.getLogger(__name__)


class OcrError(RuntimeError):
    pass


class OcrClient:
    engine = "ocr-service/v1"

    def __init__(self, settings: Settings) -> None:
        self._max_attempts = settings.ocr_max_attempts
        self._http = httpx.Client(
            base_url=settings.ocr_url,
            headers={"Authorization": f"Bearer {settings.ocr_api_key}"},
            timeout=httpx.Timeout(settings.ocr_timeout_s, connect=settings.ocr_connect_timeout_s),
            limits=httpx.Limits(max_connections=settings.worker_count * settings.ocr_parallelism),
        )

    def recognize_page(self, image_path: Path, page_no: int, language: str = "auto") -> PageText:
        last_error: Exception | None = None
        for attempt in range(1, self._max_attempts + 1):
            try:
                resp = self._http.post(
                    "/v1/recognize",
                    files={"image": (image_path.name, open(image_path, "rb"), "image/png")},
                    data={"language": language},
                )
                resp.raise_for_status()
                body = resp.json()
                return PageText(
                    page_no=page_no,
                    text=body["text"],
                    confidence=body["confidence"],
                    language=body.get("language"),
                )
            except Exception as exc:
                last_error = exc
                log.warning("OCR attempt %d/%d for %s failed: %s", attempt, self._max_attempts, image_path, exc)
        raise OcrError(f"OCR failed for {image_path} after {self._max_attempts} attempts") from last_error

    def ping(self) -> bool:
        try:
            return self._http.get("/healthz", timeout=2.0).status_code == 200
        except httpx.HTTPError:
            return False

    def close(self) -> None:
        self._http.close()
