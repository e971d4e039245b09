"""An answer cut off at the output limit is never asked again unchanged: its pack is split
and each half asked on its own (down to one chunk, which is asked once more for a brief
answer). Over real HTTP against the local fake server (a test double, never a model)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from tests.agent.test_providers_runner import FAST, audit, compat
from tests.conftest import EXAMPLE_APP
from tests.fakes.servers import FakeModelServer
from vibe_audit.agent.planner import PlanInputs, plan_and_splitter
from vibe_audit.agent.providers import ProviderSettings, get_provider
from vibe_audit.agent.providers.base import is_model
from vibe_audit.agent.runner import Runner, RunnerSettings, hint_count
from vibe_audit.chunker import DiscoveryOptions, discover, recount, slice_file
from vibe_audit.index import indexed
from vibe_audit.schemas import Report

ONE_PACK = 50_000  # the example app (one directory) in one request per audit
SERIAL = RunnerSettings(concurrency=1, timeout_s=5.0, backoff_base_s=0.02, backoff_max_s=0.1)


def _model(report: Report) -> set[tuple[str, int]]:
    return {
        (f.location.path, f.location.start_line) for f in report.findings if f.source == "model"
    }


def test_a_truncated_pack_is_split_and_its_findings_kept(tmp_path: Path) -> None:
    with FakeModelServer() as clean_server:
        clean = audit(compat(clean_server), clean_server, ["sqlite"], SERIAL, pack_tokens=ONE_PACK)
    with FakeModelServer(faults={1: "length"}) as server:
        report = audit(
            compat(server), server, ["sqlite"], SERIAL, cache_dir=tmp_path, pack_tokens=ONE_PACK
        )
        bodies = list(server.bodies)
        sent = len(server.requests)
        again = audit(
            compat(server), server, ["sqlite"], SERIAL, cache_dir=tmp_path, pack_tokens=ONE_PACK
        )
        resent = len(server.requests) - sent
    assert isinstance(clean, Report) and isinstance(report, Report) and isinstance(again, Report)
    assert sum(clean.stats.jobs.values()) == 1  # one pack: the split is the only way out
    assert report.stats.model_events["split after truncation"] >= 1
    assert report.stats.unreviewed_jobs == [] and report.stats.jobs == {"answered": 1}
    assert _model(clean) and _model(clean) <= _model(report)  # every finding kept
    # No request body was ever sent twice (the cut-off one is never sent again).
    assert len(bodies) == len(set(bodies)) > 2
    # The halves' answers are cached under their own keys: a re-run sends nothing.
    assert resent == 0 and again.stats.jobs == {"cached": 1}
    assert _model(again) == _model(report)


def test_halves_partition_the_pack_with_their_own_hints_and_keys() -> None:
    found = discover(EXAMPLE_APP, DiscoveryOptions())
    chunks = [c for s in found.files for c in slice_file(s)]
    recount(chunks)
    repo = indexed(found.files)
    from vibe_audit.agent.providers.static import StaticProvider

    rules = StaticProvider().audit(repo, ["sqlite"]).findings
    plan, split = plan_and_splitter(
        PlanInputs(
            spec="x", provider_name="openai-compat", model="m", price=None, chunks=chunks,
            audits=["sqlite"], max_tokens_out=1024, rule_findings=rules, pack_tokens=ONE_PACK,
        )
    )  # fmt: skip
    (job,) = plan.jobs
    halves = split(job)
    assert len(halves) == 2
    assert halves[0].chunk_ids + halves[1].chunk_ids == job.chunk_ids
    assert len({job.cache_key, *(h.cache_key for h in halves)}) == 3
    assert len({job.id, *(h.id for h in halves)}) == 3
    assert hint_count(job.request) == sum(hint_count(h.request) for h in halves) > 0
    one = split(halves[0])
    while len(one) == 2:  # recursively, down to one chunk
        one = split(one[0])
    assert one == []


def test_a_single_chunk_cut_off_is_asked_once_more_briefly_never_unchanged() -> None:
    found = discover(EXAMPLE_APP, DiscoveryOptions())
    chunks = [c for s in found.files for c in slice_file(s)]
    recount(chunks)
    one = [c for c in chunks if "execute(" in c.text][:1]
    with FakeModelServer(faults={1: "length"}) as server:
        spec = compat(server)
        provider = get_provider(spec, ProviderSettings(spec=spec, base_url=f"{server.url}/v1"))
        assert is_model(provider)
        plan, _split = plan_and_splitter(
            PlanInputs(
                spec=spec, provider_name=provider.name, model=provider.model, price=None,
                chunks=one, audits=["sqlite"], max_tokens_out=1024, pack_tokens=1,
            )
        )  # fmt: skip
        job = plan.jobs[0]

        async def go() -> None:
            try:
                result = await Runner(provider, None, FAST).run([job])
            finally:
                await provider.aclose()
            assert result.outcomes[0].status == "answered"
            assert result.events["re-asked briefly after truncation"] == 1

        asyncio.run(go())
        bodies = list(server.bodies)
    assert len(bodies) == 2 and bodies[0] != bodies[1]
    assert "cut off at the output limit" in bodies[1]


def test_a_single_chunk_cut_off_twice_fails_and_is_reported() -> None:
    with FakeModelServer(always={"length"}) as server:
        report = audit(compat(server), server, ["sqlite"], FAST)
        bodies = list(server.bodies)
    assert isinstance(report, Report)
    assert report.stats.unreviewed_jobs and all(
        "cut off" in o.reason for o in report.stats.unreviewed_jobs
    )
    assert len(bodies) == len(set(bodies))  # never the same body twice
