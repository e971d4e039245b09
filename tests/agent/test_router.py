from __future__ import annotations

from tests.conftest import EXAMPLE_APP
from vibe_audit.agent.requests import build_requests
from vibe_audit.agent.router import applies
from vibe_audit.chunker import discover, slice_file
from vibe_audit.index import indexed
from vibe_audit.prompts import get_audit
from vibe_audit.rules.engine import run_rules
from vibe_audit.schemas import AUDIT_IDS, Chunk


def _chunks() -> dict[str, Chunk]:
    files = discover(EXAMPLE_APP).files
    return {f"{c.path}:{c.symbol}": c for s in files for c in slice_file(s)}


def test_applies_to_signals_route_chunks() -> None:
    chunks = _chunks()
    layout = chunks["app/worker.py:run_layout"]  # pure dict work, but its file imports sqlite code
    project = chunks["app/labelstudio.py:get_project"]
    headers = chunks["app/labelstudio.py:_headers"]
    assert applies(get_audit("reliability"), project)
    assert not applies(get_audit("sqlite"), project)
    assert not applies(get_audit("guardrails"), headers)
    assert not applies(get_audit("sqlite"), headers)
    assert applies(get_audit("sqlite"), headers, rule_hit=True)
    assert applies(get_audit("reliability"), layout)  # imports requests


def test_build_requests_routes_hints_and_counts_skips() -> None:
    files = discover(EXAMPLE_APP).files
    chunks = [c for s in files for c in slice_file(s)]
    findings = run_rules(indexed(files), list(AUDIT_IDS))
    requests, skipped = build_requests(chunks, list(AUDIT_IDS), findings)
    per_audit = {a: sum(1 for r in requests if r.audit == a) for a in AUDIT_IDS}
    for audit in AUDIT_IDS:
        assert per_audit[audit] + skipped.get(audit, 0) == len(chunks)
    assert 0 < per_audit["sqlite"] < len(chunks)
    retry = next(r for r in requests if r.audit == "sqlite" and "#retry@" in r.chunk_id)
    assert "- H1: sqlite-blocking-call-in-async at line 49:" in retry.user


def test_router_reads_javascript_and_rust_imports() -> None:
    from vibe_audit.agent.router import _imported_modules

    chunk = Chunk.model_validate(
        {**next(iter(_chunks().values())).model_dump(),
         "imports": ['import { Pool } from "pg";', "const fs = require('node:fs');",
                     "use sqlx::PgPool;", "pub use reqwest::Client;", "import json"]}
    )  # fmt: skip
    assert _imported_modules(chunk) == {"pg", "node:fs", "sqlx", "reqwest", "json"}
