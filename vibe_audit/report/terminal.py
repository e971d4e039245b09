"""A short terminal summary of a run (printed to stderr after the report is written)."""

from __future__ import annotations

from vibe_audit.report.groups import group_findings, patch_summary
from vibe_audit.report.markdown import coverage_note
from vibe_audit.schemas import Report, Severity

TOP = 5


EMPTY_EVENT = "answered empty"  # agent/runner.py: no finding on flagged code, asked twice


def losses(report: Report) -> list[str]:
    """What the run lost, said where the user looks: model requests that failed or were
    skipped (their lines were not reviewed), answers that came back empty where the rules or
    the interaction context flag the code, findings dropped from answers (invalid, each
    alone) and by verification (by reason), repairs, retries and splits the model needed."""
    s = report.stats
    out = []
    if s.unreviewed_jobs:
        by_status: dict[str, int] = {}
        for job in s.unreviewed_jobs:
            by_status[job.status] = by_status.get(job.status, 0) + 1
        parts = ", ".join(f"{n} {status}" for status, n in sorted(by_status.items()))
        out.append(
            f"LOST: {len(s.unreviewed_jobs)} model request(s) not answered ({parts}): their "
            "lines were not reviewed"
        )
    empty = s.model_events.get(EMPTY_EVENT, 0)
    if empty:
        out.append(
            f"EMPTY: {empty} answer(s) with no finding where static-rule hints or the "
            "interaction context flag the code, after asking twice (coverage details: "
            f"'{EMPTY_EVENT}'): not a clean bill"
        )
    from_answers = {r: n for r, n in s.findings_dropped.items() if n and r.startswith("answer: ")}
    if from_answers:
        reasons = ", ".join(
            f"{r.removeprefix('answer: ')} {n}" for r, n in sorted(from_answers.items())
        )
        out.append(
            f"dropped from answers: {sum(from_answers.values())} invalid finding(s), each "
            f"alone: {reasons}"
        )
    dropped = {r: n for r, n in s.findings_dropped.items() if n and r not in from_answers}
    if dropped:
        reasons = ", ".join(f"{reason} {n}" for reason, n in sorted(dropped.items()))
        out.append(f"dropped by verification: {sum(dropped.values())} finding(s): {reasons}")
    repaired = {c: n for c, n in s.model_events.items() if n and c.startswith("answer repaired: ")}
    if repaired:
        out.append("repaired in answers: " + ", ".join(
            f"{c.removeprefix('answer repaired: ')} {n}" for c, n in sorted(repaired.items())
        ))  # fmt: skip
    events = {
        cause: n
        for cause, n in s.model_events.items()
        if n and cause not in repaired and cause != EMPTY_EVENT
    }
    if events:
        out.append("model retries and repairs: " + ", ".join(
            f"{cause} {n}" for cause, n in sorted(events.items())
        ))  # fmt: skip
    return out


def strict_losses(report: Report) -> list[str]:
    """What --strict fails on (exit 3): model requests that failed or were skipped, findings
    dropped (from answers or by verification), answers empty on flagged code."""
    s = report.stats
    out = []
    if s.unreviewed_jobs:
        out.append(f"{len(s.unreviewed_jobs)} model request(s) failed or were skipped")
    if dropped := sum(s.findings_dropped.values()):
        out.append(f"{dropped} finding(s) dropped")
    if empty := s.model_events.get(EMPTY_EVENT, 0):
        out.append(f"{empty} answer(s) empty on flagged code")
    return out


def render_summary(report: Report) -> str:
    s = report.stats
    counts = ", ".join(
        f"{n} {sev.value}"
        for sev in Severity
        if (n := sum(1 for f in report.findings if f.severity is sev))
    )
    groups = group_findings(report.findings)
    lines = [
        f"{s.files_audited} file(s) audited, {sum(s.files_skipped.values())} skipped; "
        f"{len(report.findings)} finding(s){': ' + counts if counts else ''}"
        + (f" at {len(groups)} distinct issue(s)" if len(groups) < len(report.findings) else ""),
        "scores: " + ", ".join(f"{sec.audit} {sec.score_text}" for sec in report.sections),
    ]
    if report.coverage is not None:
        missing = len(report.coverage.not_audited())
        lines.append(
            "coverage: "
            + ", ".join(
                f"{a.audit} {coverage_note(report, a.audit)}" for a in report.coverage.audits
            )
            + (f"; NOT CLEAN: {missing} symbol(s) or file(s) not audited" if missing else "")
        )
    patches = patch_summary(report.findings, s.root)
    lines += [patches] if patches else []
    for g in groups[:TOP]:
        f = g.lead
        more = f" (+{len(g.findings) - 1} more places)" if len(g.findings) > 1 else ""
        lines.append(
            f"  {f.id} {f.severity.value:<8} {f.location.path}:{f.location.start_line}  "
            f"{f.title}{more}"
        )
    if len(groups) > TOP:
        lines.append(f"  ... {len(groups) - TOP} more issue(s) in the report")
    lines += losses(report)
    if s.suppressed and any(s.suppressed.values()):
        lines.append("suppressed: " + ", ".join(f"{k} {v}" for k, v in s.suppressed.items()))
    return "\n".join(lines)
