"""The report as Markdown, in the seed documents' finding format."""

from __future__ import annotations

import re
from collections import Counter

from vibe_audit.prompts import get_audit
from vibe_audit.report.groups import Group, group_findings, patch_note, place, severity_label
from vibe_audit.schemas import (
    COVERAGE_STATES,
    NOT_AUDITED,
    AuditId,
    AuditSection,
    ChecklistState,
    Coverage,
    Finding,
    Report,
    Severity,
)
from vibe_audit.schemas.models import ActionItem, FileSpan

MAX_SKIPPED_LISTED = 50
_STATE_MARK = {
    ChecklistState.VIOLATED: "[✗] violated",
    ChecklistState.NOT_SEEN: "[✓] not seen",
    ChecklistState.NEEDS_CONFIRMATION: "[?] needs confirmation",
    ChecklistState.NOT_APPLICABLE: "[-] not applicable",
}


def fence(text: str, info: str = "") -> str:
    """A code fence the text cannot close: longer than any backtick run inside it."""
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    ticks = "`" * max(3, longest + 1)
    return f"{ticks}{info}\n{text.rstrip()}\n{ticks}"


def render_markdown(report: Report) -> str:
    out: list[str] = ["# vibe-audit report", ""]
    out += _header(report)
    groups = group_findings(report.findings)
    out += _summary(report, len(groups))
    out += _findings(report.findings, groups)
    out += _dismissed(report)
    for section in report.sections:
        out += _section(section, report)
    out += _coverage(report)
    return "\n".join(out).rstrip() + "\n"


def _header(report: Report) -> list[str]:
    s = report.stats
    skipped = ", ".join(f"{reason}: {n}" for reason, n in s.files_skipped.items()) or "none"
    engine = f"{s.provider}" + (f" ({s.model})" if s.model else "")
    redacted = ", ".join(f"{kind}: {n}" for kind, n in s.secrets_redacted.items()) or "none"
    jobs = ", ".join(f"{status}: {n}" for status, n in s.jobs.items()) or "none (no model)"
    if s.cost_by_audit:
        jobs += "; cost by audit: " + ", ".join(f"{a} ${c:.4f}" for a, c in s.cost_by_audit.items())
    if s.triage:
        t = s.triage
        jobs += (
            f"; triage by {t.model}: {t.requests} request(s), {t.chunks_flagged} flagged, "
            f"{t.chunks_cleared} cleared, ${t.cost_usd:.4f}"
        )
    if s.model_events:
        jobs += "; " + ", ".join(f"{event}: {n}" for event, n in s.model_events.items())
    return [
        f"- Target: `{s.root}`",
        "- Audits: " + ", ".join(f"{a} ({v})" for a, v in report.prompt_versions.items()),
        f"- Engine: {engine}: {s.model_note}",
        f"- Files: {s.files_audited} audited, {sum(s.files_skipped.values())} skipped ({skipped})",
        f"- Chunks: {s.chunks} ({s.chunk_tokens} tokens, counted by {s.token_counter}); "
        f"files listed by {'git ls-files' if s.discovery == 'git' else 'a .gitignore-aware walk'}",
        f"- Secrets redacted before analysis: {redacted}",
        f"- Model tokens: {s.tokens_in} in, {s.tokens_out} out; cost ${s.cost_usd:.4f}"
        + (
            f" ({s.tokens_cached} input tokens from the provider's prompt cache, "
            f"saving ${s.cache_saving_usd:.4f})"
            if s.tokens_cached
            else ""
        ),
        f"- Model requests: {jobs}",
        f"- Time: {s.elapsed_s:.2f} s; vibe-audit {report.tool_version}",
        "",
    ]


def _summary(report: Report, issues: int) -> list[str]:
    out = [
        "## Summary",
        "",
        "| Audit | Score | Band | CRITICAL | HIGH | MEDIUM | MONITOR | Coverage |",
        "|---|---|---|---|---|---|---|---|",
    ]
    by_id = {f.id: f for f in report.findings}
    for section in report.sections:
        mine = [by_id[i] for i in section.finding_ids]
        counts = [sum(1 for f in mine if f.severity_in(section.audit) is sev) for sev in Severity]
        band = section.rubric_band.split(":", 1)[0]
        cells = " | ".join(str(n) for n in counts)
        covered = coverage_note(report, section.audit)
        out.append(f"| {section.title} | {section.score_text} | {band} | {cells} | {covered} |")
    total = len(report.findings)
    out += [
        "",
        f"{total} finding(s) at {issues} distinct issue(s), after verification and de-duplication.",
        "",
    ]
    return out


