"""The report as one self-contained HTML file: summary, filters by audit and severity,
findings with code excerpts, and each audit's section (score, assumptions, action plan,
checklist). No external assets; every value from the report is HTML-escaped."""

from __future__ import annotations

from html import escape
from importlib import resources
from string import Template

from vibe_audit.prompts import get_audit
from vibe_audit.report.groups import Group, group_findings, patch_note, place, severity_label
from vibe_audit.schemas import (
    COVERAGE_STATES,
    NOT_AUDITED,
    ActionItem,
    AuditSection,
    Finding,
    Report,
    Severity,
)


def _e(text: object) -> str:
    return escape(str(text), quote=True)


def render_html(report: Report) -> str:
    template = Template(
        (resources.files("vibe_audit.report") / "templates" / "report.html").read_text("utf-8")
    )
    s = report.stats
    subtitle = (
        f"{s.files_audited} file(s) audited, {sum(s.files_skipped.values())} skipped · "
        f"engine: {s.provider}{' (' + s.model + ')' if s.model else ''} · "
        f"vibe-audit {report.tool_version}"
    )
    groups = group_findings(report.findings)
    body = [_summary(report), _filters(report, len(groups)), _findings(report.findings, groups)]
    body += [_dismissed(report)] if report.dismissed else []
    body += [_section(section) for section in report.sections]
    body.append(_coverage(report))
    return template.substitute(
        title=_e(f"vibe-audit report: {s.root}"), subtitle=_e(subtitle), body="\n".join(body)
    )


def _summary(report: Report) -> str:
    rows = []
    by_id = {f.id: f for f in report.findings}
    for section in report.sections:
        mine = [by_id[i] for i in section.finding_ids]
        counts = "".join(
            f"<td>{sum(1 for f in mine if f.severity_in(section.audit) is sev)}</td>"
            for sev in Severity
        )
        rows.append(
            f"<tr><td>{_e(section.title)}</td><td><b>{section.score_text}</b></td>"
            f"<td>{_e(section.rubric_band)}</td>{counts}</tr>"
        )
    head = "".join(f"<th>{sev.value}</th>" for sev in Severity)
    return (
        "<h2>Summary</h2><table><tr><th>Audit</th><th>Score</th><th>Band</th>"
        f"{head}</tr>{''.join(rows)}</table>"
    )


def _filters(report: Report, groups: int) -> str:
    audits = "".join(
        f'<label><input type="checkbox" data-kind="audit" value="{_e(a)}" checked> {_e(a)}</label>'
        for a in report.audits
    )
    severities = "".join(
        f'<label><input type="checkbox" data-kind="severity" value="{s.value}" checked> '
        f"{s.value}</label>"
        for s in Severity
    )
    return (
        f'<div class="filters"><b>Audits:</b> {audits} <b>Severity:</b> {severities} '
        f'<span class="meta">(<span id="shown">{groups}</span> of '
        f"{groups} issues shown)</span></div>"
    )


def _findings(findings: list[Finding], groups: list[Group]) -> str:
    """One block per distinct issue: every place listed, the details collapsible."""
    out = [f"<h2>Findings ({len(findings)} at {len(groups)} distinct issues)</h2>"]
    for g in groups:
        f = g.lead
        categories = ", ".join(f"{a}: {c}" for a, c in f.categories.items())
        source = f"rule {f.rule_id}" if f.rule_id else f"model {f.model}"
        evidence = "\n".join(f"{e.line:>5} | {e.text}" for e in f.evidence)
        places = "".join(
            f'<li id="{_e(m.id)}">{_e(m.id)} <code>{_e(place(m))}</code>'
            f"{' (' + _e(m.location.symbol) + ')' if m.location.symbol else ''}: "
            f"<code>{_e(m.evidence[0].text.strip())}</code>"
            f"{' ' + _e(m.severity_reason) if m.severity_reason else ''}</li>"
            for m in g.findings
        )
        fields = [
            ("The Problem", f.problem),
            ("Scenario and Impact", f"{f.scenario} {f.impact} (Confidence: {f.confidence.value})"),
            ("How to Verify", f.how_to_verify),
            ("Trade-off Consideration", f.trade_off),
        ]
        details = "".join(f"<dt>{_e(k)}</dt><dd>{_e(v)}</dd>" for k, v in fields)
        count = f" ({len(g.findings)} places)" if len(g.findings) > 1 else ""
        out.append(
            f'<div class="finding {g.severity.value}" '
            f'data-severity="{g.severity.value}" data-audits="{_e(" ".join(g.audits))}">'
            f'<h3><span class="sev {g.severity.value}">{_e(severity_label(f))}</span> '
            f"{_e(f.title)}{count}</h3>"
            f'<div class="meta">{_e(categories)} · {_e(source)} · checklist '
            f"{_e(', '.join(f.checklist_items) or '-')}</div>"
            f"<ul>{places}</ul>"
            f"<details><summary>Problem, scenario, fix and evidence"
            f"{' (as written for ' + _e(f.id) + ')' if len(g.findings) > 1 else ''}</summary>"
            f"<dl>{details}<dt>The Fix</dt></dl><pre>{_e(f.fix)}</pre>"
            + (f'<p class="patch">{_e(note)}</p>' if (note := patch_note(f)) else "")
            + f"<pre>{_e(evidence)}</pre></details></div>"
        )
    return "\n".join(out)


