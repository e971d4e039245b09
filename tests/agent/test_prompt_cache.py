"""Prompt caching: every request of one audit in one run starts with the same bytes (the
system message, then the audit line and the repository context), the providers' cache
controls mark that prefix, and the report counts the cached tokens and the saving. Against
the local fake model server (a test double with a simulated prompt cache)."""

from __future__ import annotations

import json
from collections import defaultdict

from tests.agent.test_providers_runner import FAST, audit, compat
from tests.fakes.servers import FakeModelServer
from vibe_audit.agent.providers.openai_chat import prompt_cache_key
from vibe_audit.report import render_markdown
from vibe_audit.schemas import Plan, Report

AUDITS = ["sqlite", "reliability"]


def test_the_shared_prefix_is_byte_identical_across_requests() -> None:
    with FakeModelServer() as server:
        plan = audit("openai:gpt-4.1-mini", server, AUDITS, dry_run=True)
    assert isinstance(plan, Plan)
    by_audit = defaultdict(list)
    for job in plan.jobs:
        by_audit[job.audit].append(job.request)
    for audit_id, requests in by_audit.items():
        assert len(requests) >= 3, audit_id
        prefixes = {r.system + r.user[: r.shared_prefix] for r in requests}
        assert len(prefixes) == 1, f"{audit_id}: requests do not share one prefix"
        first = requests[0]
        shared = first.user[: first.shared_prefix]
        assert shared.startswith(f"Audit: {audit_id} ") and "## Repository context" in shared
        # everything chunk-specific comes after the prefix
        assert all("- File: " not in r.user[: r.shared_prefix] for r in requests)
        assert all(r.data_token not in r.user[: r.shared_prefix] for r in requests)
        assert len({r.user for r in requests}) == len(requests)
    assert len({prompt_cache_key(rs[0]) for rs in by_audit.values()}) == len(AUDITS)


def test_anthropic_requests_mark_the_prefix_and_the_report_counts_cache_reads() -> None:
    with FakeModelServer() as server:
        report = audit("anthropic:claude-haiku-4-5", server, AUDITS, runner=FAST)
    assert isinstance(report, Report)
    bodies = [json.loads(b) for b in server.bodies]
    for body in bodies:
        assert body["system"][0]["cache_control"] == {"type": "ephemeral"}
        blocks = body["messages"][0]["content"]
        assert blocks[0]["cache_control"] == {"type": "ephemeral"}
        assert blocks[0]["text"].startswith("Audit: ") and "- File: " in blocks[1]["text"]
    stats = report.stats
    assert 0 < stats.tokens_cached < stats.tokens_in
    # haiku: input 1.00, cache read 0.10 USD per 1M tokens
    assert stats.cache_saving_usd == round(stats.tokens_cached * 0.90 / 1e6, 6)
    assert stats.cost_usd < (stats.tokens_in * 1.25 + stats.tokens_out * 5.0) / 1e6
    assert "from the provider's prompt cache, saving $" in render_markdown(report)


def test_openai_requests_carry_one_cache_key_per_audit() -> None:
    with FakeModelServer() as server:
        report = audit("openai:gpt-4.1-mini", server, AUDITS, runner=FAST)
        plain = audit(compat(server), server, ["sqlite"], runner=FAST)
    assert isinstance(report, Report) and isinstance(plain, Report)
    bodies = [json.loads(b) for b in server.bodies]
    keyed = [b for b in bodies if b["model"] == "gpt-4.1-mini"]
    keys = {b["prompt_cache_key"] for b in keyed}
    assert len(keys) == len(AUDITS) and all(k.startswith("vibe-audit-") for k in keys)
    assert all("prompt_cache_key" not in b for b in bodies if b["model"] == "fake-model")
    assert report.stats.tokens_cached > 0 and report.stats.cache_saving_usd > 0
    assert plain.stats.tokens_cached == 0  # no key sent to other servers: nothing claimed
