"""Token counting: tiktoken when its encoding is on this machine, else a calibrated estimate.

tiktoken downloads encodings on first use, which fails offline and must never happen on the
default path. So tiktoken is used only when the encoding file is already in tiktoken's cache
(TIKTOKEN_CACHE_DIR, DATA_GYM_CACHE_DIR, or <tmp>/data-gym-cache, as tiktoken looks it up).
Otherwise tokens are estimated from characters with a ratio measured on real code
(benchmarks/calibrate_tokens.py); the report says which counter was used.
"""

from __future__ import annotations

import hashlib
import math
import os
import tempfile
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Literal

ENCODING = "cl100k_base"
_ENCODING_URL = f"https://openaipublic.blob.core.windows.net/encodings/{ENCODING}.tiktoken"
# Measured by benchmarks/calibrate_tokens.py: 4.68 characters per cl100k_base token on Python
# (Django + SQLAlchemy); 4.5 errs a little high, so budgets are not overrun.
CHARS_PER_TOKEN = 4.5

Counter = Literal["tiktoken", "estimate"]


def _cache_file() -> Path:
    directory = os.environ.get("TIKTOKEN_CACHE_DIR") or os.environ.get("DATA_GYM_CACHE_DIR")
    base = Path(directory) if directory else Path(tempfile.gettempdir()) / "data-gym-cache"
    return base / hashlib.sha1(_ENCODING_URL.encode()).hexdigest()


@cache
def _encoder() -> Callable[[list[str]], list[int]] | None:
    if os.environ.get("VIBE_AUDIT_TOKENS") == "estimate" or not _cache_file().is_file():
        return None
    try:
        import tiktoken

        encoding = tiktoken.get_encoding(ENCODING)
    except Exception:  # a corrupt cache or missing package: fall back, never fail the run
        return None

    def encode(texts: list[str]) -> list[int]:
        # encode_ordinary_batch runs on tiktoken's threads, outside the GIL.
        return [len(tokens) for tokens in encoding.encode_ordinary_batch(texts)]

    return encode


def token_counter() -> Counter:
    return "tiktoken" if _encoder() is not None else "estimate"


def estimate_tokens(text: str) -> int:
    return math.ceil(len(text) / CHARS_PER_TOKEN)


def count_tokens(text: str) -> int:
    return count_tokens_batch([text])[0]


def count_tokens_batch(texts: list[str]) -> list[int]:
    encoder = _encoder()
    return encoder(texts) if encoder is not None else [estimate_tokens(t) for t in texts]
