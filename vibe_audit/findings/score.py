"""Per-audit score from the audit document's own rubric, and the audit's report section.

The rubric is data: each band of `[[rubric]]` in the audit's template carries the
conditions that place an audit in it (`when`), evaluated on the audit's distinct issues
(repeated sites of one pattern count once) at their severity in that audit:

- the worst band (lowest) with a condition that holds is the band;
- within it, the higher score when no issue goes beyond what the condition needed, else
  the lower one;
- the top band (9-10, no conditions) is what is left when none holds: 10 with no issue at
  all, 9 with MONITOR issues only, and only when a model reviewed the code. A rules-only
  run checks part of the checklist; the rest needs confirmation, so it never claims 9-10
  and scores 8, saying why.

docs/scores.md lists every band's conditions (generated from the templates).
"""

from __future__ import annotations

from dataclasses import dataclass

from vibe_audit.findings.wording import RepoWords, tailor
from vibe_audit.schemas.audit_spec import AuditSpec, RubricBand, RubricCondition
from vibe_audit.schemas.models import (
    ActionItem,
    Assumption,
    AuditId,
    AuditSection,
    ChecklistEntry,
    ChecklistState,
    Finding,
    Severity,
)

UNREVIEWED_SCORE = 8
# Used for findings that carry no estimate of their own (hours, low-high).
DEFAULT_EFFORT = {
    Severity.CRITICAL: (2.0, 4.0),
    Severity.HIGH: (1.0, 2.0),
    Severity.MEDIUM: (0.5, 1.0),
    Severity.MONITOR: (0.25, 0.5),
}


@dataclass(frozen=True)
class Issue:
    """One distinct issue of an audit: every site of one pattern, at the audit's severity."""

    finding: Finding
    severity: Severity
    category: str
    places: int


def pattern_key(finding: Finding, audit: AuditId | None = None) -> tuple[str, Severity]:
    """What makes findings sites of one pattern: the rule (or a model's title) and the
    severity (in ``audit``)."""
    severity = finding.severity_in(audit) if audit else finding.severity
    return (finding.rule_id or " ".join(finding.title.lower().split()), severity)


def sites_by_pattern(findings: list[Finding], audit: AuditId | None = None) -> list[list[Finding]]:
    """The findings grouped by ``pattern_key`` (one group per distinct issue), in the order
    of each group's first finding. The scores count these groups; the readable reports
    print one entry per group."""
    grouped: dict[tuple[str, Severity], list[Finding]] = {}
    for finding in findings:
        grouped.setdefault(pattern_key(finding, audit), []).append(finding)
    return list(grouped.values())


def _issues(findings: list[Finding], audit: AuditId | None) -> list[Issue]:
    return [
        Issue(
            group[0],
            pattern_key(group[0], audit)[1],
            group[0].categories.get(audit, "") if audit else "",
            len(group),
        )
        for group in sites_by_pattern(findings, audit)
    ]


def _qualifies(issue: Issue, condition: RubricCondition) -> bool:
    if not issue.severity.at_least(condition.severity):
        return False
    if not (condition.categories or condition.items or condition.rules):
        return True
    finding = issue.finding
    return (
        issue.category in condition.categories
        or bool(set(finding.checklist_items) & set(condition.items))
        or finding.rule_id in condition.rules
    )


def _matching(condition: RubricCondition, found: list[Issue]) -> list[Issue]:
    """The issues that make the condition hold (empty when it does not)."""
    qualifying = [i for i in found if _qualifies(i, condition)]
    spread = len({i.category for i in qualifying})
    holds = len(qualifying) >= condition.issues and spread >= condition.spread
    return qualifying if holds else []


@dataclass(frozen=True)
class Rating:
    """An audit's score, the band it is in, and why (for the justification)."""

    score: int
    band: RubricBand
    why: str
    issues: list[Issue]  # the audit's distinct issues the rating was made from


def rate(spec: AuditSpec, findings: list[Finding], model_reviewed: bool) -> Rating:
    """The audit's score from its rubric's conditions (see the module docstring)."""
    mine = [f for f in findings if spec.id in f.audits]
    found = _issues(mine, spec.id)
    above_monitor = [i for i in found if i.severity is not Severity.MONITOR]
    for band in sorted(spec.rubric, key=lambda b: b.min):
        for condition in band.when:
            matching = _matching(condition, found)
            if not matching:
                continue
            beyond = len(above_monitor) > condition.issues
            ids = ", ".join(i.finding.id for i in matching if i.finding.id)
            return Rating(
                band.min if beyond else band.max,
                band,
                f"band {band.min}-{band.max}: {condition.describe()}"
                + (f" ({ids})" if ids else "")
                + (f"; {len(above_monitor)} issues in all, so its lower score" if beyond else ""),
                found,
            )
    top = max(spec.rubric, key=lambda b: b.max)
    if not model_reviewed:
        return Rating(
            UNREVIEWED_SCORE,
            top,
            f"no condition of a lower band holds, but {top.min}-{top.max} needs a review of "
            "the whole checklist: a rules-only run scores "
            f"{UNREVIEWED_SCORE}",
            found,
        )
    value = top.max if not found else top.min
    return Rating(
        value, top, f"band {top.min}-{top.max}: no condition of a lower band holds", found
    )


