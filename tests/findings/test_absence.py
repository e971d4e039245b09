"""Absence findings: verification re-runs the search that shows a missing thing is missing;
a match drops the finding ("absence refuted"), a bad or unsafe pattern drops it with its
reason, no match keeps it at the lines where the missing thing belongs."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from vibe_audit.agent import ModelOptions, run_audit
from vibe_audit.agent.providers import ProviderSettings
from vibe_audit.agent.providers.doubles import ScriptedProvider, code_files
from vibe_audit.agent.providers.registry import register
from vibe_audit.agent.runner import RunnerSettings
from vibe_audit.findings import absence
from vibe_audit.findings.absence import (
    INVALID,
    REFUTED,
    TIMED_OUT,
    UNSAFE,
    check_absences,
    compile_search,
    refutation,
)
from vibe_audit.schemas import RenderedRequest, Report, RunRequest
from vibe_audit.schemas.models import AbsenceSearch, EvidenceLine, Finding, Location

DB = """import sqlite3


def connect(path):
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode=WAL")
    return conn


def save(conn, key, value):
    conn.execute("INSERT INTO kv VALUES (?, ?)", (key, value))
    conn.commit()
"""
PRAGMA = """import sqlite3


def configure(conn):
    conn.execute("PRAGMA busy_timeout=5000")
"""
TITLE = "No busy_timeout anywhere: writers fail at once with 'database is locked'"


def _finding(pattern: str | None, scope: str = "repository", path: str = "app/db.py") -> Finding:
    return Finding(
        id="F1",
        fingerprint="f" * 16,
        audits=["sqlite"],
        severity="HIGH",
        categories={"sqlite": "Connection"},
        title=TITLE,
        location=Location(path=path, start_line=5, end_line=5),
        problem="p",
        scenario="s",
        impact="i",
        confidence="High",
        how_to_verify="v",
        fix="f",
        trade_off="t",
        evidence=[EvidenceLine(line=5, text="    conn = sqlite3.connect(path)")],
        absence=AbsenceSearch(pattern=pattern, scope=scope) if pattern else None,  # type: ignore[arg-type]
        source="model",
    )


def test_a_match_refutes_the_absence() -> None:
    lines = {"app/db.py": DB.splitlines(), "app/pragma.py": PRAGMA.splitlines()}
    assert refutation(_finding(r"busy_timeout"), lines) == REFUTED
    dropped: dict[str, int] = {}
    assert check_absences([_finding(r"busy_timeout\s*=")], lines, dropped) == []
    assert dropped == {REFUTED: 1}


def test_no_match_keeps_the_finding() -> None:
    lines = {"app/db.py": DB.splitlines()}
    finding = _finding(r"PRAGMA\s+busy_timeout|timeout\s*=")
    dropped: dict[str, int] = {}
    assert check_absences([finding], lines, dropped) == [finding]
    assert dropped == {}
    assert refutation(_finding(None), lines) is None  # not an absence finding: untouched


def test_file_scope_searches_only_the_findings_file() -> None:
    lines = {"app/db.py": DB.splitlines(), "app/pragma.py": PRAGMA.splitlines()}
    assert refutation(_finding("busy_timeout", scope="file"), lines) is None
    assert refutation(_finding("busy_timeout", scope="repository"), lines) == REFUTED
    # The file scope of a finding in the other file finds it there.
    assert refutation(_finding("busy_timeout", "file", path="app/pragma.py"), lines) == REFUTED


def test_only_audited_text_is_searched() -> None:
    lines = {"app/db.py": DB.splitlines()}  # pragma.py exists on disk but was not audited
    assert refutation(_finding("busy_timeout"), lines) is None


@pytest.mark.parametrize(
    ("pattern", "reason"),
    [
        ("busy_timeout(", INVALID),  # does not compile
        ("[", INVALID),
        ("   ", INVALID),
        ("(a+)+$", UNSAFE),  # nested repetition: catastrophic backtracking
        ("(\\w+\\s?)*done", UNSAFE),
        ("(\\w+)\\1", UNSAFE),  # backreference
        ("x" * 501, UNSAFE),  # too long
    ],
)
def test_a_bad_or_unsafe_pattern_drops_the_finding_with_its_reason(
    pattern: str, reason: str
) -> None:
    search, why = compile_search(pattern)
    assert search is None and why == reason
    dropped: dict[str, int] = {}
    assert check_absences([_finding(pattern)], {"app/db.py": DB.splitlines()}, dropped) == []
    assert dropped == {reason: 1}


@pytest.mark.parametrize("pattern", [r"a.*b.*c.*d.*e", r"(a|aa)*c"])
def test_a_slow_search_is_stopped_and_drops_the_finding(
    pattern: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What the shape check lets through (overlapping alternatives, chains of .*) runs
    under a time limit: the finding is dropped as "absence search timed out"."""
    monkeypatch.setattr(absence, "SEARCH_SECONDS", 0.2)
    lines = {"app/big.py": ["a" * 30000 + "b" * 30000 + "d" * 30000]}
    started = time.monotonic()
    reason = refutation(_finding(pattern, path="app/big.py"), lines)
    assert time.monotonic() - started < 5
    assert reason in (TIMED_OUT, None)  # stopped, or the engine proved no match in time


