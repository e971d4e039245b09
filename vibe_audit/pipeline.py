"""One audit run as named steps, each taking and returning models or small frozen dataclasses:

    discover -> chunk -> index -> rules -> plan (route, pack; a triage pass first when asked)
    -> run (the model) -> judge hints -> verify -> merge -> coverage -> score -> report

The rule engine always runs. With a model, its findings are merged with the rules': a model
can add findings but cannot hide one the rules found (it may dismiss a rule's hint: listed
with the reason, not scored). ``run_audit`` is the list of steps.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from vibe_audit import __version__
from vibe_audit.agent.answers import to_findings
from vibe_audit.agent.batch import at_batch_price
from vibe_audit.agent.context_pack import context_packs
from vibe_audit.agent.model_pass import (
    ModelOptions,
    Triaged,
    checked_price,
    request_scope,
    run_jobs,
    triage,
)
from vibe_audit.agent.planner import PlanInputs, Price, Splitter, cache_price_for, plan_and_splitter
from vibe_audit.agent.providers import ModelProvider, ProviderSettings, get_provider, is_model
from vibe_audit.agent.providers.base import Provider, ProviderResult
from vibe_audit.agent.providers.static import StaticProvider
from vibe_audit.agent.runner import Progress, RunnerSettings, RunResult
from vibe_audit.chunker import (
    Discovery,
    DiscoveryOptions,
    discover,
    recount,
    slice_file,
    token_counter,
)
from vibe_audit.chunker.testcode import SKIP_REASON as TEST_CODE
from vibe_audit.errors import UserError
from vibe_audit.findings.absence import check_absences
from vibe_audit.findings.coverage import build_coverage
from vibe_audit.findings.fingerprint import fingerprint
from vibe_audit.findings.merge import merge, number
from vibe_audit.findings.score import build_section
from vibe_audit.findings.suppress import suppress
from vibe_audit.findings.verify import ScopedFinding, verify
from vibe_audit.findings.wording import repo_words
from vibe_audit.fixes import verify_patches
from vibe_audit.index import indexed
from vibe_audit.prompts import get_audit
from vibe_audit.rules.context import RepoContext
from vibe_audit.rules.engine import rules_for
from vibe_audit.rules.environment import absent_subject
from vibe_audit.schemas import (
    AUDIT_IDS,
    Assumption,
    AuditId,
    AuditSection,
    Chunk,
    Coverage,
    Finding,
    Job,
    Plan,
    Report,
    RunRequest,
    RunStats,
)
from vibe_audit.schemas.answer import HintVerdict
from vibe_audit.schemas.models import DismissedFinding

_LOST = ("failed", "skipped (budget)")  # job statuses that leave their audit unreviewed


def run_audit(
    request: RunRequest,
    say: Callable[[str], None] = lambda _msg: None,
    clock: Callable[[], float] = time.perf_counter,
    model: ModelOptions | None = None,
    progress: Callable[[int], Progress] | None = None,
    patch_limit: int = 0,
) -> Report | Plan:
    """Audit ``request.target``; a Plan instead of a Report for a dry run. At most
    ``patch_limit`` rule patches are verified in full (re-running their rule on the patched
    repository: the review bot's suggestions and ``vibe-audit fix`` need it); the others
    are checked to apply and parse, and reported as proposed."""
    started = clock()
    settings = model.settings if model else ProviderSettings(spec=request.model)
    provider = get_provider(request.model, settings)
    found = discover_files(request, say)
    chunks = chunk(found, request)
    sources = index(found, chunks)
    rules = run_rules(sources, request, patch_limit)
    answers = ModelPass()
    if is_model(provider):
        options = model or ModelOptions(settings, RunnerSettings(), None, {})
        planned = plan_jobs(request, options, provider, sources, rules, progress, say)
        if options.dry_run:
            return dry_run(planned, provider)
        answers = run_model(planned, provider, progress, say)
    judged = judge_hints(rules, answers, keep_dismissed=model.keep_dismissed if model else False)
    verified = verify_findings(sources, judged, answers)
    merged = merge_findings(sources, verified, request)
    coverage = cover(request, sources, answers)
    sections = score(request, sources, rules, answers, merged, coverage)
    elapsed = round(clock() - started, 3)
    stats = run_stats(request, sources, provider, answers, verified, merged, elapsed)
    return report(request, sections, merged, stats, coverage, judged)


# -- what the steps pass on ------------------------------------------------------------------


@dataclass(frozen=True)
class Sources:
    """What is audited: the discovered files, their chunks, the parsed repository with its
    resource index, and each file's lines (what findings are verified against)."""

    found: Discovery
    chunks: list[Chunk]
    repo: RepoContext
    lines: dict[str, list[str]]


@dataclass(frozen=True)
class Planned:
    """The model's jobs, ready to send. ``options``: the run's, with what the triage pass
    spent taken off the budget."""

    plan: Plan
    split: Splitter
    price: Price | None
    options: ModelOptions
    triage: Triaged | None = None


@dataclass(frozen=True)
class ModelPass:
    """What the model's answers said, in plan order (empty for a rules-only run)."""

    name: str = ""  # provider:model
    plan: Plan | None = None
    result: RunResult | None = None
    triage: Triaged | None = None
    findings: list[ScopedFinding] = field(default_factory=list)  # each with its request's scope
    verdicts: list[tuple[Job, HintVerdict]] = field(default_factory=list)  # on rule hints
    checked: set[str] = field(default_factory=set)  # checklist items a request examined
    needs_confirmation: dict[AuditId, list[Assumption]] = field(default_factory=dict)
    # Items a model marked not applicable to the stack, with its reason; an item another
    # request examined without calling it not applicable applies somewhere (applies_to).
    not_applicable: dict[str, str] = field(default_factory=dict)
    applies_to: set[str] = field(default_factory=set)

    def reviewed(self, audit: AuditId) -> bool:
        """A model reviewed the audit: every one of its jobs was answered."""
        outcomes = self.result.outcomes if self.result else []
        return self.result is not None and not any(
            o.audit == audit and o.status in _LOST for o in outcomes
        )

    def stack_not_applicable(self) -> dict[str, str]:
        return {i: r for i, r in self.not_applicable.items() if i not in self.applies_to}


@dataclass(frozen=True)
class Judged:
    """The rule findings to score after the model's verdicts on their hints, and those it
    dismissed."""

    findings: list[Finding]
    dismissed: list[DismissedFinding]


@dataclass(frozen=True)
class Verified:
    """The findings placed at their evidence (absence searches re-run, symbols named), and
    the count of dropped ones by reason."""

    findings: list[Finding]
    dropped: dict[str, int]


@dataclass(frozen=True)
class Merged:
    """One numbered finding per defect, and the counts suppressed (inline, baseline)."""

    findings: list[Finding]
    suppressed: dict[str, int]


# -- the steps -------------------------------------------------------------------------------


def discover_files(request: RunRequest, say: Callable[[str], None]) -> Discovery:
    """The files to audit under the target; a usage error when there are none."""
    options = DiscoveryOptions(
        max_bytes=request.max_file_bytes,
        include=tuple(request.include),
        exclude=tuple(request.exclude),
        include_tests=request.include_tests,
    )
    found = discover(Path(request.target), options)
    if not found.files:
        reasons = ", ".join(f"{r}: {n}" for r, n in found.skip_counts().items()) or "empty"
        raise UserError(f"nothing to audit under {request.target} ({reasons})")
    tests = found.skip_counts().get(TEST_CODE, 0)
    note = f" ({tests} test file(s); --include-tests audits them)" if tests else ""
    say(f"found {len(found.files)} file(s) to audit, skipped {len(found.skipped)}{note}")
    return found


def chunk(found: Discovery, request: RunRequest) -> list[Chunk]:
    """The files sliced by symbol; in a review (``request.focus``) only the chunks that touch
    changed lines."""
    chunks = [c for source in found.files for c in slice_file(source)]
    if request.focus is not None:
        focus = request.focus
        chunks = [
            c
            for c in chunks
            if any(a <= c.end_line and c.start_line <= b for a, b in focus.get(c.path, []))
        ]
    recount(chunks)
    return chunks


def index(found: Discovery, chunks: list[Chunk]) -> Sources:
    """The repository parsed with its resource index (vibe_audit/index)."""
    lines = {s.path: s.text.splitlines() for s in found.files}
    return Sources(found, chunks, indexed(found.files), lines)


def run_rules(sources: Sources, request: RunRequest, patch_limit: int) -> ProviderResult:
    """The built-in rule engine: findings of its own, and hints for the model; each rule
    patch verified (vibe_audit.fixes) so the report can say which findings have a fix."""
    result = StaticProvider().audit(sources.repo, request.audits, request.rules)
    result.findings = verify_patches(result.findings, sources.repo, patch_limit)
    return result


def plan_jobs(
    request: RunRequest,
    options: ModelOptions,
    provider: ModelProvider,
    sources: Sources,
    rules: ProviderResult,
    progress: Callable[[int], Progress] | None,
    say: Callable[[str], None],
) -> Planned:
    """Route the chunks to the audits and pack them into jobs for the model; with --triage,
    only what the triage pass flagged (or a rule hit), its spend taken off --max-cost."""
    price = checked_price(request.model, provider, options)
    inputs = PlanInputs(
        spec=request.model,
        provider_name=provider.name,
        model=provider.model,
        price=price,
        chunks=sources.chunks,
        audits=request.audits,
        max_tokens_out=options.settings.max_output_tokens,
        rule_findings=rules.findings,
        repo_context=context_packs(sources.repo.facts, request.audits),
        pack_tokens=options.pack_tokens,
        cache_price=cache_price_for(request.model, provider.local),
        resources=sources.repo.resources if options.interaction else None,
        interaction=options.interaction,
    )
    triaged: Triaged | None = None
    if options.triage and not options.dry_run:
        triaged = triage(options, inputs, progress, say)
        if options.runner.max_cost_usd is not None:
            left = max(options.runner.max_cost_usd - triaged.spent_usd, 0.0)
            options = replace(options, runner=replace(options.runner, max_cost_usd=left))
        inputs = replace(inputs, triaged=triaged.flagged)
    job_plan, split = plan_and_splitter(inputs)
    return Planned(job_plan, split, price, options, triaged)


def dry_run(planned: Planned, provider: ModelProvider) -> Plan:
    """The plan, nothing sent (at the batch price with --batch)."""
    asyncio.run(provider.aclose())
    return at_batch_price(planned.plan) if planned.options.batch else planned.plan


def run_model(
    planned: Planned,
    provider: ModelProvider,
    progress: Callable[[int], Progress] | None,
    say: Callable[[str], None],
) -> ModelPass:
    """Send the jobs and read the answers, in plan order: nothing depends on the order the
    answers came in."""
    options, job_plan = planned.options, planned.plan
    how = "in batches " if options.batch else ""
    say(f"sending {len(job_plan.jobs)} request(s) {how}to {provider.description}")
    result = run_jobs(
        provider, planned.price, options, job_plan, progress, say, options.batch, planned.split
    )
    name = f"{provider.name}:{provider.model}"
    spent = {o.job_id: o.cost_usd for o in result.outcomes}
    findings: list[ScopedFinding] = []
    verdicts: list[tuple[Job, HintVerdict]] = []
    checked: set[str] = set()
    needs_confirmation: dict[AuditId, list[Assumption]] = {}
    not_applicable: dict[str, str] = {}
    applies_to: set[str] = set()
    for job in job_plan.jobs:
        answer = result.answers.get(job.id)
        if answer is None:
            continue
        raised = to_findings(answer, get_audit(job.audit), name)
        scope = request_scope(job)
        for finding in raised:
            finding.cost_usd = round(spent.get(job.id, 0.0) / len(raised), 6)
            findings.append(ScopedFinding(finding, scope))
        verdicts += [(job, verdict) for verdict in answer.hint_verdicts]
        checked |= {i for i in answer.checked_items if i.startswith(f"{job.audit}.")}
        marked = {n.item for n in answer.not_applicable}
        applies_to |= set(answer.checked_items) - marked
        for entry in answer.not_applicable:
            if entry.item.startswith(f"{job.audit}."):
                not_applicable.setdefault(entry.item, entry.reason)
        needs_confirmation.setdefault(job.audit, []).extend(
            Assumption(
                topic=f"Needs Confirmation ({', '.join(p for p in scope)})",
                value=item,
                needs_confirmation=True,
                suspicious=True,
            )
            for item in answer.needs_confirmation
        )
    by_id = {job.id: job for job in job_plan.jobs}
    result.outcomes = [
        o.model_copy(update={"files": by_id[o.job_id].files}) if o.job_id in by_id else o
        for o in result.outcomes
    ]
    return ModelPass(
        name=name,
        plan=job_plan,
        result=result,
        triage=planned.triage,
        findings=findings,
        verdicts=verdicts,
        checked=checked,
        needs_confirmation=needs_confirmation,
        not_applicable=not_applicable,
        applies_to=applies_to,
    )


def judge_hints(rules: ProviderResult, answers: ModelPass, keep_dismissed: bool) -> Judged:
    """The rule findings to score, and those the model dismissed. A rule finding is hinted
    in each request (of each of its audits) that shows its line: confirmed by any of them,
    it stays, marked as confirmed by the model (sources rule + model); dismissed by one and
    confirmed by none, it leaves the scored findings (``keep_dismissed``: it stays) and is
    listed with the first dismissal's reason (plan order). A hint no answer mentions changes
    nothing."""
    said: dict[str, list[tuple[AuditId, HintVerdict]]] = {}
    for job, verdict in answers.verdicts:
        target = job.hints.get(_hint_id(verdict.hint))
        if target is not None:
            said.setdefault(target, []).append((job.audit, verdict))
    scored: list[Finding] = []
    dismissed: list[DismissedFinding] = []
    for finding in rules.findings:
        verdicts = said.get(finding.fingerprint, [])
        if any(v.verdict == "confirmed" for _, v in verdicts):
            finding = finding.model_copy(
                update={"sources": ["rule", "model"], "model": answers.name}
            )
        elif verdicts:
            dismissed.append(
                DismissedFinding(
                    finding=finding,
                    reason=verdicts[0][1].reason,
                    model=answers.name,
                    audits=[a for a in AUDIT_IDS if any(a == b for b, _ in verdicts)],
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
    return Judged(scored, numbered)


def verify_findings(sources: Sources, judged: Judged, answers: ModelPass) -> Verified:
    """Every finding checked against the source and placed where its quoted evidence is (a
    model's only within what its request showed); absence findings re-run their search."""
    found, dropped = verify([*judged.findings, *answers.findings], sources.lines)
    found = check_absences(found, sources.lines, dropped)
    return Verified(_with_symbols(found, sources.chunks), dropped)


def merge_findings(sources: Sources, verified: Verified, request: RunRequest) -> Merged:
    """One finding per defect across chunks, audits and sources, less the inline-ignored
    and the baseline's, numbered."""
    kept, suppressed = suppress(merge(verified.findings), sources.lines, set(request.baseline))
    return Merged(number(kept), suppressed)


def cover(request: RunRequest, sources: Sources, answers: ModelPass) -> Coverage:
    """The coverage ledger: what each audit read, of what it could have."""
    result = answers.result
    return build_coverage(
        request.audits,
        sources.chunks,
        sources.found.skipped,
        plan=answers.plan,
        outcomes=result.outcomes if result else [],
        empty=result.empty if result else None,
        cleared=answers.triage.cleared if answers.triage else {},
        rule_languages={
            a: {
                lang
                for rule in rules_for([a], rule_set=request.rules)
                for lang in rule.meta.languages
            }
            for a in request.audits
        },
    )


def score(
    request: RunRequest,
    sources: Sources,
    rules: ProviderResult,
    answers: ModelPass,
    merged: Merged,
    coverage: Coverage,
) -> list[AuditSection]:
    """Each audit's section: its findings, score, checklists and assumptions."""
    texts = [source.text for source in sources.found.files]
    words = repo_words(sources.repo)
    checked = set(rules.checked_items) | answers.checked
    stack_not_applicable = answers.stack_not_applicable()
    sections = []
    for audit_id in request.audits:
        reviewed = answers.reviewed(audit_id)
        sections.append(
            build_section(
                get_audit(audit_id),
                merged.findings,
                [*rules.assumptions[audit_id], *answers.needs_confirmation.get(audit_id, [])],
                checked,
                reviewed,
                files_audited=len(sources.found.files),
                not_audited=_not_audited(coverage, audit_id),
                not_applicable=absent_subject(audit_id, texts),
                words=words,
                stack_not_applicable=stack_not_applicable,
                not_read=_nothing_read(coverage, audit_id, sources, reviewed),
            )
        )
    return sections


def _nothing_read(
    coverage: Coverage, audit: AuditId, sources: Sources, model_reviewed: bool
) -> str | None:
    """Why nothing was read for ``audit`` (None when something was): every slice was
    skipped by routing. Whether its subject exists is build_section's call (not_applicable)."""
    summary = coverage.for_audit(audit)
    if summary is None or summary.percent is not None:
        return None
    languages = sorted({f.language for f in sources.found.files})
    if model_reviewed:
        return "no slice of the code was routed to it"
    return (
        f"no built-in rule of this audit reads {', '.join(languages)} and no model ran, so "
        "no slice was read"
    )


def run_stats(
    request: RunRequest,
    sources: Sources,
    provider: Provider,
    answers: ModelPass,
    verified: Verified,
    merged: Merged,
    elapsed_s: float,
) -> RunStats:
    """What the run read, sent, spent and dropped."""
    found, result, job_plan = sources.found, answers.result, answers.plan
    outcomes = result.outcomes if result else []
    triage_stats = answers.triage.stats if answers.triage else None
    dropped = {**verified.dropped, **(result.dropped if result else {})}
    return RunStats(
        root=str(found.root),
        files_discovered=len(found.files) + len(found.skipped),
        files_audited=len(found.files),
        files_skipped=found.skip_counts(),
        skipped=found.skipped,
        discovery="git" if found.source == "git" else "walk",
        secrets_redacted=dict(sorted(found.secrets_redacted.items())),
        chunks=len(sources.chunks),
        parse_errors=[ctx.source.path for ctx in sources.repo.files if ctx.root.has_error],
        provider=provider.name,
        model=getattr(provider, "model", None),
        model_note=provider.description,
        chunk_tokens=sum(c.tokens for c in sources.chunks),
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
        elapsed_s=elapsed_s,
        rules_run=len(rules_for(request.audits, sources.repo, request.rules)),
        findings_dropped=dict(sorted(dropped.items())),
        suppressed=merged.suppressed,
        jobs=dict(sorted(Counter(o.status for o in outcomes).items())),
        unreviewed_jobs=[o for o in outcomes if o.status in _LOST],
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


def report(
    request: RunRequest,
    sections: list[AuditSection],
    merged: Merged,
    stats: RunStats,
    coverage: Coverage,
    judged: Judged,
) -> Report:
    """The report: the sections, the findings, what the run did and what it dismissed."""
    return Report(
        tool_version=__version__,
        audits=request.audits,
        prompt_versions={a: get_audit(a).version for a in request.audits},
        sections=sections,
        findings=merged.findings,
        stats=stats,
        coverage=coverage,
        dismissed=judged.dismissed,
    )


# -- helpers ---------------------------------------------------------------------------------


def _hint_id(text: str) -> str:
    """'H3' from 'H3', 'h3', ' H3: ...' (how models echo a hint's id)."""
    match = re.match(r"\s*H(\d+)", text, re.IGNORECASE)
    return f"H{int(match.group(1))}" if match else text.strip()


def _not_audited(coverage: Coverage, audit: AuditId) -> int:
    summary = coverage.for_audit(audit)
    return summary.not_audited if summary else 0


def _with_symbols(findings: list[Finding], chunks: list[Chunk]) -> list[Finding]:
    """Name the enclosing symbol of findings that gave none (from the innermost chunk around
    their first line), so two alike defects in different functions keep distinct
    fingerprints."""
    by_path: dict[str, list[Chunk]] = {}
    for c in chunks:
        if c.symbol:
            by_path.setdefault(c.path, []).append(c)
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
