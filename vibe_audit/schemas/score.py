"""Deterministic per-audit score and the mandatory report sections of each audit.

Score formula (the same for every audit; the band text comes from the audit's own rubric):

    raw   = 10 - 3 x CRITICAL - 2 x HIGH - 1 x MEDIUM        (MONITOR findings cost nothing)
    cap   = 4 if any CRITICAL, else 6 if any HIGH, else 8 if any MEDIUM, else 10
    cap   = min(cap, 8) when no model reviewed the code (the rules check only part of the
            checklist; the rest is "needs confirmation", so a rules-only run never claims 9-10)
    score = max(1, min(raw, cap))

Counts are of merged findings (one per defect) in that audit.
"""

from __future__ import annotations

from vibe_audit.schemas.audit_spec import AuditSpec
from vibe_audit.schemas.models import (
    ActionItem,
    Assumption,
    AuditSection,
    ChecklistEntry,
    ChecklistState,
    Confidence,
    Finding,
    Severity,
)

PENALTY = {Severity.CRITICAL: 3, Severity.HIGH: 2, Severity.MEDIUM: 1, Severity.MONITOR: 0}
CAP = {Severity.CRITICAL: 4, Severity.HIGH: 6, Severity.MEDIUM: 8, Severity.MONITOR: 10}
UNREVIEWED_CAP = 8
# Used for findings that carry no estimate of their own (hours, low-high).
DEFAULT_EFFORT = {
    Severity.CRITICAL: (2.0, 4.0),
    Severity.HIGH: (1.0, 2.0),
    Severity.MEDIUM: (0.5, 1.0),
    Severity.MONITOR: (0.25, 0.5),
}


def issues(findings: list[Finding]) -> list[Finding]:
    """One finding per distinct issue: repeated sites of one pattern (the same rule, or the
    same title from a model, at the same severity) count once, however many places."""
    seen: set[tuple[str, Severity]] = set()
    distinct = []
    for finding in findings:
        key = (finding.rule_id or finding.title.strip().lower(), finding.severity)
        if key not in seen:
            seen.add(key)
            distinct.append(finding)
    return distinct


def score(findings: list[Finding], model_reviewed: bool) -> int:
    """10 - 3 per CRITICAL - 2 per HIGH - 1 per MEDIUM issue (repeated sites of one pattern
    penalised once), capped by the worst severity (4 / 6 / 8) and at 8 without a model."""
    raw = 10 - sum(PENALTY[f.severity] for f in issues(findings))
    cap = min((CAP[f.severity] for f in findings), default=10)
    if not model_reviewed:
        cap = min(cap, UNREVIEWED_CAP)
    return max(1, min(raw, cap))


def _action(finding: Finding) -> ActionItem:
    loc = finding.location
    return ActionItem(
        finding_id=finding.id,
        title=finding.title,
        severity=finding.severity,
        location=f"{loc.path}:{loc.start_line}",
        impact=finding.impact.split(". ")[0].rstrip(".") + ".",
    )


def _effort(findings: list[Finding]) -> str:
    if not findings:
        return "none: no Fix Now items"
    low = high = 0.0
    for finding in findings:
        lo, hi = finding.effort_hours or DEFAULT_EFFORT[finding.severity]
        low, high = low + lo, high + hi
    return f"{low:g}-{high:g} hours for {len(findings)} Fix Now item(s)"


def impact(finding: Finding) -> tuple[int, int, int, int, str, int]:
    """Sort key, most impact first: severity, then confidence, then reach (the audits it
    matters to, the lines it spans), then place (stable)."""
    loc = finding.location
    return (
        list(Severity).index(finding.severity),
        list(Confidence).index(finding.confidence),
        -len(finding.audits),
        -(loc.end_line - loc.start_line + 1),
        loc.path,
        loc.start_line,
    )