# --- end to end: a scripted test double reports "no busy_timeout anywhere" ---------------


def _script(request: RenderedRequest, _repair: tuple[str, str] | None) -> str:
    """For the request that shows app/db.py, one absence finding at the connection factory."""
    empty = {"findings": [], "needs_confirmation": [], "checked_items": []}
    files = code_files(request)
    if "app/db.py" not in files or "sqlite" not in request.system.lower():
        return json.dumps(empty)
    line = next(n for n, text in files["app/db.py"].items() if "sqlite3.connect" in text)
    finding = {
        "checklist_items": ["sqlite.3A"],
        "severity": "HIGH",
        "category": "Connection",
        "title": TITLE,
        "path": "app/db.py",
        "start_line": line,
        "end_line": line,
        "symbol": "connect",
        "problem": "No connection sets busy_timeout.",
        "scenario": "Two writers: the second fails at once.",
        "impact": "Failed writes under load.",
        "confidence": "High",
        "how_to_verify": "Run two writers at once.",
        "fix": 'conn.execute("PRAGMA busy_timeout=5000")',
        "trade_off": "Writers wait up to 5 s.",
        "evidence": [{"line": line, "text": files["app/db.py"][line]}],
        "absence": {"pattern": r"busy_timeout", "scope": "repository"},
    }
    return json.dumps({**empty, "findings": [finding]})


register("absence-scripted-test-double", lambda _rest, _settings: ScriptedProvider(_script))


def _run(root: Path) -> Report:
    spec = "absence-scripted-test-double:x"
    options = ModelOptions(ProviderSettings(spec=spec), RunnerSettings(), None, {})
    report = run_audit(RunRequest(target=str(root), audits=["sqlite"], model=spec), model=options)
    assert isinstance(report, Report)
    return report


def _app(root: Path, pragma: bool) -> Path:
    (root / "app").mkdir(parents=True)
    (root / "app" / "db.py").write_text(DB)
    if pragma:
        (root / "app" / "pragma.py").write_text(PRAGMA)
    return root


def test_end_to_end_an_app_without_busy_timeout_keeps_the_absence_finding(
    tmp_path: Path,
) -> None:
    report = _run(_app(tmp_path, pragma=False))
    kept = [f for f in report.findings if f.title == TITLE]
    assert len(kept) == 1 and kept[0].absence is not None
    assert kept[0].evidence[0].text == "    conn = sqlite3.connect(path)"  # verified quote
    assert REFUTED not in report.stats.findings_dropped


def test_end_to_end_an_app_that_sets_busy_timeout_drops_it_counted(tmp_path: Path) -> None:
    report = _run(_app(tmp_path, pragma=True))
    assert not [f for f in report.findings if f.title == TITLE]
    assert report.stats.findings_dropped.get(REFUTED) == 1
