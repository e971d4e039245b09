"""Providers and runner over real HTTP: the official SDKs against a local fake server (a
test double), with every fault the issue lists. None crashes the run; each is in the report."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.conftest import EXAMPLE_APP
from tests.fakes.servers import FakeModelServer
from vibe_audit.agent import ModelOptions, run_audit
from vibe_audit.agent.providers import ProviderSettings
from vibe_audit.agent.runner import RunnerSettings
from vibe_audit.errors import UserError
from vibe_audit.schemas import Plan, Report, RunRequest

# No test run with FAST makes the server hang: its per-call timeout is generous, so a stall of
# a loaded machine never turns an answer into a timeout and a retry (tests count requests
# exactly). Only the tests of the timeout itself use a short one (HANGS) and count in bounds.
FAST = RunnerSettings(concurrency=4, timeout_s=30.0, backoff_base_s=0.02, backoff_max_s=0.1)
HANGS = RunnerSettings(concurrency=1, timeout_s=1.0, backoff_base_s=0.02, backoff_max_s=0.1)


SMALL_PACKS = 300  # the example app is one directory: small packs make many requests


def audit(
    spec: str,
    server: FakeModelServer,
    prompt: list[str],
    runner: RunnerSettings = FAST,
    cache_dir: Path | None = None,
    prices: dict[str, tuple[float, float]] | None = None,
    dry_run: bool = False,
    target: Path = EXAMPLE_APP,
    pack_tokens: int = SMALL_PACKS,
) -> Report | Plan:
    base = server.url if spec.startswith("anthropic") else f"{server.url}/v1"
    settings = ProviderSettings(
        spec=spec, api_key="test-key", base_url=None if "openai-compat" in spec else base,
        timeout_s=runner.timeout_s, max_output_tokens=1024,
    )  # fmt: skip
    options = ModelOptions(
        settings, runner, cache_dir, prices or {}, dry_run=dry_run, pack_tokens=pack_tokens
    )
    request = RunRequest(target=str(target), audits=prompt, model=spec)  # type: ignore[arg-type]
    return run_audit(request, model=options)


def compat(server: FakeModelServer) -> str:
    return f"openai-compat:{server.url}/v1#fake-model"


def test_openai_happy_path_adds_model_findings_to_the_rules() -> None:
    with FakeModelServer() as server:
        report = audit(compat(server), server, ["sqlite"])
    assert isinstance(report, Report)
    sources = {f.source for f in report.findings}
    assert sources == {"rule", "model"}  # hybrid: the rules' findings are kept
    model_findings = [f for f in report.findings if f.source == "model"]
    assert all(f.model == "openai-compat:fake-model" for f in model_findings)
    assert all("execute(" in f.evidence[0].text for f in model_findings)
    assert report.stats.jobs == {"answered": len(server.requests)}
    assert report.stats.tokens_in > 0 and report.stats.provider == "openai-compat"
    sqlite = report.sections[0]
    assert sqlite.score <= 6 and "Rules-only" not in " ".join(sqlite.justification)


def test_anthropic_forced_tool_call_happy_path() -> None:
    with FakeModelServer() as server:
        report = audit("anthropic:fake-claude", server, ["sqlite"])
    assert isinstance(report, Report)
    assert {r[1] for r in server.requests} == {"anthropic"}
    assert any(f.source == "model" and f.model == "anthropic:fake-claude" for f in report.findings)


@pytest.mark.parametrize("spec_kind", ["openai", "anthropic"])
def test_every_fault_is_survived_and_reported(spec_kind: str) -> None:
    """Each fault once, at a fixed request number, counted exactly: no fault here makes the
    server hang, so the per-call timeout is generous and a stall cannot add a request that
    shifts the schedule (the hang is test_a_hung_call_times_out_and_is_retried)."""
    faults = {
        1: "429",
        2: "500",
        4: "truncated",
        6: "schema",
        8: "length",
        10: "ghost",
    }
    with FakeModelServer(faults=faults, retry_after=0.3) as server:
        spec = compat(server) if spec_kind == "openai" else "anthropic:fake-claude"
        runner = RunnerSettings(
            concurrency=1, timeout_s=30.0, backoff_base_s=0.02, backoff_max_s=0.1
        )
        report = audit(spec, server, ["sqlite", "reliability"], runner=runner)
    assert isinstance(report, Report)
    events = report.stats.model_events
    assert events["retry: http 429"] == 1
    assert events["retry: http 500"] == 1
    assert "retry: timeout" not in events
    # A repair call only for an answer nothing of which could be used; the unknown category
    # (or item) is repaired in place; the answer cut at the output limit is split or asked
    # briefly, never sent again unchanged.
    repairs = {k: v for k, v in events.items() if k.startswith("repair:")}
    if spec_kind == "openai":  # a cut JSON text is invalid JSON
        assert repairs == {"repair: invalid JSON": 1}
    else:  # a tool call's input is always JSON: the cut input has no findings list instead
        assert repairs == {"repair: schema": 1}
    assert any(k.startswith("answer repaired: ") for k in events), events
    truncation = ("split after truncation", "re-asked briefly after truncation")
    assert sum(events.get(k, 0) for k in truncation) == 1, events
    assert report.stats.findings_dropped == {"path not in audited files": 1}
    assert report.stats.jobs == {"answered": sum(report.stats.jobs.values())}
    # Retry-After was honoured: the retry came no sooner than the server asked.
    (t429, _, _), (t_retry, _, _) = server.requests[0], server.requests[1]
    assert t_retry - t429 >= 0.3


@pytest.mark.parametrize("spec_kind", ["openai", "anthropic"])
def test_a_hung_call_times_out_and_is_retried(spec_kind: str) -> None:
    """The server holds the first request far past the 1 s per-call timeout. A stall of a
    loaded machine may time out another call too, so the timeouts are counted in bounds and
    tied to the requests they cost, never as an exact number."""
    with FakeModelServer(faults={1: "timeout"}, hang=30.0) as server:
        spec = compat(server) if spec_kind == "openai" else "anthropic:fake-claude"
        report = audit(spec, server, ["sqlite"], runner=HANGS)
        requests = len(server.requests)
    assert isinstance(report, Report)
    timeouts = report.stats.model_events["retry: timeout"]
    assert timeouts >= 1
    assert report.stats.jobs == {"answered": requests - timeouts}  # one request per retry
    assert report.stats.unreviewed_jobs == []
    assert any(f.source == "model" for f in report.findings)


def test_a_job_that_keeps_failing_is_reported_not_dropped() -> None:
    with FakeModelServer(always={"500"}) as server:
        report = audit(compat(server), server, ["sqlite"], runner=FAST)
    assert isinstance(report, Report)
    assert report.stats.jobs.get("failed", 0) == len(report.stats.unreviewed_jobs) > 0
    assert all("http 500" in o.reason for o in report.stats.unreviewed_jobs)
    assert len(server.requests) == FAST.max_attempts * report.stats.jobs["failed"]
    assert {f.source for f in report.findings} == {"rule"}  # the rules still report
    assert any("Rules-only" in line for line in report.sections[0].justification)


def test_json_schema_rejection_falls_back_to_json_mode() -> None:
    with FakeModelServer(faults={1: "reject-schema"}) as server:
        report = audit(compat(server), server, ["sqlite"], runner=RunnerSettings(concurrency=1))
    assert isinstance(report, Report)
    assert report.stats.jobs == {"answered": len(server.requests) - 1}


def test_unchanged_rerun_makes_zero_calls(tmp_path: Path) -> None:
    with FakeModelServer() as server:
        first = audit(compat(server), server, ["sqlite"], cache_dir=tmp_path)
        calls = len(server.requests)
        second = audit(compat(server), server, ["sqlite"], cache_dir=tmp_path)
    assert isinstance(first, Report) and isinstance(second, Report)
    assert calls > 0 and len(server.requests) == calls
    assert second.stats.jobs == {"cached": calls}
    assert first.coverage is not None and second.coverage is not None
    before, after = first.coverage.for_audit("sqlite"), second.coverage.for_audit("sqlite")
    assert before is not None and after is not None
    assert after.states["cached"] == before.states["audited"] and "audited" not in after.states
    assert after.percent == 100.0
    assert [f.fingerprint for f in first.findings] == [f.fingerprint for f in second.findings]


def test_dry_run_plans_and_calls_nothing() -> None:
    with FakeModelServer() as server:
        plan = audit("openai:gpt-4.1-mini", server, ["sqlite", "reliability"], dry_run=True)
    assert isinstance(plan, Plan)
    assert server.requests == []
    assert plan.priced and plan.jobs
    assert {a.audit for a in plan.audits} == {"sqlite", "reliability"}
    for summary in plan.audits:
        jobs = [j for j in plan.jobs if j.audit == summary.audit]
        assert summary.jobs == len(jobs) and summary.tokens_in == sum(j.tokens_in for j in jobs)
        assert summary.cost_usd == pytest.approx(
            sum((j.tokens_in * 0.40 + 1024 * 1.60) / 1e6 for j in jobs), abs=1e-6
        )


def test_max_cost_is_never_exceeded() -> None:
    with FakeModelServer() as server:
        plan = audit("openai:gpt-4.1-mini", server, ["sqlite"], dry_run=True)
        assert isinstance(plan, Plan)
        one_job = max(j.cost_usd for j in plan.jobs)
        budget = one_job * 2.5  # room for two jobs' worst case, not three
        runner = RunnerSettings(concurrency=4, max_cost_usd=budget)
        report = audit("openai:gpt-4.1-mini", server, ["sqlite"], runner=runner)
    assert isinstance(report, Report)
    assert report.stats.cost_usd <= budget
    assert report.stats.jobs["skipped (budget)"] > 0
    assert len(server.requests) == report.stats.jobs.get("answered", 0)
    assert all(o.status == "skipped (budget)" for o in report.stats.unreviewed_jobs)


def test_max_cost_needs_a_price() -> None:
    with FakeModelServer() as server, pytest.raises(UserError, match="needs a price"):
        audit("openai:no-such-model", server, ["sqlite"], runner=RunnerSettings(max_cost_usd=1.0))


def test_progress_is_reported_per_job() -> None:
    seen: list[str] = []
    with FakeModelServer() as server:
        settings = ProviderSettings(spec=compat(server), timeout_s=5)
        options = ModelOptions(settings, FAST, None, {})
        request = RunRequest(target=str(EXAMPLE_APP), audits=["sqlite"], model=compat(server))

        def progress(total: int):  # type: ignore[no-untyped-def]
            return lambda outcome: seen.append(f"{outcome.status}/{total}")

        started = time.monotonic()
        run_audit(request, model=options, progress=progress)
    assert seen and len(seen) == len(server.requests)
    assert time.monotonic() - started < 30


def test_cost_is_accounted_per_audit_and_per_finding() -> None:
    with FakeModelServer() as server:
        report = audit("openai:gpt-4.1-mini", server, ["sqlite", "reliability"])
    assert isinstance(report, Report)
    by_audit = report.stats.cost_by_audit
    assert set(by_audit) == {"sqlite", "reliability"} and all(c > 0 for c in by_audit.values())
    assert sum(by_audit.values()) == pytest.approx(report.stats.cost_usd, abs=1e-5)
    model_findings = [f for f in report.findings if f.source == "model"]
    assert model_findings and all(f.cost_usd > 0 for f in model_findings)
    assert sum(f.cost_usd for f in report.findings) <= report.stats.cost_usd + 1e-6