def build_section(
    spec: AuditSpec,
    findings: list[Finding],
    assumptions: list[Assumption],
    checked_items: set[str],
    model_reviewed: bool,
    files_audited: int,
    not_audited: int = 0,
    not_applicable: str | None = None,
) -> AuditSection:
    """The audit's section from its (merged, verified, severity-sorted) findings.

    Per item: "violated" where a finding cites it; "not applicable" where the repository has
    no such subject (``not_applicable`` says why: no SQLite, no state files); "not seen"
    only where a model examined it or a rule verified it (``checked_items``); otherwise
    "needs confirmation", never clean by default.
    """
    mine = [f for f in findings if spec.id in f.audits]
    value = score(mine, model_reviewed)
    band = spec.band(value)
    applies = not (not_applicable is not None and files_audited and not mine)
    checklist = []
    for item in spec.checklist:
        cited = [f.id for f in mine if item.id in f.checklist_items]
        if cited:
            state, note = ChecklistState.VIOLATED, ""
        elif not_applicable is not None and files_audited:
            state, note = ChecklistState.NOT_APPLICABLE, not_applicable
        elif item.id in checked_items and files_audited:
            state, note = ChecklistState.NOT_SEEN, "checked; no violation found"
        else:
            state, note = ChecklistState.NEEDS_CONFIRMATION, "not examined by this run"
        checklist.append(
            ChecklistEntry(id=item.id, text=item.text, state=state, finding_ids=cited, note=note)
        )
    fix_now = [f for f in mine if f.severity in (Severity.CRITICAL, Severity.HIGH)]
    return AuditSection(
        audit=spec.id,
        title=spec.title,
        score=value if applies else None,
        rubric_band=(
            f"{band.min}-{band.max}: {band.text}"
            if applies
            else f"not applicable: {not_applicable}"
        ),
        justification=_justification(
            spec, mine, checklist, model_reviewed, files_audited, not_audited, not_applicable
        ),
        assumptions=assumptions,
        finding_ids=[f.id for f in mine],
        top_fixes=[_action(f) for f in sorted(mine, key=impact)[:3]],
        fix_now=[_action(f) for f in fix_now],
        fix_soon=[_action(f) for f in mine if f.severity is Severity.MEDIUM],
        monitor=[_action(f) for f in mine if f.severity is Severity.MONITOR],
        fix_now_effort=_effort(fix_now),
        checklist=checklist,
        testing_strategy=spec.testing_strategy,
        verification_commands=spec.verification_commands,
        monitoring=spec.monitoring,
    )


def _justification(
    spec: AuditSpec,
    mine: list[Finding],
    checklist: list[ChecklistEntry],
    model_reviewed: bool,
    files_audited: int,
    not_audited: int,
    not_applicable: str | None = None,
) -> list[str]:
    if not files_audited:
        return [
            "No file was audited (see skipped files), so nothing here is verified clean.",
            f"Score {score(mine, model_reviewed)} is the formula's value with no findings.",
        ]
    counts = {s: sum(1 for f in mine if f.severity is s) for s in Severity}
    bullets = []
    if mine:
        parts = [f"{n} {s.value}" for s, n in counts.items() if n]
        bullets.append(f"{len(mine)} defect(s) found: " + ", ".join(parts) + ".")
        worst = mine[0]
        bullets.append(
            f"Most severe: {worst.id} {worst.title} "
            f"({worst.location.path}:{worst.location.start_line})."
        )
    elif not_applicable is not None:
        bullets.append(
            f"Not applicable: {not_applicable}, so no score: nothing here was verified clean "
            "and nothing was at risk."
        )
    elif not_audited:
        bullets.append(
            "No defect found in the code that was read, but this is not a clean result: "
            f"{not_audited} symbol(s) meant for this audit were not audited (see Coverage)."
        )
    else:
        bullets.append("No defect found in the audited code by the checks that ran.")
    counts_by_state = {s: sum(1 for e in checklist if e.state is s) for s in ChecklistState}
    bullets.append(
        f"Checklist: {counts_by_state[ChecklistState.VIOLATED]} violated, "
        f"{counts_by_state[ChecklistState.NOT_SEEN]} verified clean, "
        f"{counts_by_state[ChecklistState.NOT_APPLICABLE]} not applicable, "
        f"{counts_by_state[ChecklistState.NEEDS_CONFIRMATION]} need confirmation "
        f"(of {len(checklist)})."
    )
    if not model_reviewed:
        bullets.append(
            "Rules-only review (no model configured, or some model requests failed or were "
            f"skipped): score capped at {UNREVIEWED_CAP}."
        )
    distinct = len(issues(mine))
    if distinct < len(mine):
        bullets.append(
            f"{len(mine)} findings are {distinct} distinct issue(s): repeated sites of one "
            "pattern are penalised once."
        )
    bullets.append(
        "Formula: 10 - 3xCRITICAL - 2xHIGH - 1xMEDIUM per distinct issue, capped at 4/6/8 by "
        "the worst severity."
    )
    return bullets
