"""The coverage ledger: every file x symbol x audit has one state, and a run that audited
less than all routed code never reads as clean (markdown, terminal, PR summary, SARIF, exit
code). Model runs go over real HTTP to the local fake model server (a test double)."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from tests.agent.test_providers_runner import FAST, audit, compat
from tests.fakes.servers import FakeModelServer
from tests.report.test_renderers import SARIF_SCHEMA
from tests.test_cli import one_line_error, vibe
from vibe_audit.agent.runner import RunnerSettings
from vibe_audit.errors import EXIT_CLEAN, EXIT_COVERAGE
from vibe_audit.findings.coverage import build_coverage
from vibe_audit.report import render_markdown, render_sarif, render_summary
from vibe_audit.review.bot import split, summary
from vibe_audit.schemas import Chunk, Plan, Report, SkippedFile

CLEAN_SQLITE = '''"""A clean repository module: WAL, busy_timeout, closed connections."""
import sqlite3


def connect(path: str) -> sqlite3.Connection:
    conn = sqlite3.connect(path, timeout=5)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA busy_timeout=5000")
    conn.execute("PRAGMA foreign_keys=ON")
    return conn


def count_rows(path: str) -> int:
    conn = connect(path)
    try:
        return conn.execute("SELECT count(*) FROM items").fetchone()[0]
    finally:
        conn.close()
'''


@pytest.fixture
def clean_repo(tmp_path: Path) -> Path:
    root = tmp_path / "svc"
    root.mkdir()
    (root / "store.py").write_text(CLEAN_SQLITE, encoding="utf-8")
    (root / "README.md").write_text("# svc\n", encoding="utf-8")
    return root


def _chunk(path: str, symbol: str | None, start: int, end: int, language: str) -> Chunk:
    return Chunk(
        id=f"{path}#{symbol}@{start}-{end}", path=path, language=language,
        kind="function" if symbol else "module", symbol=symbol, start_line=start,
        end_line=end, text="x\n", content_hash="0" * 64, tokens=1,
    )  # fmt: skip


def test_rules_only_ledger_states_every_file_symbol_and_audit() -> None:
    chunks = [_chunk("a.py", "load", 1, 9, "python"), _chunk("main.go", "Run", 1, 5, "go")]
    skipped = [
        SkippedFile(path="big.py", reason="oversized"),
        SkippedFile(path="gone.py", reason="unreadable"),
        SkippedFile(path="vendor/", reason="vendored or generated directory"),
    ]
    coverage = build_coverage(
        ["sqlite", "checkpoint"], chunks, skipped,
        rule_languages={"sqlite": {"python"}, "checkpoint": set()},
    )  # fmt: skip
    state = {(r.path, a): s for r in coverage.rows for a, s in r.states.items()}
    assert state[("a.py", "sqlite")] == "audited"
    assert state[("a.py", "checkpoint")] == "skipped by routing"  # no rule of it reads Python
    assert state[("main.go", "sqlite")] == "skipped by routing"
    assert state[("big.py", "sqlite")] == "clipped"
    assert state[("gone.py", "sqlite")] == "failed"
    assert state[("vendor/", "sqlite")] == "excluded"
    go = next(r for r in coverage.rows if r.path == "main.go")
    assert go.details["sqlite"] == "no built-in rule of this audit reads go"
    sqlite = coverage.for_audit("sqlite")
    assert sqlite is not None
    # in scope: a.py (audited), big.py (clipped), gone.py (failed); not vendor/ or main.go
    assert (sqlite.in_scope, sqlite.audited, sqlite.not_audited) == (3, 1, 2)
    assert sqlite.percent == pytest.approx(33.3)
    assert {r.path for r in coverage.not_audited("sqlite")} == {"big.py", "gone.py"}


def test_a_failed_model_run_is_never_clean(clean_repo: Path) -> None:
    with FakeModelServer(always={"500"}) as server:
        report = audit(compat(server), server, ["sqlite"], runner=FAST, target=clean_repo)
    assert isinstance(report, Report) and report.coverage is not None
    assert report.findings == []  # nothing found: exactly when a false green would happen
    sqlite = report.coverage.for_audit("sqlite")
    assert sqlite is not None and sqlite.states.get("failed", 0) >= 2 and sqlite.percent == 0
    failed = report.coverage.not_audited("sqlite")
    assert {r.symbol for r in failed} >= {"connect", "count_rows"}
    assert all("model request failed: http 500" in r.details["sqlite"] for r in failed)
    markdown = render_markdown(report)
    assert f"({sqlite.not_audited} symbols not audited)" in markdown  # next to the score
    assert "No defect found in the audited code by the checks that ran." not in markdown
    assert "this is not a clean result" in markdown
    assert "| sqlite | 0 | 0 | 0 | 0 | 0 | 1 |" in markdown  # coverage table row: README excluded
    assert "`store.py:" in markdown and "sqlite: failed (model request failed" in markdown
    assert "NOT CLEAN" in render_summary(report)
    pr = summary(split(report, {"store.py": [(1, 20)]}), "0" * 40)
    assert "Not a clean result" in pr and "symbols not audited)" in pr
    sarif = json.loads(render_sarif(report))
    invocation = sarif["runs"][0]["invocations"][0]
    assert invocation["executionSuccessful"] is False
    notes = invocation["toolExecutionNotifications"]
    assert any(n["descriptor"]["id"] == "coverage/failed" for n in notes)
    if SARIF_SCHEMA.is_file():
        jsonschema.validate(sarif, json.loads(SARIF_SCHEMA.read_text(encoding="utf-8")))


def test_budget_clipped_chunks_are_in_the_coverage_table(clean_repo: Path) -> None:
    (clean_repo / "more.py").write_text(
        "import sqlite3\n\n\n"
        + "\n\n\n".join(
            f"def read_{n}(conn: sqlite3.Connection) -> list:\n"
            f"    return conn.execute('SELECT * FROM t{n}').fetchall()\n"
            + "    # padding line\n"
            * 120
            for n in range(6)
        ),
        encoding="utf-8",
    )
    with FakeModelServer() as server:
        plan = audit("openai:gpt-4.1-mini", server, ["sqlite"], dry_run=True, target=clean_repo)
        assert isinstance(plan, Plan) and len(plan.jobs) >= 2
        runner = RunnerSettings(concurrency=1, max_cost_usd=max(j.cost_usd for j in plan.jobs))
        report = audit("openai:gpt-4.1-mini", server, ["sqlite"], runner=runner, target=clean_repo)
    assert isinstance(report, Report) and report.coverage is not None
    clipped = [r for r in report.coverage.rows if r.states.get("sqlite") == "clipped"]
    assert clipped and all(r.details["sqlite"].startswith("--max-cost budget") for r in clipped)
    sqlite = report.coverage.for_audit("sqlite")
    assert sqlite is not None and sqlite.states["clipped"] == len(clipped)
    assert sqlite.states.get("audited", 0) >= 1
    markdown = render_markdown(report)
    assert "sqlite: clipped (--max-cost budget reached" in markdown


def test_require_coverage_fails_a_partial_run_with_exit_4(clean_repo: Path, tmp_path: Path) -> None:
    with FakeModelServer(always={"500"}) as server:
        args = ["run", str(clean_repo), "--prompt", "sqlite", "--model", compat(server),
                "--no-cache", "--timeout", "2", "--format", "json",
                "--out", str(tmp_path / "r.json")]  # fmt: skip
        partial = vibe(*args, "--require-coverage", "100")
        lenient = vibe(*args)
    assert partial.returncode == EXIT_COVERAGE, partial.stderr
    assert "--require-coverage 100: below it: sqlite 0%" in one_line_error(partial.stderr)
    report = json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))  # work kept
    assert report["coverage"]["audits"][0]["states"]["failed"] >= 2
    assert lenient.returncode == EXIT_CLEAN, lenient.stderr


def test_full_rules_coverage_passes_require_coverage(clean_repo: Path) -> None:
    (clean_repo / "main.go").write_text(
        'package main\n\nfunc main() {\n\tprintln("hi")\n}\n', encoding="utf-8"
    )
    result = vibe("run", str(clean_repo), "--require-coverage", "100", "--quiet")
    assert result.returncode == EXIT_CLEAN, result.stderr
    # no rule reads Go: listed as skipped by routing, not counted as audited, never hidden
    assert "**Skipped by routing (1 file(s)), symbols per audit:**" in result.stdout
    assert "- `main.go`: concurrency " in result.stdout
    # store.py: module + 2 functions audited; main.go: 2 symbols skipped; README excluded
    assert "| sqlite | 3 | 0 | 0 | 2 | 0 | 1 | 0 | 100% |" in result.stdout
