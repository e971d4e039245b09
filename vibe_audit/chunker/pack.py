"""Pack chunks together, up to a token budget per request.

Every request repeats the audit's system prompt and the repository context, so few, full
requests cost far less than many small ones. A pack holds the chunks of one directory's
files, in path order (files of one directory tend to share their resources), up to the
budget; each file keeps its own line numbers and its own context header in the request. A
file larger than what is left continues in the next pack, and a chunk larger than the budget
travels alone.
"""

from __future__ import annotations

from pathlib import PurePosixPath

from vibe_audit.schemas import Chunk, ChunkPack
from vibe_audit.schemas.models import file_spans

PACK_TOKENS = 10_000


def pack(chunks: list[Chunk], budget: int = PACK_TOKENS) -> list[ChunkPack]:
    """The chunks grouped by directory (directories in order of first appearance, chunks in
    their order), each group cut into packs of at most ``budget`` tokens."""
    by_directory: dict[str, list[Chunk]] = {}
    for chunk in chunks:
        by_directory.setdefault(str(PurePosixPath(chunk.path).parent), []).append(chunk)
    packs: list[ChunkPack] = []
    for group in by_directory.values():
        current: list[Chunk] = []
        size = 0
        for chunk in group:
            if current and size + chunk.tokens > budget:
                packs.append(_make(current))
                current, size = [], 0
            current.append(chunk)
            size += chunk.tokens
        if current:
            packs.append(_make(current))
    return packs


def _make(chunks: list[Chunk]) -> ChunkPack:
    first, last = chunks[0], chunks[-1]
    names = first.symbol if len(chunks) == 1 else f"{first.symbol}..{last.symbol}"
    files = file_spans(chunks)
    tail = f"+{len(files) - 1}" if len(files) > 1 else ""
    return ChunkPack(
        id=f"{first.path}{tail}#{names}@{first.start_line}-{last.end_line}",
        path=first.path,
        files=files,
        chunks=chunks,
        tokens=sum(c.tokens for c in chunks),
    )
