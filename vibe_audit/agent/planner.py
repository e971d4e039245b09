"""Plan the model requests: route chunks, pack them, render, estimate tokens and cost.

Jobs are (audit x pack of routed chunks: of one file, or of several files of a directory).
Input tokens are counted on the rendered request; the cost estimate assumes the answer uses
all of --max-output-tokens, so a budget reserved from it can never be overrun.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib import resources

from vibe_audit.agent.cache import cache_key
from vibe_audit.agent.interaction import InteractionIndex, interaction_budget
from vibe_audit.agent.requests import hint_ids, hints_for
from vibe_audit.agent.router import applies
from vibe_audit.chunker.pack import PACK_TOKENS, pack
from vibe_audit.chunker.tokens import count_tokens_batch
from vibe_audit.prompts import get_audit
from vibe_audit.prompts.render import render_request
from vibe_audit.schemas import AuditId, AuditPlan, Chunk, ChunkPack, Finding, Job, Plan
from vibe_audit.schemas.audit_spec import AuditSpec
from vibe_audit.schemas.resources import Resource, ResourceMap

Price = tuple[float, float]  # USD per 1M input tokens, per 1M output tokens
CachePrice = tuple[float | None, float | None]  # USD per 1M cached-input, cache-write tokens


@cache
def builtin_prices() -> dict[str, Price]:
    data = tomllib.loads(
        (resources.files("vibe_audit.agent") / "pricing.toml").read_text(encoding="utf-8")
    )
    return {spec: (float(p["input"]), float(p["output"])) for spec, p in data.items()}


@cache
def builtin_cache_prices() -> dict[str, CachePrice]:
    data = tomllib.loads(
        (resources.files("vibe_audit.agent") / "pricing.toml").read_text(encoding="utf-8")
    )
    return {
        spec: (_maybe(p.get("cached_input")), _maybe(p.get("cache_write")))
        for spec, p in data.items()
    }


def _maybe(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) else None


def cache_price_for(spec: str, local: bool) -> CachePrice:
    """Prompt-cache prices of a model (cached input, cache write), None where unknown."""
    return (None, None) if local else builtin_cache_prices().get(spec, (None, None))


def price_for(spec: str, local: bool, overrides: dict[str, Price]) -> Price | None:
    if local:
        return (0.0, 0.0)
    return overrides.get(spec) or builtin_prices().get(spec)


@dataclass(frozen=True, kw_only=True)
class PlanInputs:
    """What a plan is made of. ``repo_context`` is the repository context pack, one for
    every audit or one per audit. With ``resources`` and ``interaction`` on, each request
    carries the other readers and writers of the resources its code touches
    (agent/interaction.py). ``triaged``: after a triage pass, the (audit, chunk id) pairs it
    flagged (a chunk no rule hit goes to the model only then)."""

    spec: str  # the model spec as given, e.g. "openai:gpt-4.1-mini"
    provider_name: str
    model: str
    price: Price | None
    chunks: list[Chunk]
    audits: list[AuditId]
    max_tokens_out: int
    rule_findings: list[Finding] = field(default_factory=list)
    repo_context: str | Mapping[AuditId, str] = ""
    pack_tokens: int = PACK_TOKENS
    cache_price: CachePrice = (None, None)
    resources: ResourceMap | None = None
    interaction: bool = True
    triaged: set[tuple[AuditId, str]] | None = None


def plan(inputs: PlanInputs) -> Plan:
    """The jobs of a run."""
    return plan_and_splitter(inputs)[0]


def plan_and_splitter(inputs: PlanInputs) -> tuple[Plan, Splitter]:
    """``plan``, and the Splitter that re-plans any of its jobs as two halves."""
    chunks, shared = inputs.chunks, inputs.resources if inputs.interaction else None
    index = InteractionIndex(shared) if shared is not None else None
    jobs_of = _JobMaker(
        inputs.provider_name, inputs.model, inputs.price, inputs.cache_price,
        inputs.rule_findings, inputs.repo_context, index, inputs.max_tokens_out,
    )  # fmt: skip
    jobs: list[Job] = []
    summaries: list[AuditPlan] = []
    for audit in inputs.audits:
        spec_ = get_audit(audit)
        routed = [
            c
            for c in chunks
            if _routed(spec_, c, bool(hints_for(c, inputs.rule_findings, audit)), inputs.triaged)
        ]
        audit_jobs = jobs_of(audit, pack(routed, inputs.pack_tokens))
        jobs += audit_jobs
        summaries.append(
            AuditPlan(
                audit=audit,
                jobs=len(audit_jobs),
                chunks_routed=len(routed),
                chunks_skipped_by_router=len(chunks) - len(routed),
                tokens_in=sum(j.tokens_in for j in audit_jobs),
                cost_usd=round(sum(j.cost_usd for j in audit_jobs), 6),
            )
        )
    plan_ = Plan(model=inputs.spec, priced=inputs.price is not None, jobs=jobs, audits=summaries)
    return plan_, Splitter(jobs_of, chunks)


class _JobMaker:
    """Renders packs of chunks into jobs (a plan's, and the halves of a split job)."""

    def __init__(
        self,
        provider_name: str,
        model: str,
        price: Price | None,
        cache_price: CachePrice,
        rule_findings: list[Finding],
        repo_context: str | Mapping[AuditId, str],
        index: InteractionIndex | None,
        max_tokens_out: int,
    ) -> None:
        self.provider_name, self.model, self.price = provider_name, model, price
        self.cache_price, self.rule_findings = cache_price, rule_findings
        self.repo_context, self.index, self.max_tokens_out = repo_context, index, max_tokens_out
        self.contexts: dict[tuple[str, ...], list[Resource]] = {}

    def __call__(self, audit: AuditId, groups: list[ChunkPack]) -> list[Job]:
        spec_ = get_audit(audit)
        context = (
            self.repo_context
            if isinstance(self.repo_context, str)
            else self.repo_context.get(audit, "")
        )
        params = {"max_tokens": self.max_tokens_out, "temperature": 0}
        requests = []
        for group in groups:
            several = len(group.files) > 1
            hints = [
                f"{c.path}: {h}" if several else h
                for c in group.chunks
                for h in hints_for(c, self.rule_findings, audit)
            ]
            others: list[Resource] = []
            if self.index is not None:
                key = tuple(c.id for c in group.chunks)
                if key not in self.contexts:
                    self.contexts[key] = self.index.for_pack(
                        group.chunks, interaction_budget(len(group.files))
                    )
                others = self.contexts[key]
            requests.append((group, render_request(spec_, group.chunks, hints, context, others)))
        counts = count_tokens_batch([r.system + r.user for _, r in requests])
        jobs = []
        for (group, request), tokens_in in zip(requests, counts, strict=True):
            cost = _cost(self.price, tokens_in, self.max_tokens_out, self.cache_price[1])
            jobs.append(
                Job(
                    id=f"{audit}:{group.id}",
                    audit=audit,
                    path=group.path,
                    chunk_ids=[c.id for c in group.chunks],
                    lines=group.files[0].lines,
                    files=group.files,
                    request=request,
                    hints=hint_ids(group.chunks, self.rule_findings, audit),
                    cache_key=cache_key(
                        self.provider_name,
                        self.model,
                        spec_.version,
                        request.system + request.user,
                        params,
                    ),
                    tokens_in=tokens_in,
                    max_tokens_out=self.max_tokens_out,
                    cost_usd=cost,
                )
            )
        return jobs


class Splitter:
    """Re-plans a job's pack of chunks as two halves, each rendered as its own request with
    its own hints, interaction context and cache key (agent/runner.py calls it when an
    answer was cut off at the output limit). A job of one chunk cannot be split: []."""

    def __init__(self, jobs_of: _JobMaker, chunks: list[Chunk]) -> None:
        self.jobs_of = jobs_of
        self.by_id = {c.id: c for c in chunks}

    def __call__(self, job: Job) -> list[Job]:
        chunks = [self.by_id[i] for i in job.chunk_ids if i in self.by_id]
        if len(chunks) < 2 or len(chunks) != len(job.chunk_ids):
            return []
        total, size, cut = sum(c.tokens for c in chunks), 0, 1
        for n, chunk in enumerate(chunks[:-1], start=1):  # the halves weigh about the same
            size += chunk.tokens
            cut = n
            if size * 2 >= total:
                break
        # One pack each (a job's chunks are of one directory): no budget cuts them again.
        halves = [pack(chunks[:cut], 1 << 62), pack(chunks[cut:], 1 << 62)]
        if any(len(h) != 1 for h in halves):
            return []
        jobs = self.jobs_of(job.audit, [h[0] for h in halves])
        return [j.model_copy(update={"id": f"{job.id}/{n}"}) for n, j in enumerate(jobs, 1)]


def _routed(
    spec: AuditSpec, chunk: Chunk, rule_hit: bool, triaged: set[tuple[AuditId, str]] | None
) -> bool:
    """The audit's signals route the chunk; after a triage pass, only if a rule or the
    triage model flagged it too."""
    if not applies(spec, chunk, rule_hit=rule_hit):
        return False
    return triaged is None or rule_hit or (spec.id, chunk.id) in triaged


def _cost(
    price: Price | None, tokens_in: int, tokens_out: int, cache_write: float | None = None
) -> float:
    """Worst case: every input token billed at the higher of the input and cache-write
    price (a request may write the shared prefix to the provider's cache)."""
    if price is None:
        return 0.0
    per_input = max(price[0], cache_write or 0.0)
    return (tokens_in * per_input + tokens_out * price[1]) / 1_000_000


def render_plan(plan: Plan) -> str:
    lines = [f"plan for {plan.model} (dry run: no model was called)", ""]
    lines.append(
        f"{'audit':<12} {'jobs':>5} {'chunks':>7} {'skipped':>8} {'tokens in':>10} "
        f"{'max cost $':>11}"
    )
    for a in plan.audits:
        cost = f"{a.cost_usd:.4f}" if plan.priced else "unpriced"
        lines.append(
            f"{a.audit:<12} {a.jobs:>5} {a.chunks_routed:>7} {a.chunks_skipped_by_router:>8} "
            f"{a.tokens_in:>10} {cost:>11}"
        )
    total_cost = sum(a.cost_usd for a in plan.audits)
    total = f"{total_cost:.4f}" if plan.priced else "unpriced"
    lines.append(
        f"{'total':<12} {len(plan.jobs):>5} {'':>7} {'':>8} "
        f"{sum(a.tokens_in for a in plan.audits):>10} {total:>11}"
    )
    lines += ["", "max cost assumes every answer uses all of --max-output-tokens; "
              "'skipped' chunks matched none of the audit's applies-to signals."]  # fmt: skip
    return "\n".join(lines) + "\n"
