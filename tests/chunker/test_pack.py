from __future__ import annotations

from pathlib import PurePosixPath

from tests.conftest import EXAMPLE_APP
from vibe_audit.chunker import discover, slice_file
from vibe_audit.chunker.pack import pack


def test_packs_keep_order_stay_in_one_directory_and_respect_the_budget() -> None:
    chunks = [c for s in discover(EXAMPLE_APP).files for c in slice_file(s)]
    budget = 150
    packs = pack(chunks, budget)
    assert [c.id for p in packs for c in p.chunks] == [c.id for c in chunks]
    for p in packs:
        assert len({PurePosixPath(c.path).parent for c in p.chunks}) == 1
        assert [f.path for f in p.files] == list(dict.fromkeys(c.path for c in p.chunks))
        assert p.path == p.files[0].path
        assert p.tokens == sum(c.tokens for c in p.chunks)
        assert p.tokens <= budget or len(p.chunks) == 1
    assert len(packs) < len(chunks)  # small chunks were packed together
    assert any(len(p.files) > 1 for p in packs)  # and small files too
    assert any(len(p.chunks) == 1 and p.tokens > budget for p in pack(chunks, 60))
    assert [p.id for p in pack(chunks, budget)] == [p.id for p in packs]
    assert len({p.id for p in packs}) == len(packs)
