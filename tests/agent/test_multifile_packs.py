"""Packs of several files: one request shows a directory's files, each with its own context
header and line numbers; verification holds every finding to a file the request showed and
to that file's lines; the coverage ledger marks every chunk of the pack."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from vibe_audit.agent.model_pass import request_scope
from vibe_audit.agent.planner import PlanInputs, plan
from vibe_audit.agent.providers import ProviderSettings
from vibe_audit.agent.providers.doubles import code_files, code_lines
from vibe_audit.agent.run import ModelOptions, run_audit
from vibe_audit.agent.runner import RunnerSettings
from vibe_audit.chunker import discover, slice_file
from vibe_audit.chunker.pack import pack
from vibe_audit.findings.coverage import build_coverage
from vibe_audit.findings.verify import ScopedFinding, verify
from vibe_audit.prompts import get_audit
from vibe_audit.prompts.render import MAX_IMPORTS, render_request
from vibe_audit.schemas import (
    Chunk,
    EvidenceLine,
    Finding,
    Job,
    JobOutcome,
    Location,
    Report,
    RunRequest,
    Severity,
)

STORE = """import sqlite3


def save(path: str, value: str) -> None:
    conn = sqlite3.connect(path)
    conn.execute("INSERT INTO items (value) VALUES (?)", (value,))
    conn.commit()
"""
READER = """import sqlite3


def count(path: str) -> int:
    conn = sqlite3.connect(path)
    return conn.execute("SELECT COUNT(*) FROM items").fetchone()[0]
