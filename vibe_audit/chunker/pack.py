"""Pack small chunks of one file together, up to a token budget per request.

Chunks keep their file order; a pack never spans files (line numbers stay unambiguous) and
a chunk larger than the budget travels alone.
"""

from __future__ import annotations

from itertools import groupby

from vibe_audit.schemas import Chunk, ChunkPack

PACK_TOKENS = 3000


def pack(chunks: list[Chunk], budget: int = PACK_TOKENS) -> list[ChunkPack]:
    packs: list[ChunkPack] = []
    for _path, group in groupby(chunks, key=lambda c: c.path):
        current: list[Chunk] = []
        for chunk in group:
            if current and sum(c.tokens for c in current) + chunk.tokens > budget:
                packs.append(_make(current))
                current = []
            current.append(chunk)
        if current:
            packs.append(_make(current))
    return packs


def _make(chunks: list[Chunk]) -> ChunkPack:
    first, last = chunks[0], chunks[-1]
    names = first.symbol if len(chunks) == 1 else f"{first.symbol}..{last.symbol}"
    return ChunkPack(
        id=f"{first.path}#{names}@{first.start_line}-{last.end_line}",
        path=first.path,
        chunks=chunks,
        tokens=sum(c.tokens for c in chunks),
    )