def _dismissed(report: Report) -> str:
    """Rule findings the model dismissed when answering their hint, with its reason."""
    if not report.dismissed:
        return ""
    rows = "".join(
        f"<tr><td>{_e(d.finding.severity.value)}</td><td>{_e(d.finding.title)} "
        f"(<code>{_e(d.finding.rule_id)}</code>){' (kept)' if d.kept else ''}</td>"
        f"<td><code>{_e(place(d.finding))}</code></td><td>{_e(', '.join(d.audits))}</td>"
        f"<td>{_e(d.reason)}</td></tr>"
        for d in report.dismissed
    )
    return (
        "<h2>Dismissed by the model</h2><p>Rule findings the model ruled out when answering "
        "their hint; not scored, unless marked kept (--keep-dismissed).</p><table><tr><th></th>"
        "<th>rule finding</th><th>where</th><th>audits</th><th>model's reason</th></tr>"
        f"{rows}</table>"
    )


def _items(title: str, items: list[str]) -> str:
    body = "".join(f"<li>{_e(i)}</li>" for i in items) or "<li>none</li>"
    return f"<h4>{_e(title)}</h4><ul>{body}</ul>"


def _section(section: AuditSection) -> str:
    def actions(items: list[ActionItem]) -> list[str]:
        return [
            f"{i.finding_id} [{i.severity.value}] {i.title} ({i.location}): {i.impact}"
            for i in items
        ]

    assumptions = [
        f"{a.topic}: {a.value}" + (f" ({', '.join(a.evidence)})" if a.evidence else "")
        for a in section.assumptions
    ]
    commands = "\n".join(section.verification_commands)
    checklist = "".join(
        f'<li class="state-{e.state.value.replace(" ", "-")}"><code>{_e(e.id)}</code> '
        f"{_e(e.text)}: <b>{_e(e.state.value)}</b>"
        f"{' (' + _e(', '.join(e.finding_ids)) + ')' if e.finding_ids else ''}</li>"
        for e in section.checklist
    )
    head = (
        f'<h2 id="audit-{_e(section.audit)}">{_e(section.title)}: {section.score_text}</h2>'
        f"<p>Rubric band {_e(section.rubric_band)}</p>"
        + _items("Justification", section.justification)
    )
    items = (
        f"<details><summary>Checklist ({len(section.checklist)} items)</summary>"
        f"<ul>{checklist}</ul></details>"
    )
    if section.score is None and not section.finding_ids:
        return head + items  # not applicable: no plan, tests or metrics for an absent subject
    return (
        head
        + "".join(f"<p>{_e(paragraph)}</p>" for paragraph in section.executive_summary)
        + _items("Environment & Assumptions", assumptions)
        + (
            _items(
                "Suspicious Patterns",
                section.suspicious_patterns
                or ["None reported (the built-in rules report only what they can confirm)."],
            )
            if section.suspicious_patterns
            or "suspicious_patterns" in get_audit(section.audit).report_sections
            else ""
        )
        + _items("Top 3 fixes", actions(section.top_fixes))
        + _items("Fix Now", actions(section.fix_now))
        + _items("Fix Soon", actions(section.fix_soon))
        + _items("Monitor", actions(section.monitor))
        + f"<p>Estimated time for the Fix Now items: {_e(section.fix_now_effort)}</p>"
        + _items("Testing strategy", section.testing_strategy)
        + (f"<h4>Verification commands</h4><pre>{_e(commands)}</pre>" if commands else "")
        + _items(
            "Monitoring to add (metric: the threshold that triggers the fix)", section.monitoring
        )
        + (
            _items("Infrastructure to add", section.infrastructure)
            if section.infrastructure
            else ""
        )
        + items
    )


def _coverage(report: Report) -> str:
    s = report.stats
    skipped = [f"{item.path}: {item.reason}" for item in s.skipped]
    extra = []
    if s.findings_dropped:
        extra.append(
            "Findings dropped by verification: "
            + ", ".join(f"{k}: {v}" for k, v in s.findings_dropped.items())
        )
    if s.suppressed:
        extra.append("Suppressed: " + ", ".join(f"{k}: {v}" for k, v in s.suppressed.items()))
    return (
        f"<h2>Coverage</h2><p>{s.files_audited} of {s.files_discovered} file(s) audited.</p>"
        + _ledger(report)
        + _items("Skipped", skipped)
        + "".join(f"<p>{_e(x)}</p>" for x in extra)
    )


def _ledger(report: Report) -> str:
    coverage = report.coverage
    if coverage is None:
        return ""
    head = "".join(f"<th>{_e(state)}</th>" for state in COVERAGE_STATES)
    rows = "".join(
        f"<tr><td>{_e(a.audit)}</td>"
        + "".join(f"<td>{a.states.get(state, 0)}</td>" for state in COVERAGE_STATES)
        + f"<td>{'nothing routed' if a.percent is None else f'{a.percent:g}%'}</td></tr>"
        for a in coverage.audits
    )
    missing = [
        f"{row.path}"
        + (f":{row.lines[0]}-{row.lines[1]}" if row.lines else "")
        + (f" {row.symbol}" if row.symbol else "")
        + ": "
        + "; ".join(
            f"{a}: {state}" + (f" ({row.details[a]})" if a in row.details else "")
            for a, state in row.states.items()
            if state in NOT_AUDITED
        )
        for row in coverage.not_audited()
    ]
    return f"<table><tr><th>audit</th>{head}<th>coverage</th></tr>{rows}</table>" + _items(
        "Not audited", missing
    )