"""


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    for relative, text in {
        "svc/reader.py": READER,
        "svc/store.py": STORE,
        "other/store.py": STORE,
    }.items():
        (tmp_path / relative).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / relative).write_text(text, encoding="utf-8")
    return tmp_path


def _chunks(root: Path) -> list[Chunk]:
    return [c for s in discover(root).files for c in slice_file(s)]


def _jobs(root: Path) -> list[Job]:
    chunks = _chunks(root)
    return plan(_inputs(chunks)).jobs


def _inputs(chunks: list[Chunk]) -> PlanInputs:
    return PlanInputs(
        spec="x", provider_name="oracle-test-double", model="o", price=None, chunks=chunks,
        audits=["sqlite"], max_tokens_out=512,
    )  # fmt: skip


def test_a_pack_holds_the_files_of_one_directory_in_path_order(repo: Path) -> None:
    chunks = _chunks(repo)
    packs = pack(chunks)
    assert [[f.path for f in p.files] for p in packs] == [
        ["other/store.py"],
        ["svc/reader.py", "svc/store.py"],
    ]
    assert [c.id for p in packs for c in p.chunks] == [c.id for c in chunks]
    two = packs[1]
    assert [f.lines for f in two.files] == [(1, 6), (1, 7)]
    assert two.path == "svc/reader.py" and two.id.startswith("svc/reader.py+1#")
    assert [len(p.files) for p in pack(chunks, budget=1)] == [1] * len(chunks)


def test_a_multi_file_request_renders_each_files_header_and_lines(repo: Path) -> None:
    chunks = [c for c in _chunks(repo) if c.path.startswith("svc/")]
    request = render_request(get_audit("sqlite"), chunks, [])
    user, token = request.user, request.data_token
    assert user.count("- File: ") == 2
    assert "- File: svc/reader.py (python)" in user and "- File: svc/store.py (python)" in user
    assert user.index("- File: svc/reader.py") < user.index("- File: svc/store.py")
    assert f"FILE {token} svc/reader.py\n1 | import sqlite3" in user
    assert f"FILE {token} svc/store.py\n1 | import sqlite3" in user
    assert user.count(f"BEGIN {token}\n") == 1 and user.count(f"END {token}\n") == 1
    files = code_files(request)
    assert list(files) == ["svc/reader.py", "svc/store.py"]
    assert files["svc/store.py"][6] == STORE.splitlines()[5]
    assert files["svc/reader.py"][6] == READER.splitlines()[5]
    assert code_lines(request) == files["svc/reader.py"]


def test_the_imports_line_is_capped() -> None:
    imports = [f"import m{n}" for n in range(MAX_IMPORTS + 5)]
    chunk = Chunk(
        id="a.py#f@1-1", path="a.py", language="python", kind="function", symbol="f",
        start_line=1, end_line=1, text="pass\n", content_hash="0" * 64, tokens=1,
        imports=imports,
    )  # fmt: skip
    user = render_request(get_audit("sqlite"), chunk, []).user
    assert f"import m{MAX_IMPORTS - 1}; and 5 more" in user
    assert f"import m{MAX_IMPORTS};" not in user


def _finding(path: str, line: int, text: str) -> Finding:
    return Finding(
        id="", fingerprint="", audits=["sqlite"], severity=Severity.HIGH,
        categories={"sqlite": "Connection"}, title="t",
        location=Location(path=path, start_line=line, end_line=line), problem="p",
        scenario="s", impact="i", confidence="High", how_to_verify="v", fix="f",
        trade_off="t", evidence=[EvidenceLine(line=line, text=text)], source="model",
    )  # fmt: skip


def test_verification_holds_a_finding_to_the_files_of_its_request(repo: Path) -> None:
    job = next(j for j in _jobs(repo) if len(j.files) == 2)
    assert [f.path for f in job.files] == ["svc/reader.py", "svc/store.py"]
    lines = {
        p: (repo / p).read_text().splitlines()
        for p in ("svc/reader.py", "svc/store.py", "other/store.py")
    }
    store_line = STORE.splitlines()[5]
    findings = [
        _finding("svc/store.py", 6, store_line),  # the second file: verified against it
        _finding("other/store.py", 6, store_line),  # audited, but not in this request
        _finding("svc/reader.py", 6, store_line),  # the store's line claimed in the reader
    ]
    kept, dropped = verify([ScopedFinding(f, request_scope(job)) for f in findings], lines)
    assert [(f.location.path, f.location.start_line) for f in kept] == [("svc/store.py", 6)]
    assert dropped == {"path not in the request": 1, "evidence does not match source": 1}


def test_the_oracle_finds_a_defect_in_the_second_file_of_a_pack(repo: Path, tmp_path: Path) -> None:
    labels = [
        {"audit": "sqlite", "path": "svc/store.py", "line": 5, "severity": "HIGH",
         "category": "Connection", "checklist_items": ["sqlite.2A"],
         "title": "A connection per call with no busy timeout"},
    ]  # fmt: skip
    path = tmp_path / "labels.json"
    path.write_text(json.dumps(labels))  # vibe-audit: ignore[checkpoint-non-atomic-write]
    spec = f"oracle-test-double:{path}"
    options = ModelOptions(ProviderSettings(spec=spec), RunnerSettings(), None, {})
    report = run_audit(RunRequest(target=str(repo), audits=["sqlite"], model=spec), model=options)
    assert isinstance(report, Report)
    # the oracle reports the defect, or confirms the rule's hint on it (sources rule + model)
    model = [f for f in report.findings if "model" in f.sources]
    assert [(f.location.path, f.location.start_line) for f in model] == [("svc/store.py", 5)]
    assert report.stats.findings_dropped == {}
    assert report.coverage is not None
    sqlite = report.coverage.for_audit("sqlite")
    assert sqlite is not None and sqlite.percent == 100.0


def test_the_coverage_ledger_marks_every_chunk_of_a_multi_file_pack(repo: Path) -> None:
    chunks = _chunks(repo)
    job_plan = plan(_inputs(chunks))
    jobs = job_plan.jobs
    failed = next(j for j in jobs if len(j.files) == 2)
    outcomes = [
        JobOutcome(
            job_id=j.id,
            audit=j.audit,
            path=j.path,
            lines=j.lines,
            files=j.files,
            status="failed" if j.id == failed.id else "answered",
            attempts=1,
        )
        for j in jobs
    ]
    coverage = build_coverage(["sqlite"], chunks, [], plan=job_plan, outcomes=outcomes)
    states = {(r.path, r.lines): r.states["sqlite"] for r in coverage.rows}
    in_pack = {(c.path, (c.start_line, c.end_line)) for c in chunks if c.id in failed.chunk_ids}
    assert {p for p, _ in in_pack} == {"svc/reader.py", "svc/store.py"}
    assert all(states[key] == "failed" for key in in_pack)
    assert all(state == "audited" for key, state in states.items() if key not in in_pack)
