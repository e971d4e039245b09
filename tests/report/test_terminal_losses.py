"""The terminal summary says what the run lost: unanswered requests, dropped findings,
repairs; a clean run says nothing of the kind."""

from __future__ import annotations

from pathlib import Path

from vibe_audit.agent.run import run_audit
from vibe_audit.report.terminal import render_summary
from vibe_audit.schemas import AUDIT_IDS, JobOutcome, Report, RunRequest

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "docstore"


def _report() -> Report:
    report = run_audit(RunRequest(target=str(EXAMPLE), audits=list(AUDIT_IDS)))
    assert isinstance(report, Report)
    return report


def test_a_rules_only_run_reports_no_loss() -> None:
    text = render_summary(_report())
    assert "LOST" not in text and "dropped by verification" not in text


def test_losses_are_counted_by_kind_and_reason() -> None:
    report = _report()
    failed = JobOutcome(
        job_id="j1", audit="sqlite", path="app/db.py", lines=(1, 40), status="failed",
        attempts=3, reason="HTTP 500",
    )  # fmt: skip
    skipped = failed.model_copy(update={"job_id": "j2", "status": "skipped (budget)"})
    stats = report.stats.model_copy(
        update={
            "unreviewed_jobs": [failed, failed.model_copy(update={"job_id": "j3"}), skipped],
            "findings_dropped": {"evidence does not match source": 4, "path not in the request": 1},
            "model_events": {"repair (schema)": 2, "retry (429)": 5},
        }
    )
    text = render_summary(report.model_copy(update={"stats": stats}))
    assert (
        "LOST: 3 model request(s) not answered (2 failed, 1 skipped (budget)): their lines "
        "were not reviewed"
    ) in text
    assert (
        "dropped by verification: 5 finding(s): evidence does not match source 4, "
        "path not in the request 1"
    ) in text
    assert "model retries and repairs: repair (schema) 2, retry (429) 5" in text
