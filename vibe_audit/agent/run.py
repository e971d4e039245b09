"""One audit run: discover -> slice -> rules (+ model jobs) -> verify -> merge -> score -> Report.

The rule engine always runs. With a model, its findings are merged with the rules': a
model can add findings but cannot hide one the rules found.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from vibe_audit import __version__
from vibe_audit.agent.answers import to_findings
from vibe_audit.agent.batch import BatchRunner, BatchSettings, at_batch_price
from vibe_audit.agent.cache import ResponseCache
from vibe_audit.agent.context_pack import context_packs
from vibe_audit.agent.planner import Price, cache_price_for, plan, plan_and_splitter, price_for
from vibe_audit.agent.providers import ModelProvider, ProviderSettings, get_provider, is_model
from vibe_audit.agent.providers.base import has_batch_api
from vibe_audit.agent.providers.static import StaticProvider
from vibe_audit.agent.runner import Progress, Runner, RunnerSettings, RunResult, Split
from vibe_audit.chunker import DiscoveryOptions, discover, recount, slice_file, token_counter
from vibe_audit.chunker.pack import PACK_TOKENS
from vibe_audit.chunker.testcode import SKIP_REASON as TEST_CODE
from vibe_audit.errors import UserError
from vibe_audit.findings.absence import check_absences
from vibe_audit.findings.coverage import build_coverage
from vibe_audit.findings.fingerprint import fingerprint
from vibe_audit.findings.merge import merge, number
from vibe_audit.findings.score import build_section
from vibe_audit.findings.suppress import suppress
from vibe_audit.findings.verify import RequestScope, Scope, verify
from vibe_audit.findings.wording import repo_words
from vibe_audit.index import indexed
from vibe_audit.prompts import get_audit
from vibe_audit.rules.context import RepoContext
from vibe_audit.rules.engine import rules_for
from vibe_audit.rules.environment import absent_subject
from vibe_audit.schemas import (
    AUDIT_IDS,
    Assumption,
    AuditId,
    Chunk,
    Coverage,
    Finding,
    Job,
    Plan,
    Report,
    RunRequest,
    RunStats,
    TriageStats,
)
from vibe_audit.schemas.answer import HintVerdict
from vibe_audit.schemas.models import DismissedFinding


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


def run_audit(
    request: RunRequest,
    say: Callable[[str], None] = lambda _msg: None,
    clock: Callable[[], float] = time.perf_counter,
    model: ModelOptions | None = None,
    progress: Callable[[int], Progress] | None = None,
) -> Report | Plan:
    """Audit ``request.target``; a Plan instead of a Report for a dry run."""
    started = clock()
    options = DiscoveryOptions(
        max_bytes=request.max_file_bytes,
        include=tuple(request.include),
        exclude=tuple(request.exclude),
        include_tests=request.include_tests,
    )
    settings = model.settings if model else ProviderSettings(spec=request.model)
    provider = get_provider(request.model, settings)
    found = discover(Path(request.target), options)
    if not found.files:
        reasons = ", ".join(f"{r}: {n}" for r, n in found.skip_counts().items()) or "empty"
        raise UserError(f"nothing to audit under {request.target} ({reasons})")
    tests = found.skip_counts().get(TEST_CODE, 0)
    note = f" ({tests} test file(s); --include-tests audits them)" if tests else ""
    say(f"found {len(found.files)} file(s) to audit, skipped {len(found.skipped)}{note}")
    chunks = [chunk for source in found.files for chunk in slice_file(source)]
    if request.focus is not None:  # a review: only chunks touching changed lines
        focus = request.focus
        chunks = [
            c
            for c in chunks
            if any(a <= c.end_line and c.start_line <= b for a, b in focus.get(c.path, []))
        ]
    recount(chunks)
    repo = indexed(found.files)
    parse_errors = [ctx.source.path for ctx in repo.files if ctx.root.has_error]
    static = StaticProvider().audit(repo, request.audits, request.rules)
    model_found: list[tuple[Finding, RequestScope]] = []  # each with what its request showed
    verdicts: list[tuple[Job, HintVerdict]] = []
    model_name = ""
    checked = set(static.checked_items)
    # Items a model marked not applicable to the stack, with its reason; an item another
    # request examined without calling it not applicable applies somewhere (applies_to).
    stack_not_applicable: dict[str, str] = {}
    applies_to: set[str] = set()
    assumptions = {a: list(static.assumptions[a]) for a in request.audits}
    reviewed = dict.fromkeys(request.audits, False)
    result: RunResult | None = None
    job_plan: Plan | None = None
    cleared: dict[tuple[AuditId, str], str] = {}
    triage_stats: TriageStats | None = None
    if is_model(provider):
        options_ = model or ModelOptions(settings, RunnerSettings(), None, {})
        price = price_for(request.model, provider.local, options_.prices)
        if price is None and options_.runner.max_cost_usd is not None:
            raise UserError(
                f"--max-cost needs a price for '{request.model}': add it under [pricing] in "
                "the config (input/output USD per 1M tokens)"
            )
        if options_.batch is not None:
            if not has_batch_api(provider):
                raise UserError(
                    f"--batch needs an openai: or anthropic: model; {request.model} has no "
                    "batch API"
                )
            if options_.cache_dir is None and not options_.dry_run:
                raise UserError(
                    "--batch keeps its batch ids and answers in the response cache: drop --no-cache"
                )
        triaged: set[tuple[AuditId, str]] | None = None
        if options_.triage and not options_.dry_run:
            triaged, cleared, triage_stats, triage_spent = _triage(
                options_, request, chunks, static.findings, repo, progress, say
            )
            if options_.runner.max_cost_usd is not None:
                left = max(options_.runner.max_cost_usd - triage_spent, 0.0)
                options_ = replace(options_, runner=replace(options_.runner, max_cost_usd=left))
        job_plan, split = plan_and_splitter(
            request.model,
            provider.name,
            provider.model,
            price,
            chunks,
            request.audits,
            static.findings,
            context_packs(repo.facts, request.audits),
            settings.max_output_tokens,
            pack_tokens=options_.pack_tokens,
            resources=repo.resources if options_.interaction else None,
            interaction=options_.interaction,
            cache_price=cache_price_for(request.model, provider.local),
            triaged=triaged,
        )
        if options_.dry_run:
            asyncio.run(provider.aclose())
            return at_batch_price(job_plan) if options_.batch else job_plan
        how = "in batches " if options_.batch else ""
        say(f"sending {len(job_plan.jobs)} request(s) {how}to {provider.description}")
        result = _run_jobs(
            provider, price, options_, job_plan, progress, say, options_.batch, split
        )
        by_id = {job.id: job for job in job_plan.jobs}
        spent = {o.job_id: o.cost_usd for o in result.outcomes}
        model_name = f"{provider.name}:{provider.model}"
        for job in job_plan.jobs:  # in plan order: nothing depends on the order answers came in
            if job.id not in result.answers:
                continue
            job_id, answer = job.id, result.answers[job.id]
            spec = get_audit(job.audit)
            raised = to_findings(answer, spec, model_name)
            for finding in raised:
                finding.cost_usd = round(spent.get(job_id, 0.0) / len(raised), 6)
                model_found.append((finding, _scope(job)))
            verdicts += [(job, verdict) for verdict in answer.hint_verdicts]
            checked |= {i for i in answer.checked_items if i.startswith(f"{job.audit}.")}
            marked = {n.item for n in answer.not_applicable}
            applies_to |= set(answer.checked_items) - marked
            for entry in answer.not_applicable:
                if entry.item.startswith(f"{job.audit}."):
                    stack_not_applicable.setdefault(entry.item, entry.reason)
            assumptions[job.audit] += [
                Assumption(
                    topic=f"Needs Confirmation ({', '.join(p for p in _scope(job))})",
                    value=item,
                    needs_confirmation=True,
                    suspicious=True,
                )
                for item in answer.needs_confirmation
            ]
        unreviewed = {
            o.audit for o in result.outcomes if o.status in ("failed", "skipped (budget)")
        }
        reviewed = {a: a not in unreviewed for a in request.audits}
        result.outcomes = [
            o.model_copy(update={"files": by_id[o.job_id].files}) if o.job_id in by_id else o
            for o in result.outcomes
        ]
    lines_by_path = {s.path: s.text.splitlines() for s in found.files}
    keep = model.keep_dismissed if model else False
    rule_found, dismissed = _apply_verdicts(static.findings, verdicts, model_name, keep)
    findings = rule_found + [f for f, _ in model_found]
    scopes = {len(rule_found) + n: scope for n, (_, scope) in enumerate(model_found)}
    verified, dropped = verify(findings, lines_by_path, scopes)
    verified = check_absences(verified, lines_by_path, dropped)  # re-run absence searches
    verified = _with_symbols(verified, chunks)
    kept, suppressed = suppress(merge(verified), lines_by_path, set(request.baseline))
    merged: list[Finding] = number(kept)
    outcomes = result.outcomes if result else []
    coverage = build_coverage(
        request.audits,
        chunks,
        found.skipped,
        plan=job_plan,
        outcomes=outcomes,
        empty=result.empty if result else None,
        cleared=cleared,
        rule_languages={
            a: {
                lang
                for rule in rules_for([a], rule_set=request.rules)
                for lang in rule.meta.languages
            }
            for a in request.audits
        },
    )
    texts = [source.text for source in found.files]
    words = repo_words(repo)
    sections = [
        build_section(
            get_audit(audit_id),
            merged,
            assumptions[audit_id],
            checked,
            reviewed[audit_id],
            files_audited=len(found.files),
            not_audited=_not_audited(coverage, audit_id),
            not_applicable=absent_subject(audit_id, texts),
            words=words,
            stack_not_applicable={
                i: r for i, r in stack_not_applicable.items() if i not in applies_to
            },
        )
        for audit_id in request.audits
    ]
    stats = RunStats(
        root=str(found.root),
        files_discovered=len(found.files) + len(found.skipped),
        files_audited=len(found.files),
        files_skipped=found.skip_counts(),
        skipped=found.skipped,
        discovery="git" if found.source == "git" else "walk",
        secrets_redacted=dict(sorted(found.secrets_redacted.items())),
        chunks=len(chunks),
        parse_errors=parse_errors,
        provider=provider.name,
        model=getattr(provider, "model", None),
        model_note=provider.description,
        chunk_tokens=sum(c.tokens for c in chunks),
        tokens_in=sum(o.tokens_in for o in outcomes)
        + (triage_stats.tokens_in if triage_stats else 0),
        tokens_out=sum(o.tokens_out for o in outcomes)
        + (triage_stats.tokens_out if triage_stats else 0),
        tokens_cached=sum(o.tokens_cached for o in outcomes),
        cache_saving_usd=result.saved_usd if result else 0.0,
        token_counter=token_counter(),
        cost_usd=round(
            (result.spent_usd if result else 0.0) + (triage_stats.cost_usd if triage_stats else 0),
            6,
        ),
        elapsed_s=round(clock() - started, 3),
        rules_run=len(rules_for(request.audits, repo, request.rules)),
        findings_dropped=dict(sorted({**dropped, **(result.dropped if result else {})}.items())),
        suppressed=suppressed,
        jobs=dict(sorted(Counter(o.status for o in outcomes).items())),
        unreviewed_jobs=[o for o in outcomes if o.status in ("failed", "skipped (budget)")],
        model_events=dict(sorted(result.events.items())) if result else {},
        router_skipped={a.audit: a.chunks_skipped_by_router for a in job_plan.audits}
        if job_plan
        else {},
        triage=triage_stats,
        cost_by_audit={
            a: round(sum(o.cost_usd for o in outcomes if o.audit == a), 6) for a in request.audits
        }
        if outcomes
        else {},
    )
    return Report(
        tool_version=__version__,
        audits=request.audits,
        prompt_versions={a: get_audit(a).version for a in request.audits},
        sections=sections,
        findings=merged,
        stats=stats,
        coverage=coverage,
        dismissed=dismissed,
    )


def _hint_id(text: str) -> str:
    """'H3' from 'H3', 'h3', ' H3: ...' (how models echo a hint's id)."""
    match = re.match(r"\s*H(\d+)", text, re.IGNORECASE)
    return f"H{int(match.group(1))}" if match else text.strip()


def _apply_verdicts(
    rule_findings: list[Finding],
    verdicts: list[tuple[Job, HintVerdict]],
    model: str,
    keep_dismissed: bool,
) -> tuple[list[Finding], list[DismissedFinding]]:
    """The rule findings to score, and those the model dismissed. A rule finding is hinted
    in each request (of each of its audits) that shows its line: confirmed by any of them,
    it stays, marked as confirmed by the model (sources rule + model); dismissed by one and
    confirmed by none, it leaves the scored findings (``keep_dismissed``: it stays) and is
    listed with the first dismissal's reason (plan order). A hint no answer mentions changes
    nothing."""
    said: dict[str, list[tuple[AuditId, HintVerdict]]] = {}
    for job, verdict in verdicts:
        target = job.hints.get(_hint_id(verdict.hint))
        if target is not None:
            said.setdefault(target, []).append((job.audit, verdict))
    scored: list[Finding] = []
    dismissed: list[DismissedFinding] = []
    for finding in rule_findings:
        answers = said.get(finding.fingerprint, [])
        if any(v.verdict == "confirmed" for _, v in answers):
            finding = finding.model_copy(update={"sources": ["rule", "model"], "model": model})
        elif answers:
            dismissed.append(
                DismissedFinding(
                    finding=finding,
                    reason=answers[0][1].reason,
                    model=model,
                    audits=[a for a in AUDIT_IDS if any(a == b for b, _ in answers)],
                    kept=keep_dismissed,
                )
            )
            if not keep_dismissed:
                continue
        scored.append(finding)
    dismissed.sort(
        key=lambda d: (d.finding.location.path, d.finding.location.start_line, d.finding.rule_id)
    )
    numbered = [
        d.model_copy(update={"finding": d.finding.model_copy(update={"id": f"D{n}"})})
        for n, d in enumerate(dismissed, start=1)
    ]
    return scored, numbered


def _scope(job: Job) -> dict[str, Scope]:
    """The files a job's request showed, each with its lines: a finding may point only there."""
    return {f.path: f.lines for f in job.files} or {job.path: job.lines}


def _not_audited(coverage: Coverage, audit: AuditId) -> int:
    summary = coverage.for_audit(audit)
    return summary.not_audited if summary else 0


def _with_symbols(findings: list[Finding], chunks: list[Chunk]) -> list[Finding]:
    """Name the enclosing symbol of findings that gave none (from the innermost chunk around
    their first line), so two alike defects in different functions keep distinct
    fingerprints."""
    by_path: dict[str, list[Chunk]] = {}
    for chunk in chunks:
        if chunk.symbol:
            by_path.setdefault(chunk.path, []).append(chunk)
    out = []
    for finding in findings:
        where = finding.location
        around = [
            c for c in by_path.get(where.path, []) if c.start_line <= where.start_line <= c.end_line
        ]
        if where.symbol is None and around:
            inner = min(around, key=lambda c: c.end_line - c.start_line)
            finding = finding.model_copy(
                update={"location": where.model_copy(update={"symbol": inner.symbol})}
            )
            finding.fingerprint = fingerprint(finding)
        out.append(finding)
    return out


def _triage(
    options: ModelOptions,
    request: RunRequest,
    chunks: list[Chunk],
    rule_findings: list[Finding],
    repo: RepoContext,
    progress: Callable[[int], Progress] | None,
    say: Callable[[str], None],
) -> tuple[set[tuple[AuditId, str]], dict[tuple[AuditId, str], str], TriageStats, float]:
    """Send every routed chunk to the triage model first. A chunk goes on to the main model
    in an audit when the triage answer has a finding on its lines, or when its triage
    request failed (never cleared by an answer that did not come). Returns the flagged
    (audit, chunk id) pairs, the cleared ones with the reason, the stats and the spend."""
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
        spec, provider.name, provider.model, price, chunks, request.audits, rule_findings,
        context_packs(repo.facts, request.audits), settings.max_output_tokens,
        pack_tokens=options.pack_tokens, cache_price=cache_price_for(spec, provider.local),
        resources=repo.resources if options.interaction else None,
        interaction=options.interaction,
    )  # fmt: skip
    say(f"triage: {len(triage_plan.jobs)} request(s) to {provider.description}")
    result = _run_jobs(provider, price, options, triage_plan, progress, reask=False)
    by_chunk = {c.id: c for c in chunks}
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
    return flagged, cleared, stats, result.spent_usd


def _run_jobs(
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