def coverage_note(report: Report, audit: AuditId) -> str:
    """'100%', or '87% (3 symbols not audited)': what stands next to an audit's score."""
    summary = report.coverage.for_audit(audit) if report.coverage else None
    if summary is None:
        return "-"
    if summary.percent is None:
        return "nothing routed"
    text = f"{summary.percent:g}%"
    return text + (f" ({summary.not_audited} symbols not audited)" if summary.not_audited else "")


MAX_PLACES_LISTED = 12


def _findings(findings: list[Finding], groups: list[Group]) -> list[str]:
    """A one-line-per-issue summary first, then each issue once with all its places."""
    out = ["## Findings", ""]
    if not findings:
        return [*out, "No findings.", ""]
    out += [
        f"{len(findings)} finding(s) at {len(groups)} distinct issue(s); each issue below "
        "lists every place (the JSON and SARIF reports have one result per place).",
        "",
        "| Issue | Severity | Title | Places | Audits |",
        "|---|---|---|---|---|",
    ]
    for g in groups:
        where = place(g.lead) + (f" +{len(g.findings) - 1}" if len(g.findings) > 1 else "")
        out.append(
            f"| {g.lead.id} | {g.severity.value} | {g.lead.title} | {where} | "
            f"{', '.join(g.audits)} |"
        )
    out.append("")
    for g in groups:
        out += _group(g)
    return out


def _dismissed(report: Report) -> list[str]:
    """Rule findings the model dismissed when answering their hint, with its reason."""
    if not report.dismissed:
        return []
    out = [
        "## Dismissed by the model",
        "",
        "Rule findings the model ruled out when answering their hint; not scored, unless "
        "marked kept (--keep-dismissed).",
        "",
        "| | Rule finding | Where | Audits | Model's reason |",
        "|---|---|---|---|---|",
    ]
    for d in report.dismissed:
        f = d.finding
        kept = " (kept)" if d.kept else ""
        reason = " ".join(d.reason.split()).replace("|", "\\|")
        out.append(
            f"| {f.severity.value} | {f.title} (`{f.rule_id}`){kept} | `{place(f)}` | "
            f"{', '.join(d.audits)} | {reason} |"
        )
    return [*out, ""]


def _group(g: Group) -> list[str]:
    f = g.lead
    categories = " · ".join(f"{audit}: {cat}" for audit, cat in f.categories.items())
    source = f"rule `{f.rule_id}`" if f.rule_id else f"model `{f.model}`"
    cost = sum(m.cost_usd for m in g.findings)
    count = f" ({len(g.findings)} places)" if len(g.findings) > 1 else ""
    out = [
        f"### {f.id} [SEVERITY: {severity_label(f)}] {f.title}{count}",
        "",
        f"Risk Category: {categories}  ",
        f"Checklist: {', '.join(f.checklist_items) or '-'}  ",
        f"Source: {source} · confidence {f.confidence.value}"
        + (f" · fingerprint `{f.fingerprint}`" if len(g.findings) == 1 else "")
        + (f" · cost ${cost:.4f}" if cost else "")
        + "  ",
    ]
    if len(g.findings) == 1:
        symbol = f" (`{f.location.symbol}`)" if f.location.symbol else ""
        out.append(f"Location: {place(f)}{symbol}" + ("  " if f.severity_reason else ""))
        out += [f"Severity: {f.severity_reason}"] if f.severity_reason else []
    else:
        out += ["", "Places:", ""]
        for m in g.findings[:MAX_PLACES_LISTED]:
            symbol = f" (`{m.location.symbol}`)" if m.location.symbol else ""
            line = m.evidence[0].text.strip()
            reason = f" {m.severity_reason}" if m.severity_reason else ""
            out.append(f"- {m.id} {place(m)}{symbol}: `{line}`{reason}")
        if len(g.findings) > MAX_PLACES_LISTED:
            out.append(f"- ... {len(g.findings) - MAX_PLACES_LISTED} more (see the JSON report)")
    evidence = "\n".join(f"{e.line:>5} | {e.text}" for e in f.evidence)
    shown_for = (
        f" (as written for {f.id}; each place's own text: the JSON report)"
        if len(g.findings) > 1
        else ""
    )
    out += [
        "",
        f"**The Problem:**{shown_for}",
        f.problem,
        "",
        "**Scenario and Impact:**",
        f"{f.scenario} {f.impact}",
        f"Confidence: {f.confidence.value}",
        "",
        "**How to Verify:**",
        f.how_to_verify,
        "",
        "**The Fix:**",
        fence(f.fix),
        *([note] if (note := patch_note(f)) else []),
        "",
        "**Trade-off Consideration:**",
        f.trade_off,
        "",
        f"**Evidence{' (' + f.id + ')' if len(g.findings) > 1 else ''}:**",
        fence(evidence),
        "",
    ]
    return out


