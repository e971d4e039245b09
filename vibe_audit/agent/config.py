"""Run settings from flags, config file and environment, in that order of precedence.

Config lives in a ``.vibe-audit.toml`` (top-level keys) or in ``[tool.vibe-audit]`` of the
pyproject.toml at the audited path (its folder, for a file); the dotfile wins. Keys: model,
api_key, base_url, concurrency, timeout, max_output_tokens, max_cost, retry_backoff and
retry_backoff_max (seconds: the wait before a failed model call's first retry, doubling each
retry up to the max; $VIBE_AUDIT_RETRY_BACKOFF sets the first where the config does not),
include and exclude (globs added to --include/--exclude), and a [pricing."<spec>"] table of
input/output USD per 1M tokens.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from vibe_audit.errors import UserError

BACKOFF_ENV = "VIBE_AUDIT_RETRY_BACKOFF"


class PriceEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")

    input: float = Field(ge=0)
    output: float = Field(ge=0)


class FileConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    model: str | None = None
    api_key: str | None = None
    base_url: str | None = None
    concurrency: int | None = Field(default=None, ge=1)
    timeout: float | None = Field(default=None, gt=0)
    max_output_tokens: int | None = Field(default=None, ge=1)
    max_cost: float | None = Field(default=None, ge=0)
    retry_backoff: float | None = Field(default=None, ge=0)
    retry_backoff_max: float | None = Field(default=None, ge=0)
    pricing: dict[str, PriceEntry] = Field(default_factory=dict)
    include: list[str] = Field(default_factory=list)
    exclude: list[str] = Field(default_factory=list)
    source: str | None = None


def _read(path: Path, table: bool) -> dict[str, Any] | None:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError:
        return None
    except tomllib.TOMLDecodeError as exc:
        raise UserError(f"{path}: invalid TOML: {exc}") from exc
    if table:
        section = data.get("tool", {}).get("vibe-audit")
        return dict(section) if isinstance(section, dict) else None
    return data


def load_config(target: Path) -> FileConfig:
    for folder in [target if target.is_dir() else target.parent]:
        for name, table in ((".vibe-audit.toml", False), ("pyproject.toml", True)):
            path = folder / name
            data = _read(path, table) if path.is_file() else None
            if data is not None:
                try:
                    return FileConfig.model_validate({**data, "source": str(path)})
                except ValidationError as exc:
                    first = exc.errors()[0]
                    where = ".".join(str(p) for p in first["loc"])
                    raise UserError(f"{path}: {where}: {first['msg']}") from exc
    return FileConfig()


def retry_backoff(
    config: FileConfig, environ: Mapping[str, str] = os.environ
) -> tuple[float | None, float | None]:
    """The first retry's wait and the cap of one wait, in seconds (None: the runner's
    default): the config, then $VIBE_AUDIT_RETRY_BACKOFF for the first wait."""
    base = config.retry_backoff
    if base is None and environ.get(BACKOFF_ENV):
        raw = environ[BACKOFF_ENV]
        try:
            base = float(raw)
        except ValueError:
            base = -1.0
        if not 0 <= base < float("inf"):
            raise UserError(f"${BACKOFF_ENV}={raw}: expected seconds, a number >= 0")
    return base, config.retry_backoff_max
