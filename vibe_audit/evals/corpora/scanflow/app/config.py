"""Runtime settings, read once from the environment."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    return int(raw) if raw else default


def _env_float(name: str, default: float) -> float:
    raw = os.environ.get(name)
    return float(raw) if raw else default


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    db_path: Path
    ocr_url: str
    ocr_api_key: str
    webhook_url: str | None
    webhook_secret: str
    # OCR service: one page per request
    ocr_timeout_s: float = 120.0
    ocr_connect_timeout_s: float = 5.0
    ocr_max_attempts: int = 4
    ocr_parallelism: int = 4
    # background processing
    worker_count: int = 6
    db_pool_size: int = 4
    poll_interval_s: float = 1.0
    stuck_after_s: int = 300
    reaper_interval_s: int = 60
    tmp_max_age_s: int = 3600

    @property
    def upload_dir(self) -> Path:
        return self.data_dir / "uploads"

    @property
    def checkpoint_dir(self) -> Path:
        return self.data_dir / "checkpoints"


def load_settings() -> Settings:
    data_dir = Path(os.environ.get("SCANFLOW_DATA_DIR", "./data")).resolve()
    return Settings(
        data_dir=data_dir,
        db_path=Path(os.environ.get("SCANFLOW_DB", str(data_dir / "scanflow.db"))),
        ocr_url=os.environ.get("SCANFLOW_OCR_URL", "http://ocr:8080"),
        ocr_api_key=os.environ.get("SCANFLOW_OCR_API_KEY", ""),
        webhook_url=os.environ.get("SCANFLOW_WEBHOOK_URL") or None,
        webhook_secret=os.environ.get("SCANFLOW_WEBHOOK_SECRET", ""),
        ocr_timeout_s=_env_float("SCANFLOW_OCR_TIMEOUT", 120.0),
        ocr_connect_timeout_s=_env_float("SCANFLOW_OCR_CONNECT_TIMEOUT", 5.0),
        ocr_max_attempts=_env_int("SCANFLOW_OCR_ATTEMPTS", 4),
        ocr_parallelism=_env_int("SCANFLOW_OCR_PARALLELISM", 4),
        worker_count=_env_int("SCANFLOW_WORKERS", 6),
        db_pool_size=_env_int("SCANFLOW_DB_POOL", 4),
        stuck_after_s=_env_int("SCANFLOW_STUCK_AFTER", 300),
    )