def _action(finding: Finding, audit: AuditId) -> ActionItem:
    loc = finding.location
    return ActionItem(
        finding_id=finding.id,
        title=finding.title,
        severity=finding.severity_in(audit),
        location=f"{loc.path}:{loc.start_line}",
        impact=finding.impact.split(". ")[0].rstrip(".") + ".",
    )


def _effort(findings: list[Finding], audit: AuditId) -> str:
    if not findings:
        return "none: no Fix Now items"
    low = high = 0.0
    for finding in findings:
        lo, hi = finding.effort_hours or DEFAULT_EFFORT[finding.severity_in(audit)]
        low, high = low + lo, high + hi
    return f"{low:g}-{high:g} hours for {len(findings)} Fix Now item(s)"


def impact(finding: Finding, audit: AuditId | None = None) -> tuple[int, int, int, int, str, int]:
    """Sort key, most impact first: severity (in ``audit``), then confidence, then reach
    (the audits it matters to, the lines it spans), then place (stable)."""
    loc = finding.location
    severity = finding.severity_in(audit) if audit else finding.severity
    return (
        severity.rank,
        finding.confidence.rank,
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
    words: RepoWords | None = None,
    stack_not_applicable: dict[str, str] | None = None,
    not_read: str | None = None,
) -> AuditSection:
    """The audit's section from its (merged, verified, severity-sorted) findings.

    Per item: "violated" where a finding cites it; "not applicable" where the repository has
    no such subject (``not_applicable`` says why: no SQLite, no state files); "not seen"
    only where a model examined it or a rule verified it (``checked_items``); otherwise
    "needs confirmation", never clean by default. ``not_read`` says why nothing of the
    audit's subject was read (no rule for the language and no model): no score then, and
    "not audited" instead, never the top band.
    """
    mine = [f for f in findings if spec.id in f.audits]
    rating = rate(spec, mine, model_reviewed)
    band = rating.band
    applies = not (not_applicable is not None and files_audited and not mine)
    unread = not_read is not None and not_applicable is None and not mine
    checklist = []
    for item in spec.checklist:
        cited = [f.id for f in mine if item.id in f.checklist_items]
        if cited:
            state, note = ChecklistState.VIOLATED, ""
        elif not_applicable is not None and files_audited:
            state, note = ChecklistState.NOT_APPLICABLE, not_applicable
        elif stack_not_applicable and item.id in stack_not_applicable:
            state, note = ChecklistState.NOT_APPLICABLE, stack_not_applicable[item.id]
        elif item.id in checked_items and files_audited:
            state, note = ChecklistState.NOT_SEEN, "checked; no violation found"
        else:
            state, note = ChecklistState.NEEDS_CONFIRMATION, "not examined by this run"
        checklist.append(
            ChecklistEntry(id=item.id, text=item.text, state=state, finding_ids=cited, note=note)
        )
    audit = spec.id
    at = {f.id: f.severity_in(audit) for f in mine}
    fix_now = [f for f in mine if at[f.id] in (Severity.CRITICAL, Severity.HIGH)]
    effort = _effort(fix_now, audit)
    unconfirmed = sum(1 for e in checklist if e.state is ChecklistState.NEEDS_CONFIRMATION)
    if not applies:
        band_text = f"not applicable: {not_applicable}"
    elif unread:
        band_text = f"not audited: {not_read}"
    elif rating.score < band.min:
        band_text = (
            f"{rating.score} ({band.min}-{band.max} unconfirmed): no issue found by the rules; "
            f'"{band.text}" needs the {unconfirmed} checklist item(s) marked needs '
            "confirmation checked (a model review)"
        )
    else:
        band_text = f"{band.min}-{band.max}: {band.text}"
    return AuditSection(
        audit=spec.id,
        title=spec.title,
        score=rating.score if applies and not unread else None,
        rubric_band=band_text,
        justification=_justification(
            spec,
            mine,
            checklist,
            rating,
            model_reviewed,
            files_audited,
            not_audited,
            not_applicable,
            not_read if unread else None,
        ),
        assumptions=[a for a in assumptions if not a.suspicious],
        suspicious_patterns=[f"{a.topic}: {a.value}" for a in assumptions if a.suspicious],
        finding_ids=[f.id for f in mine],
        top_fixes=[_action(f, audit) for f in sorted(mine, key=lambda f: impact(f, audit))[:3]],
        fix_now=[_action(f, audit) for f in fix_now],
        fix_soon=[_action(f, audit) for f in mine if at[f.id] is Severity.MEDIUM],
        monitor=[_action(f, audit) for f in mine if at[f.id] is Severity.MONITOR],
        fix_now_effort=effort,
        checklist=checklist,
        testing_strategy=tailor(spec.testing_strategy, words),
        verification_commands=tailor(spec.verification_commands, words),
        monitoring=tailor(spec.monitoring, words),
        infrastructure=tailor(spec.infrastructure, words),
        executive_summary=(
            _executive_summary(
                spec,
                mine,
                rating,
                checklist,
                band_text if applies else None,
                _effort(fix_now, audit),
            )
            if "executive_summary" in spec.report_sections
            else []
        ),
    )