def _actions(title: str, items: list[ActionItem]) -> list[str]:
    out = [f"**{title}**", ""]
    if not items:
        return [*out, "- none", ""]
    for n, item in enumerate(items, start=1):
        out.append(
            f"{n}. {item.finding_id} [{item.severity.value}] {item.title} "
            f"({item.location}): {item.impact}"
        )
    return [*out, ""]


def _section(section: AuditSection, report: Report) -> list[str]:
    summary = report.coverage.for_audit(section.audit) if report.coverage else None
    missing = (
        f" ({summary.not_audited} symbols not audited)" if summary and summary.not_audited else ""
    )
    out = [
        f"## {section.title}: {section.score_text}{missing}",
        "",
        f"Rubric band {section.rubric_band}",
        "",
        *[f"- {line}" for line in section.justification],
        "",
    ]
    if section.score is None and not section.finding_ids:
        # Not applicable: no subject, so no plan, tests or metrics to add for it.
        return [*out, *_checklist(section), ""]
    if section.executive_summary:
        out += ["### Executive summary", ""]
        for paragraph in section.executive_summary:
            out += [paragraph, ""]
    out += ["### Environment & Assumptions", ""]
    for a in section.assumptions:
        refs = f" ({', '.join(a.evidence)})" if a.evidence else ""
        out.append(f"- {a.topic}: {a.value}{refs}")
    if (
        section.suspicious_patterns
        or "suspicious_patterns" in get_audit(section.audit).report_sections
    ):
        out += ["", "### Suspicious Patterns", ""]
        out += [f"- {p}" for p in section.suspicious_patterns] or [
            "None reported: the built-in rules report only what they can confirm; a model "
            "review lists what looks risky and exactly what to verify."
        ]
    if not section.finding_ids:
        out += [
            "",
            "### Top 3 fixes, Summary & Action Plan",
            "",
            "No finding in this audit: nothing to fix now or soon; Monitor: the metrics below.",
            "",
        ]
    else:
        out += ["", f"Findings in this audit: {', '.join(section.finding_ids)}", ""]
        out += ["### Top 3 fixes", ""]
        out += [
            f"{n}. {i.finding_id} {i.title} ({i.location})"
            for n, i in enumerate(section.top_fixes, 1)
        ]
        out += ["", "### Summary & Action Plan", ""]
        out += _actions("Fix Now", section.fix_now)
        out += _actions("Fix Soon", section.fix_soon)
        out += _actions("Monitor", section.monitor)
        out += [f"Estimated time for the Fix Now items: {section.fix_now_effort}", ""]
    out += ["### Testing strategy", "", *[f"- {t}" for t in section.testing_strategy], ""]
    if section.verification_commands:
        out += [
            "### Verification commands",
            "",
            fence("\n".join(section.verification_commands), "bash"),
            "",
        ]
    out += ["### Monitoring to add (metric: the threshold that triggers the fix)", ""]
    out += [*[f"- {m}" for m in section.monitoring], ""]
    if section.infrastructure:
        out += ["### Infrastructure to add", "", *[f"- {i}" for i in section.infrastructure], ""]
    out += _checklist(section)
    return [*out, ""]


def _checklist(section: AuditSection) -> list[str]:
    out = ["### Checklist", ""]
    # Decided items one per line; the undecided ones (needs confirmation, not applicable)
    # as one line of ids each: their texts are in the JSON report and the template.
    for entry in section.checklist:
        if entry.state in (ChecklistState.VIOLATED, ChecklistState.NOT_SEEN):
            cited = f" ({', '.join(entry.finding_ids)})" if entry.finding_ids else ""
            out.append(f"- {_STATE_MARK[entry.state]} `{entry.id}` {entry.text}{cited}")
    # one line per state, and per reason for "not applicable" (the repository has no such
    # subject, or a model said this stack has none, each with its own reason)
    lines: dict[tuple[ChecklistState, str], list[str]] = {}
    for e in section.checklist:
        if e.state is ChecklistState.NEEDS_CONFIRMATION:
            lines.setdefault((e.state, ""), []).append(e.id)
        elif e.state is ChecklistState.NOT_APPLICABLE:
            lines.setdefault((e.state, e.note), []).append(e.id)
    for (state, note), ids in lines.items():
        why = f" ({note})" if note else ""
        out.append(
            f"- {_STATE_MARK[state]}{why}, {len(ids)} item(s): " + ", ".join(f"`{i}`" for i in ids)
        )
    if any(e.state is ChecklistState.NEEDS_CONFIRMATION for e in section.checklist):
        out += ["", f"Item texts: the JSON report, or `vibe-audit prompts show {section.audit}`."]
    return out


