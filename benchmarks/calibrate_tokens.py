"""Measure characters per cl100k_base token on real code, for the offline token estimate.

    TIKTOKEN_CACHE_DIR=<dir holding the cl100k_base file> python benchmarks/calibrate_tokens.py

Needs the encoding file in tiktoken's cache (the file tiktoken downloads from
openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken, sha256
223921b7...e865b2a7, stored under the sha1 of that URL). Reads the benchmark corpus
(Django + SQLAlchemy), counts tokens per chunk with tiktoken and with the estimate, and
prints the measured ratio and the estimate's error.
"""

from __future__ import annotations

import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.corpus import corpus
from vibe_audit.chunker import DiscoveryOptions, discover, slice_file
from vibe_audit.chunker.tokens import CHARS_PER_TOKEN, estimate_tokens, token_counter


def main() -> int:
    if token_counter() != "tiktoken":
        print("cl100k_base is not in tiktoken's cache: see this script's docstring")
        return 2
    import tiktoken

    encoding = tiktoken.get_encoding("cl100k_base")
    found = discover(corpus(), DiscoveryOptions(include=("*.py",), use_git=False))
    chunks = [c for source in found.files for c in slice_file(source)]
    chars = sum(len(c.text) for c in chunks)
    tokens = sum(len(encoding.encode(c.text, disallowed_special=())) for c in chunks)
    errors = [
        estimate_tokens(c.text) / max(1, len(encoding.encode(c.text, disallowed_special=()))) - 1
        for c in chunks
    ]
    print(f"{len(chunks)} chunks, {chars} characters, {tokens} cl100k_base tokens")
    print(f"measured: {chars / tokens:.2f} characters per token (estimate uses {CHARS_PER_TOKEN})")
    print(f"estimate total error: {sum(estimate_tokens(c.text) for c in chunks) / tokens - 1:+.1%}")
    quartiles = statistics.quantiles(errors, n=4)
    print(f"per-chunk error quartiles: {', '.join(f'{q:+.1%}' for q in quartiles)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
