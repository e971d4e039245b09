"""Plan the model requests: route chunks, pack them, render, estimate tokens and cost.

Jobs are (audit x pack of routed chunks: of one file, or of several files of a directory).
Input tokens are counted on the rendered request; the cost estimate assumes the answer uses
all of --max-output-tokens, so a budget reserved from it can never be overrun.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from functools import cache
from importlib import resources

from vibe_audit.agent.cache import cache_key
from vibe_audit.agent.interaction import InteractionIndex, interaction_budget
from vibe_audit.agent.requests import hints_for
from vibe_audit.agent.router import applies
from vibe_audit.chunker.pack import PACK_TOKENS, pack
from vibe_audit.chunker.tokens import count_tokens_batch
from vibe_audit.prompts import get_audit
from vibe_audit.prompts.render import render_request
from vibe_audit.schemas import AuditId, AuditPlan, Chunk, Finding, Job, Plan
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


def plan(
    spec: str,
    provider_name: str,
    model: str,
    price: Price | None,
    chunks: list[Chunk],
    audits: list[AuditId],
    rule_findings: list[Finding],
    repo_context: str | Mapping[AuditId, str],
    max_tokens_out: int,
    pack_tokens: int = PACK_TOKENS,
    cache_price: CachePrice = (None, None),
    resources: ResourceMap | None = None,
    interaction: bool = True,
    triaged: set[tuple[AuditId, str]] | None = None,
) -> Plan:
    """The jobs of a run. ``repo_context`` is the repository context pack, one for every
    audit or one per audit. With ``resources`` and ``interaction`` on, each request carries
    the other readers and writers of the resources its code touches (agent/interaction.py)."""
    jobs: list[Job] = []
    contexts: dict[tuple[str, ...], list[Resource]] = {}
    index = InteractionIndex(resources) if interaction and resources is not None else None
    summaries: list[AuditPlan] = []
    params = {"max_tokens": max_tokens_out, "temperature": 0}
    for audit in audits:
        spec_ = get_audit(audit)
        context = repo_context if isinstance(repo_context, str) else repo_context.get(audit, "")
        routed = [
            c
            for c in chunks
            if _routed(spec_, c, bool(hints_for(c, rule_findings, audit)), triaged)
        ]
        requests = []
        for group in pack(routed, pack_tokens):
            several = len(group.files) > 1
            hints = [
                f"{c.path}: {h}" if several else h
                for c in group.chunks
                for h in hints_for(c, rule_findings, audit)
            ]
            others: list[Resource] = []
            if index is not None:
                key = tuple(c.id for c in group.chunks)
                if key not in contexts:
                    contexts[key] = index.for_pack(
                        group.chunks, interaction_budget(len(group.files))
                    )
                others = contexts[key]
            requests.append((group, render_request(spec_, group.chunks, hints, context, others)))
        counts = count_tokens_batch([r.system + r.user for _, r in requests])
        audit_jobs = []
        for (group, request), tokens_in in zip(requests, counts, strict=True):
            cost = _cost(price, tokens_in, max_tokens_out, cache_price[1])
            audit_jobs.append(
                Job(
                    id=f"{audit}:{group.id}",
                    audit=audit,
                    path=group.path,
                    chunk_ids=[c.id for c in group.chunks],
                    lines=group.files[0].lines,
                    files=group.files,
                    request=request,
                    cache_key=cache_key(
                        provider_name, model, spec_.version, request.system + request.user, params
                    ),
                    tokens_in=tokens_in,
                    max_tokens_out=max_tokens_out,
                    cost_usd=cost,
                )
            )
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
    return Plan(model=spec, priced=price is not None, jobs=jobs, audits=summaries)


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
