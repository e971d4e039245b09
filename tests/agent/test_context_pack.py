from __future__ import annotations

from tests.conftest import EXAMPLE_APP, repo_from
from vibe_audit.agent.context_pack import build_context_pack
from vibe_audit.agent.requests import build_requests
from vibe_audit.chunker import discover, slice_file


def test_context_pack_shows_cross_file_facts() -> None:
    text = build_context_pack(repo_from(EXAMPLE_APP).facts)
    assert "- SQLite connections opened at: app/db.py:26 (get_connection)" in text
    assert "- PRAGMAs set anywhere: none" in text
    assert "Atomic renames (os.replace / os.rename / Path.replace): app/checkpoints.py:38" in text
    assert "init_db" in text  # opens a connection through get_connection


def test_every_request_carries_the_same_context_pack() -> None:
    chunks = [c for s in discover(EXAMPLE_APP).files for c in slice_file(s)]
    context = build_context_pack(repo_from(EXAMPLE_APP).facts)
    requests, _ = build_requests(chunks, ["sqlite", "checkpoint"], [], context)
    assert requests
    for request in requests:
        assert f"## Repository context\n\n{context}\n" in request.user
