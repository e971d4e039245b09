"""Every provider under persistent faults: the run finishes with a partial report that lists
each failed request with its reason; only --strict turns that into the run-failure code."""

from __future__ import annotations

import json

import pytest

from tests.agent.test_providers_runner import audit, compat
from tests.conftest import EXAMPLE_APP
from tests.fakes.servers import FakeModelServer
from tests.test_cli import one_line_error, vibe
from vibe_audit.agent.runner import RunnerSettings
from vibe_audit.errors import EXIT_CLEAN, EXIT_RUN
from vibe_audit.schemas import Report

RUNNER = RunnerSettings(concurrency=4, timeout_s=30.0, backoff_base_s=0.01, backoff_max_s=0.05)
# Only the hang needs a short per-call timeout; everywhere else a generous one, so a stall of a
# loaded machine never turns a 500 (or a cut answer) into a timeout and changes the reason.
HANGS = RunnerSettings(concurrency=4, timeout_s=1.0, backoff_base_s=0.01, backoff_max_s=0.05)
# fault -> what the failed requests' reasons say
PERSISTENT = {
    "429": "http 429",
    "500": "http 500",
    "timeout": "timeout",
    "reset": "connection",
    "cut": "connection",
    "truncated": "answer rejected twice",
}


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
@pytest.mark.parametrize("fault", sorted(PERSISTENT))
def test_persistent_fault_gives_a_partial_report(provider: str, fault: str) -> None:
    # The hang is far longer than the timeout: the client gives up first, however late.
    with FakeModelServer(always={fault}, retry_after=0.01, hang=30.0) as server:
        spec = compat(server) if provider == "openai" else "anthropic:fake-claude"
        report = audit(spec, server, ["sqlite"], runner=HANGS if fault == "timeout" else RUNNER)
    assert isinstance(report, Report)
    failed = report.stats.unreviewed_jobs
    assert failed and report.stats.jobs == {"failed": len(failed)}
    assert all(PERSISTENT[fault] in job.reason for job in failed), [j.reason for j in failed]
    assert {f.source for f in report.findings} == {"rule"}  # the rules' findings survive
    assert report.sections[0].score <= 8  # never a model-reviewed clean score


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_a_persistent_schema_fault_is_repaired_in_place_not_failed(provider: str) -> None:
    """Every answer names an unknown category (or checklist id): repaired in place and
    counted, with no repair call and no failed request."""
    with FakeModelServer(always={"schema"}) as server:
        spec = compat(server) if provider == "openai" else "anthropic:fake-claude"
        report = audit(spec, server, ["sqlite"], runner=RUNNER)
    assert isinstance(report, Report)
    assert report.stats.unreviewed_jobs == []
    events = report.stats.model_events
    assert not any(k.startswith("repair:") for k in events), events
    assert any(k.startswith("answer repaired: ") for k in events), events
    assert any(f.source == "model" for f in report.findings)


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_answers_citing_other_files_are_dropped_and_counted(provider: str) -> None:
    with FakeModelServer(always={"ghost"}) as server:
        spec = compat(server) if provider == "openai" else "anthropic:fake-claude"
        report = audit(spec, server, ["sqlite"], runner=RUNNER)
    assert isinstance(report, Report)
    assert (
        report.stats.findings_dropped["path not in audited files"] == report.stats.jobs["answered"]
    )
    assert all(f.location.path != "app/ghost.py" for f in report.findings)


def test_only_strict_turns_failed_requests_into_exit_3(tmp_path) -> None:
    with FakeModelServer(always={"500"}) as server:
        args = ["run", str(EXAMPLE_APP), "--prompt", "sqlite", "--model", compat(server),
                "--no-cache", "--timeout", "2", "--format", "json"]  # fmt: skip
        lenient = vibe(*args)
        strict = vibe(*args, "--strict", "--out", str(tmp_path / "r.json"))
    assert lenient.returncode == EXIT_CLEAN
    assert json.loads(lenient.stdout)["stats"]["jobs"]["failed"] > 0
    assert strict.returncode == EXIT_RUN
    assert "--strict:" in one_line_error(strict.stderr)
    assert json.loads((tmp_path / "r.json").read_text())["stats"]["jobs"]["failed"] > 0