def _executive_summary(
    spec: AuditSpec,
    mine: list[Finding],
    rating: Rating,
    checklist: list[ChecklistEntry],
    band_text: str | None,
    effort: str,
) -> list[str]:
    """Three short paragraphs from the section's own facts: posture, what was and was not
    checked, what to do first."""
    found = rating.issues
    states = {s: sum(1 for e in checklist if e.state is s) for s in ChecklistState}
    if band_text is None:
        return [
            f"{spec.title}: not applicable; the audited code has no such subject, so nothing "
            "here was at risk and nothing was verified clean."
        ]
    posture = f"{spec.title}: {rating.score}/10, {band_text.rstrip('.')}."
    ranked = sorted(found, key=lambda i: impact(i.finding, spec.id))
    if ranked:
        names = "; ".join(
            f"{i.finding.title} ({i.severity.value}"
            + (f", {i.places} places" if i.places > 1 else f", {i.finding.location.path}")
            + ")"
            for i in ranked[:3]
        )
        posture += f" {len(mine)} finding(s) at {len(found)} distinct issue(s); the worst: {names}."
    else:
        posture += " No defect was found in the code that was read."
    checked = (
        f"Of {len(checklist)} checklist items, {states[ChecklistState.VIOLATED]} are violated, "
        f"{states[ChecklistState.NOT_SEEN]} verified clean and "
        f"{states[ChecklistState.NEEDS_CONFIRMATION]} need confirmation"
        + (
            f" ({states[ChecklistState.NOT_APPLICABLE]} not applicable)"
            if states[ChecklistState.NOT_APPLICABLE]
            else ""
        )
        + ": what needs confirmation was not checked by this run and is not known to be safe."
    )
    first = (
        f"Fix first: {ranked[0].finding.title} ({ranked[0].finding.id}); Fix Now effort: {effort}."
        if ranked
        else "Nothing to fix first; confirm the open checklist items (a model review does it)."
    )
    return [posture, checked, first]


def _justification(
    spec: AuditSpec,
    mine: list[Finding],
    checklist: list[ChecklistEntry],
    rating: Rating,
    model_reviewed: bool,
    files_audited: int,
    not_audited: int,
    not_applicable: str | None = None,
    not_read: str | None = None,
) -> list[str]:
    if not_read is not None:
        return [
            f"Not audited: {not_read}. No score: this is not a clean result, the code of "
            "this audit's subject was not read.",
            "Checklist: every item needs confirmation (run with a model, or see "
            "docs/coverage.md for the rules each language has).",
        ]
    if not files_audited:
        return [
            "No file was audited (see skipped files), so nothing here is verified clean.",
            f"Score {rating.score}: {rating.why}.",
        ]
    found = rating.issues
    bullets = []
    if mine:
        counts = {s: sum(i.places for i in found if i.severity is s) for s in Severity}
        parts = [f"{n} {s.value}" for s, n in counts.items() if n]
        bullets.append(
            f"{len(mine)} finding(s) at {len(found)} distinct issue(s) "
            f"(severities in this audit: {', '.join(parts)})."
        )
        worst = min(mine, key=lambda f: impact(f, spec.id))
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
    if not model_reviewed and not (not_applicable is not None and not mine):
        bullets.append(
            "Rules-only review (no model configured, or some model requests failed or were "
            f"skipped): the top band is not claimed; at most {UNREVIEWED_SCORE}."
        )
    if not (not_applicable is not None and not mine):
        bullets.append(f"Score {rating.score}, {rating.why} (rubric conditions: docs/scores.md).")
    return bullets
