from __future__ import annotations

from tests.conftest import EXAMPLE_APP, repo_from
from vibe_audit.agent.context_pack import (
    FACTS,
    MAX_FUNCTIONS,
    MAX_PRAGMAS,
    build_context_pack,
    context_packs,
)
from vibe_audit.agent.requests import build_requests
from vibe_audit.chunker import discover, slice_file
from vibe_audit.prompts import get_audit
from vibe_audit.rules.context import Pragma, RepoFacts, Site
from vibe_audit.schemas import AUDIT_IDS


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


def test_each_audit_gets_only_the_facts_its_checklist_uses() -> None:
    facts = repo_from(EXAMPLE_APP).facts
    packs = context_packs(facts, list(AUDIT_IDS))
    assert "JSON writes" in packs["checkpoint"] and "PRAGMAs" not in packs["checkpoint"]
    assert "PRAGMAs" in packs["sqlite"] and "JSON writes" not in packs["sqlite"]
    assert "Foreign-key declarations" in packs["guardrails"]
    assert "connect() calls with a timeout argument" in packs["reliability"]
    assert "Locks" in packs["concurrency"] and "async functions" in packs["concurrency"]
    for audit, text in packs.items():
        assert text.startswith("- Frameworks and drivers imported: "), audit
        assert len(text) < len(build_context_pack(facts)), audit
        assert set(text.splitlines()) <= set(build_context_pack(facts).splitlines()), audit


def test_each_audit_pack_lists_its_template_facts_in_order() -> None:
    facts = repo_from(EXAMPLE_APP).facts
    everything = build_context_pack(facts).splitlines()
    assert len(everything) == len(FACTS)
    for audit in AUDIT_IDS:
        lines = build_context_pack(facts, audit).splitlines()
        expected = [everything[list(FACTS).index(n)] for n in get_audit(audit).context_facts]
        assert lines == expected, audit


def test_long_fact_lists_are_capped() -> None:
    site = Site(path="db.py", line=1, text="", symbol=None)
    facts = RepoFacts(
        pragmas={f"p{n:02}": [Pragma(site, "1"), Pragma(site, "2")] for n in range(20)},
        sync_db_functions={f"f{n:02}" for n in range(30)},
    )
    text = build_context_pack(facts, "sqlite")
    pragmas = next(line for line in text.splitlines() if line.startswith("- PRAGMAs"))
    assert pragmas.count("=") == MAX_PRAGMAS and pragmas.endswith(f"and {20 - MAX_PRAGMAS} more")
    assert "p00=1 at db.py:1 (+1 more)" in pragmas
    functions = next(line for line in text.splitlines() if "sync SQLite connection" in line)
    assert functions.endswith(f"f{MAX_FUNCTIONS - 1:02}, and {30 - MAX_FUNCTIONS} more")
