"""Checklist truth: no item is clean by default.

violated where a finding cites it; not applicable where the repository has no such subject;
clean ("not seen") only where a rule verified it (or a model examined it); otherwise needs
confirmation."""

from __future__ import annotations

from pathlib import Path

from vibe_audit.agent.run import run_audit
from vibe_audit.schemas import AUDIT_IDS, ChecklistState, Report, RunRequest

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "docstore"

CLEAN_CLI = '''"""A small CLI that adds numbers: no database, no state files."""

import argparse


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("numbers", nargs="+", type=int)
    args = parser.parse_args()
    print(sum(args.numbers))
    return 0
'''

WAL_APP = """import sqlite3

DB = "app.db"


def connect():
    conn = sqlite3.connect(DB, timeout=5)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA foreign_keys=ON")
    return conn


def add(conn, name):
    with conn:
        conn.execute("INSERT INTO items (name) VALUES (?)", (name,))
"""


def _report(root: Path) -> Report:
    report = run_audit(RunRequest(target=str(root), audits=list(AUDIT_IDS)))
    assert isinstance(report, Report)
    return report


def _states(report: Report) -> dict[str, ChecklistState]:
    return {e.id: e.state for s in report.sections for e in s.checklist}


def test_the_example_app_has_no_false_clean_row() -> None:
    report = _report(EXAMPLE)
    by_id = {f.id: f for f in report.findings}
    for section in report.sections:
        for entry in section.checklist:
            if entry.state is ChecklistState.VIOLATED:
                assert entry.finding_ids, entry.id
                assert all(entry.id in by_id[f].checklist_items for f in entry.finding_ids)
            else:
                # The app never enables WAL or foreign keys and never fsyncs: nothing is
                # verified clean by the rules, and it has SQLite, state files and a database.
                assert entry.state is ChecklistState.NEEDS_CONFIRMATION, (entry.id, entry.state)
    states = _states(report)
    assert states["checkpoint.2B"] is ChecklistState.NEEDS_CONFIRMATION  # never fsyncs
    assert states["checkpoint.2A"] is ChecklistState.VIOLATED
    assert states["sqlite.1A"] is ChecklistState.VIOLATED


def test_a_repository_without_sqlite_or_state_is_not_applicable_not_clean(write_tree) -> None:
    report = _report(write_tree({"cli.py": CLEAN_CLI}))
    assert report.findings == []
    sections = {s.audit: s for s in report.sections}
    for audit in ("sqlite", "checkpoint", "guardrails"):
        states = {e.state for e in sections[audit].checklist}
        assert states == {ChecklistState.NOT_APPLICABLE}, audit
        assert any("Not applicable" in line for line in sections[audit].justification)
        assert sections[audit].score is None  # no score where nothing applies
        assert sections[audit].rubric_band.startswith("not applicable: no ")
        assert sections[audit].score_text == "n/a"
    for audit in ("concurrency", "reliability"):
        states = {e.state for e in sections[audit].checklist}
        assert states == {ChecklistState.NEEDS_CONFIRMATION}, audit
        assert sections[audit].score is not None
    assert not any(e.state is ChecklistState.NOT_SEEN for s in report.sections for e in s.checklist)


def test_only_what_a_rule_verified_is_clean(write_tree) -> None:
    states = _states(_report(write_tree({"db.py": WAL_APP})))
    clean = {item for item, state in states.items() if state is ChecklistState.NOT_SEEN}
    assert clean == {
        "sqlite.1A", "sqlite.pragma.1", "concurrency.sqlite_checklist.1",  # WAL literal
        "guardrails.4A", "concurrency.sqlite_checklist.3",  # foreign_keys=ON
        "sqlite.3A", "sqlite.pragma.2", "concurrency.sqlite_checklist.2",  # connect timeout
    }  # fmt: skip
    assert states["sqlite.1D"] is ChecklistState.NEEDS_CONFIRMATION  # synchronous: not set


def test_not_applicable_audits_print_n_a_in_every_format(write_tree) -> None:
    from vibe_audit.report import RENDERERS
    from vibe_audit.report.terminal import render_summary

    report = _report(write_tree({"cli.py": CLEAN_CLI}))
    markdown = RENDERERS["md"](report)
    assert "| SQLite Concurrency & WAL Audit | n/a | not applicable |" in markdown
    assert "## SQLite Concurrency & WAL Audit: n/a" in markdown
    assert "sqlite n/a" in render_summary(report)
    assert "SQLite Concurrency &amp; WAL Audit: n/a</h2>" in RENDERERS["html"](report)
    assert '"score": null' in RENDERERS["json"](report)


def test_top_fixes_are_ordered_by_impact_not_by_path() -> None:
    """Severity first, then confidence, then reach; the report's own order is by severity
    and location, the top 3 is by impact."""
    from vibe_audit.findings.score import impact

    report = _report(EXAMPLE)
    by_id = {f.id: f for f in report.findings}
    for section in report.sections:
        top = [by_id[a.finding_id] for a in section.top_fixes]
        mine = [f for f in report.findings if section.audit in f.audits]
        assert top == sorted(mine, key=lambda f: impact(f, section.audit))[:3]
        keys = [impact(f, section.audit) for f in top]
        assert keys == sorted(keys)
