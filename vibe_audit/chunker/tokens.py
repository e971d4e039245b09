"""Token counting.

The walking skeleton uses a calibrated estimate only (about 4 characters per token for code,
the usual figure for cl100k/o200k-style BPE on source text); tiktoken arrives with the
chunker issue. The report records which counter was used.
"""

from __future__ import annotations

from typing import Literal

TOKEN_COUNTER: Literal["tiktoken", "estimate"] = "estimate"
CHARS_PER_TOKEN = 4


def count_tokens(text: str) -> int:
    return -(-len(text) // CHARS_PER_TOKEN)
