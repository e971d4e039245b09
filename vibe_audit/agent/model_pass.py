"""The model's part of a run: its options, the triage pass and sending a plan's jobs (live,
or through the provider's batch API). vibe_audit/pipeline.py calls these in order."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from vibe_audit.agent.batch import BatchRunner, BatchSettings
from vibe_audit.agent.cache import ResponseCache
from vibe_audit.agent.planner import PlanInputs, Price, cache_price_for, plan, price_for
from vibe_audit.agent.providers import ModelProvider, ProviderSettings, get_provider, is_model
from vibe_audit.agent.providers.base import has_batch_api
from vibe_audit.agent.runner import Progress, Runner, RunnerSettings, RunResult, Split
from vibe_audit.chunker.pack import PACK_TOKENS
from vibe_audit.errors import UserError
from vibe_audit.findings.verify import Scope
from vibe_audit.schemas import AuditId, Job, Plan, TriageStats


@dataclass(frozen=True)
class ModelOptions:
    """How to reach and pay for a model. Kept out of RunRequest: it holds the API key."""

    settings: ProviderSettings
    runner: RunnerSettings
    cache_dir: Path | None  # None: no cache
    prices: dict[str, Price]
    dry_run: bool = False
    interaction: bool = True  # interaction context in requests (agent/interaction.py)
    triage: str | None = None  # a cheap model's first pass picks the chunks for the model
    batch: BatchSettings | None = None  # --batch: the provider's batch API (agent/batch.py)
    pack_tokens: int = PACK_TOKENS  # code tokens per request (chunker/pack.py)
    keep_dismissed: bool = False  # rule findings the model dismissed stay scored


@dataclass(frozen=True)
class Triaged:
    """What a triage pass decided: the (audit, chunk id) pairs it flagged for the main
    model, the ones it cleared with the reason, its stats and its spend."""

    flagged: set[tuple[AuditId, str]]
    cleared: dict[tuple[AuditId, str], str]
    stats: TriageStats
    spent_usd: float


def checked_price(spec: str, provider: ModelProvider, options: ModelOptions) -> Price | None:
    """The model's price; a usage error for what the options ask and the model cannot do
    (--max-cost without a price, --batch without a batch API or without the cache)."""
    price = price_for(spec, provider.local, options.prices)
    if price is None and options.runner.max_cost_usd is not None:
        raise UserError(
            f"--max-cost needs a price for '{spec}': add it under [pricing] in "
            "the config (input/output USD per 1M tokens)"
        )
    if options.batch is not None:
        if not has_batch_api(provider):
            raise UserError(
                f"--batch needs an openai: or anthropic: model; {spec} has no batch API"
            )
        if options.cache_dir is None and not options.dry_run:
            raise UserError(
                "--batch keeps its batch ids and answers in the response cache: drop --no-cache"
            )
    return price


def request_scope(job: Job) -> dict[str, Scope]:
    """The files a job's request showed, each with its lines: a finding may point only there."""
    return {f.path: f.lines for f in job.files} or {job.path: job.lines}


def triage(
    options: ModelOptions,
    inputs: PlanInputs,
    progress: Callable[[int], Progress] | None,
    say: Callable[[str], None],
) -> Triaged:
    """Send every routed chunk to the triage model first (``inputs``: the main model's plan
    inputs). A chunk goes on to the main model in an audit when the triage answer has a
    finding on its lines, or when its triage request failed (never cleared by an answer
    that did not come)."""
    assert options.triage is not None
    spec = options.triage
    settings = ProviderSettings(
        spec=spec,
        timeout_s=options.settings.timeout_s,
        max_output_tokens=options.settings.max_output_tokens,
    )
    provider = get_provider(spec, settings)
    if not is_model(provider):
        raise UserError(f"--triage {spec}: the triage pass needs a model, not the rule engine")
    price = price_for(spec, provider.local, options.prices)
    if price is None and options.runner.max_cost_usd is not None:
        raise UserError(f"--max-cost needs a price for the triage model '{spec}'")
    triage_plan = plan(
        replace(
            inputs,
            spec=spec,
            provider_name=provider.name,
            model=provider.model,
            price=price,
            max_tokens_out=settings.max_output_tokens,
            cache_price=cache_price_for(spec, provider.local),
            triaged=None,
        )
    )
    say(f"triage: {len(triage_plan.jobs)} request(s) to {provider.description}")
    result = run_jobs(provider, price, options, triage_plan, progress, reask=False)
    by_chunk = {c.id: c for c in inputs.chunks}
    outcomes = {o.job_id: o for o in result.outcomes}
    flagged: set[tuple[AuditId, str]] = set()
    cleared: dict[tuple[AuditId, str], str] = {}
    for job in triage_plan.jobs:
        answer = result.answers.get(job.id)
        pack = [by_chunk[i] for i in job.chunk_ids]
        if answer is None:  # failed or over budget: the main model reads it
            flagged |= {(job.audit, c.id) for c in pack}
            continue
        lines = [(f.path, f.start_line, f.end_line) for f in answer.findings]
        for chunk in pack:
            if any(
                p == chunk.path and a <= chunk.end_line and chunk.start_line <= b
                for p, a, b in lines
            ):
                flagged.add((job.audit, chunk.id))
            else:
                cleared[(job.audit, chunk.id)] = f"triage: {spec} found nothing"
    say(f"triage: {len(flagged)} chunk x audit pair(s) flagged, {len(cleared)} cleared")
    stats = TriageStats(
        model=spec,
        requests=len(triage_plan.jobs),
        chunks_flagged=len(flagged),
        chunks_cleared=len(cleared),
        tokens_in=sum(o.tokens_in for o in outcomes.values()),
        tokens_out=sum(o.tokens_out for o in outcomes.values()),
        cost_usd=result.spent_usd,
    )
    return Triaged(flagged, cleared, stats, result.spent_usd)


def run_jobs(
    provider: ModelProvider,
    price: Price | None,
    options: ModelOptions,
    job_plan: Plan,
    progress: Callable[[int], Progress] | None,
    say: Callable[[str], None] = lambda _m: None,
    batch: BatchSettings | None = None,
    split: Split | None = None,
    reask: bool = True,
) -> RunResult:
    """The jobs, live or (``batch``, a provider with a batch API) through its batch API."""
    cache = ResponseCache(options.cache_dir) if options.cache_dir is not None else None
    tick = progress(len(job_plan.jobs)) if progress is not None else None

    async def go() -> RunResult:
        try:
            if batch is not None and cache is not None and has_batch_api(provider):
                return await BatchRunner(
                    provider,
                    price,
                    options.runner,
                    batch,
                    cache,
                    say=say,
                    progress=tick,
                    cache_price=cache_price_for(job_plan.model, provider.local),
                    split=split,
                ).run(job_plan.jobs)
            runner = Runner(
                provider,
                price,
                options.runner,
                cache=cache,
                progress=tick,
                cache_price=cache_price_for(job_plan.model, provider.local),
                split=split,
                reask=reask,
            )
            return await runner.run(job_plan.jobs)
        finally:
            await provider.aclose()

    try:
        return asyncio.run(go())
    finally:
        if cache is not None:
            cache.close()