def _coverage(report: Report) -> list[str]:
    s = report.stats
    out = ["## Coverage", ""]
    out.append(
        f"{s.files_audited} of {s.files_discovered} file(s) audited; every skipped file or "
        "directory is listed with its reason."
    )
    out.append("")
    for item in s.skipped[:MAX_SKIPPED_LISTED]:
        out.append(f"- `{item.path}`: {item.reason}")
    if len(s.skipped) > MAX_SKIPPED_LISTED:
        out.append(f"- ... {len(s.skipped) - MAX_SKIPPED_LISTED} more (see the JSON report)")
    if s.parse_errors:
        out += ["", "Parsed with syntax errors (audited as far as the parser recovered):"]
        out += [f"- `{p}`" for p in s.parse_errors]
    if s.findings_dropped:
        dropped = ", ".join(f"{r}: {n}" for r, n in s.findings_dropped.items())
        out += ["", f"Findings dropped by verification: {dropped}"]
    if s.unreviewed_jobs:
        out += ["", "Not reviewed by the model (the rules still ran on these lines):"]
        out += [
            "- "
            + ", ".join(
                f"`{f.path}` lines {f.lines[0]}-{f.lines[1]}"
                for f in o.files or [FileSpan(path=o.path, lines=o.lines)]
            )
            + f" ({o.audit}): {o.status}, {o.reason}"
            for o in s.unreviewed_jobs
        ]
    if s.router_skipped:
        skipped = ", ".join(f"{a}: {n}" for a, n in s.router_skipped.items())
        out += ["", f"Chunks not sent to an audit (none of its applies-to signals): {skipped}"]
    if report.coverage is not None:
        out += _ledger(report.coverage)
    return [*out, ""]


def _ledger(coverage: Coverage) -> list[str]:
    reader = "a model" if coverage.engine == "model" else "the built-in rules, no model"
    out = [
        "",
        f"### Coverage by audit (file x symbol, read by {reader})",
        "",
        "| Audit | " + " | ".join(COVERAGE_STATES) + " | coverage |",
        "|---|" + "---|" * len(COVERAGE_STATES) + "---|",
    ]
    for a in coverage.audits:
        cells = " | ".join(str(a.states.get(state, 0)) for state in COVERAGE_STATES)
        percent = "nothing routed" if a.percent is None else f"{a.percent:g}%"
        out.append(f"| {a.audit} | {cells} | {percent} |")
    missing = coverage.not_audited()
    out += [
        "",
        "Coverage = (audited + cached) / everything but excluded and skipped by routing. "
        "The JSON report lists every row with its state and reason.",
    ]
    if missing:
        out += ["", f"**Not audited ({len(missing)} symbol(s) or file(s)):**", ""]
        for row in missing[:MAX_SKIPPED_LISTED]:
            where = f"{row.path}:{row.lines[0]}-{row.lines[1]}" if row.lines else row.path
            symbol = f" `{row.symbol}`" if row.symbol else ""
            states = "; ".join(
                f"{a}: {state}" + (f" ({row.details[a]})" if a in row.details else "")
                for a, state in row.states.items()
                if state in NOT_AUDITED
            )
            out.append(f"- `{where}`{symbol}: {states}")
        if len(missing) > MAX_SKIPPED_LISTED:
            out.append(f"- ... {len(missing) - MAX_SKIPPED_LISTED} more (see the JSON report)")
    routed_out: dict[str, Counter[str]] = {}
    for row in coverage.rows:
        if row.lines is None:
            continue  # skipped files are listed above with their reason
        for audit, state in row.states.items():
            if state == "skipped by routing":
                routed_out.setdefault(row.path, Counter())[audit] += 1
    if routed_out:
        out += ["", f"**Skipped by routing ({len(routed_out)} file(s)), symbols per audit:**", ""]
        for path, counts in list(routed_out.items())[:MAX_SKIPPED_LISTED]:
            out.append(f"- `{path}`: " + ", ".join(f"{a} {n}" for a, n in counts.items()))
        if len(routed_out) > MAX_SKIPPED_LISTED:
            more = len(routed_out) - MAX_SKIPPED_LISTED
            out.append(f"- ... {more} more file(s) (see the JSON report)")
    return out
