"""--triage: a cheap model (here a second local fake server, a test double) reads every
routed chunk first; only the chunks it or a rule flags reach the main model. A triage
request that fails never clears anything. Real HTTP, offline."""

from __future__ import annotations

from dataclasses import replace

from tests.agent.test_providers_runner import FAST, compat
from tests.conftest import EXAMPLE_APP
from tests.fakes.servers import FakeModelServer
from tests.test_cli import one_line_error, vibe
from vibe_audit.agent import ModelOptions, run_audit
from vibe_audit.agent.providers import ProviderSettings
from vibe_audit.errors import EXIT_USAGE
from vibe_audit.schemas import Report, RunRequest


def _run(main: FakeModelServer, triage: FakeModelServer | None) -> Report:
    spec = compat(main)
    options = ModelOptions(ProviderSettings(spec=spec, timeout_s=5), FAST, None, {})
    if triage is not None:
        options = replace(options, triage=f"openai-compat:{triage.url}/v1#cheap-model")
    request = RunRequest(target=str(EXAMPLE_APP), audits=["sqlite", "reliability"], model=spec)
    report = run_audit(request, model=options)
    assert isinstance(report, Report)
    return report


def test_only_flagged_chunks_reach_the_main_model() -> None:
    with FakeModelServer() as main:
        baseline = _run(main, None)
        alone = sum(baseline.stats.jobs.values())  # requests planned (re-asks not counted)
    # the triage double finds nothing anywhere: only chunks a rule flagged go on
    with FakeModelServer() as main, FakeModelServer(marker="NOT-IN-THE-CODE") as triage:
        report = _run(main, triage)
        sent, triaged = sum(report.stats.jobs.values()), len(triage.requests)
    # the triage model reads everything the main model would (its empty answers are not
    # asked again: what the rules flag goes on to the main model anyway)
    assert triaged == alone
    assert 0 < sent <= alone
    for audit in ("sqlite", "reliability"):  # fewer chunks go on: only the rule-flagged ones
        assert report.stats.router_skipped[audit] > baseline.stats.router_skipped[audit]
    stats = report.stats.triage
    assert stats is not None and stats.model.endswith("#cheap-model")
    assert stats.requests == triaged and stats.chunks_cleared > 0
    assert report.stats.tokens_in > sum(o.tokens_in for o in report.stats.unreviewed_jobs)
    assert report.coverage is not None
    details = [d for row in report.coverage.rows for d in row.details.values()]
    assert any(d.startswith("triage: openai-compat:") and "found nothing" in d for d in details)
    # what the rules found is never lost, and the main model still answered
    assert {f.rule_id for f in baseline.findings if f.rule_id} <= {
        f.rule_id for f in report.findings if f.rule_id
    }


def test_a_failed_triage_request_sends_its_chunks_on() -> None:
    with FakeModelServer() as main:
        baseline = _run(main, None)
        alone = len(main.requests)
    with FakeModelServer() as main, FakeModelServer(always={"500"}) as triage:
        report = _run(main, triage)
        sent = len(main.requests)
    assert sent == alone  # nothing cleared by an answer that never came
    assert report.stats.router_skipped == baseline.stats.router_skipped
    assert report.stats.triage is not None and report.stats.triage.chunks_cleared == 0


def test_triage_without_a_model_is_a_usage_error() -> None:
    result = vibe("run", str(EXAMPLE_APP), "--triage", "openai:gpt-4.1-nano")
    assert result.returncode == EXIT_USAGE
    assert "--triage needs --model" in one_line_error(result.stderr)


def test_a_triage_finding_flags_only_the_chunks_of_its_own_file() -> None:
    """The example app is one directory, so one triage request shows all its files: the
    finding on app/db.py:25 flags that file's chunk, not the same lines of the others."""
    with FakeModelServer() as main, FakeModelServer(marker="def get_connection") as triage:
        report = _run(main, triage)
    assert report.coverage is not None
    at_25 = [
        r for r in report.coverage.rows if r.lines is not None and r.lines[0] <= 25 <= r.lines[1]
    ]
    (db,) = [r for r in at_25 if r.path == "app/db.py"]
    assert db.states["reliability"] == "audited"
    cleared = [r.path for r in at_25 if r.details.get("reliability", "").startswith("triage: ")]
    assert cleared == ["app/labelstudio.py"]  # its lines 21-29 were in the same request
