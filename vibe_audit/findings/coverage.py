"""The coverage ledger: one state for every file x symbol x audit of a run.

A reviewer's worst failure is a false green, code it never read reported as clean. The
ledger records what became of each slice in each audit:

    audited             read by the model (or, with no model, by rules for its language)
    cached              answered from the response cache of an earlier identical request
    skipped by routing  none of the audit's applies-to signals (or no rule for the language,
                        or the --triage model found nothing in it)
    clipped             meant to be read, cut by a limit: --max-cost budget, oversized file
    excluded            left out on purpose, with the rule: --exclude, .gitignore, vendored
    failed              meant to be read, could not be: the model request failed, unreadable

    answered empty      the request was answered, but emptily (no finding and no verdict
                        where rules flag the code, or nothing examined at all), also after
                        being asked once more (agent/runner.py): not read, as far as anyone
                        can tell; counted against coverage, in the terminal's losses and by
                        --strict

Coverage of an audit = (audited + cached) / everything but excluded and skipped by routing.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping

from vibe_audit.schemas.models import (
    COVERAGE_STATES,
    AuditCoverage,
    AuditId,
    Chunk,
    Coverage,
    CoverageRow,
    CoverageState,
    JobOutcome,
    Plan,
    SkippedFile,
)

ANSWERED_EMPTY: CoverageState = "answered empty"
ROUTING_SIGNAL = "none of the audit's applies-to signals (imports, patterns, file kind, rule hit)"
_FAILED_REASONS = (
    "unreadable",
    "unreadable directory",
    "listed but missing",
    "broken symlink",
    "symlink loop",
)
_OUTCOME_STATE: dict[str, tuple[CoverageState, str]] = {
    "answered": ("audited", ""),
    "cached": ("cached", ""),
    "failed": ("failed", "model request failed"),
    "skipped (budget)": ("clipped", "--max-cost budget reached"),
}


def build_coverage(
    audits: list[AuditId],
    chunks: list[Chunk],
    skipped: list[SkippedFile],
    *,
    plan: Plan | None = None,
    outcomes: list[JobOutcome] | None = None,
    rule_languages: dict[AuditId, set[str]] | None = None,
    cleared: dict[tuple[AuditId, str], str] | None = None,
    empty: Mapping[str, str] | None = None,
) -> Coverage:
    """The ledger of a model run (``plan`` + ``outcomes``) or, without a plan, of a rules-only
    run (``rule_languages``: the languages each audit has a built-in rule for)."""
    rows = [_file_row(item, audits) for item in skipped]
    if plan is not None:
        rows += _model_rows(audits, chunks, plan, outcomes or [], cleared or {}, empty or {})
    else:
        languages = rule_languages or {}
        for chunk in chunks:
            row = _row(chunk)
            for audit in audits:
                if chunk.language in languages.get(audit, set()):
                    row.states[audit] = "audited"
                else:
                    row.states[audit] = "skipped by routing"
                    row.details[audit] = f"no built-in rule of this audit reads {chunk.language}"
            rows.append(row)
    rows.sort(key=lambda r: (r.path, r.lines or (0, 0), r.symbol or ""))
    return Coverage(
        engine="model" if plan is not None else "rules",
        audits=[_summary(audit, rows) for audit in audits],
        rows=rows,
    )


def _row(chunk: Chunk) -> CoverageRow:
    symbol = (
        chunk.symbol + (f" (part {chunk.part})" if chunk.part else "") if chunk.symbol else None
    )
    return CoverageRow(
        path=chunk.path, symbol=symbol, lines=(chunk.start_line, chunk.end_line), states={}
    )


def _file_row(item: SkippedFile, audits: list[AuditId]) -> CoverageRow:
    state: CoverageState
    if item.reason == "oversized":
        state, detail = "clipped", "oversized (over --max-file-bytes)"
    elif item.reason in _FAILED_REASONS:
        state, detail = "failed", item.reason
    else:
        state, detail = "excluded", item.reason
    return CoverageRow(
        path=item.path,
        symbol=None,
        lines=None,
        states=dict.fromkeys(audits, state),
        details=dict.fromkeys(audits, detail),
    )


def _model_rows(
    audits: list[AuditId],
    chunks: list[Chunk],
    plan: Plan,
    outcomes: list[JobOutcome],
    cleared: dict[tuple[AuditId, str], str],
    empty: Mapping[str, str],
) -> list[CoverageRow]:
    by_job = {o.job_id: o for o in outcomes}
    job_of: dict[tuple[AuditId, str], str] = {
        (job.audit, chunk_id): job.id for job in plan.jobs for chunk_id in job.chunk_ids
    }
    rows = []
    for chunk in chunks:
        row = _row(chunk)
        for audit in audits:
            job_id = job_of.get((audit, chunk.id))
            if job_id is None:
                row.states[audit] = "skipped by routing"
                row.details[audit] = cleared.get((audit, chunk.id), ROUTING_SIGNAL)
                continue
            outcome = by_job.get(job_id)
            if outcome is None:
                row.states[audit] = "failed"
                row.details[audit] = "no answer recorded for its request (run interrupted?)"
                continue
            state, why = _OUTCOME_STATE[outcome.status]
            row.states[audit] = state
            if why:
                row.details[audit] = f"{why}: {outcome.reason}" if outcome.reason else why
            elif job_id in empty:
                row.states[audit] = ANSWERED_EMPTY
                row.details[audit] = empty[job_id]
        rows.append(row)
    return rows


def _summary(audit: AuditId, rows: list[CoverageRow]) -> AuditCoverage:
    counts = Counter(r.states[audit] for r in rows if audit in r.states)
    states = {s: counts[s] for s in COVERAGE_STATES if counts[s]}
    in_scope = sum(n for s, n in counts.items() if s not in ("excluded", "skipped by routing"))
    audited = counts["audited"] + counts["cached"]
    return AuditCoverage(
        audit=audit,
        states=states,
        in_scope=in_scope,
        audited=audited,
        percent=round(100 * audited / in_scope, 1) if in_scope else None,
    )
