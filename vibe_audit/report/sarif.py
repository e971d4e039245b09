"""The report as SARIF 2.1.0 (for GitHub code scanning and other SARIF viewers).

One SARIF rule per defect family: a built-in rule's id, or ``<audit>/<category>`` for a
model finding. Levels: CRITICAL and HIGH are errors, MEDIUM warnings, MONITOR notes. Each
result carries its stable fingerprint in ``partialFingerprints`` so viewers track it across
pushes.

A review's SARIF also says, for every result, what the change did to it (``baselineState``,
SARIF 2.1.0 section 3.27.24): ``new`` (introduced by the change), ``updated`` (there before,
on lines the change edited) or ``unchanged`` (there before, lines untouched). The spec wants
it on every result of a run or on none, so it is given for all or for none.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any, Literal

from vibe_audit import __version__
from vibe_audit.rules.engine import load_rules
from vibe_audit.schemas import NOT_AUDITED, Finding, Report, Severity

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
FINGERPRINT_KEY = "vibeAuditFingerprint/v1"
BaselineState = Literal["new", "updated", "unchanged"]
LEVEL = {
    Severity.CRITICAL: "error",
    Severity.HIGH: "error",
    Severity.MEDIUM: "warning",
    Severity.MONITOR: "note",
}
# GitHub code scanning reads this property to rank results (0.0-10.0).
SECURITY_SEVERITY = {
    Severity.CRITICAL: "9.0",
    Severity.HIGH: "7.0",
    Severity.MEDIUM: "5.0",
    Severity.MONITOR: "2.0",
}


def _rule_id(finding: Finding) -> str:
    if finding.rule_id:
        return finding.rule_id
    audit = finding.audits[0]
    return f"{audit}/{finding.categories[audit]}".lower().replace(" ", "-")


def _camel(rule_id: str) -> str:
    return "".join(part.capitalize() for part in re.split(r"[^A-Za-z0-9]+", rule_id) if part)


def _rule(rule_id: str, finding: Finding) -> dict[str, Any]:
    rule = load_rules().get(rule_id)
    help_text = rule.doc.strip() if rule is not None else f"{finding.problem}\n\n{finding.fix}"
    return {
        "id": rule_id,
        "name": _camel(rule_id),
        "shortDescription": {"text": finding.title},
        "fullDescription": {"text": rule.meta.problem if rule is not None else finding.problem},
        "help": {"text": help_text, "markdown": help_text},
        "defaultConfiguration": {"level": LEVEL[finding.severity]},
        "properties": {
            "tags": sorted(set(finding.audits) | set(finding.categories.values())),
            "security-severity": SECURITY_SEVERITY[finding.severity],
        },
    }


def _result(
    finding: Finding, rule_index: int, baseline: BaselineState | None = None
) -> dict[str, Any]:
    loc = finding.location
    region: dict[str, Any] = {
        "startLine": loc.start_line,
        "endLine": loc.end_line,
        "snippet": {"text": "\n".join(e.text for e in finding.evidence)},
    }
    location: dict[str, Any] = {
        "physicalLocation": {
            "artifactLocation": {"uri": loc.path, "uriBaseId": "%SRCROOT%"},
            "region": region,
        }
    }
    if loc.symbol:
        location["logicalLocations"] = [{"fullyQualifiedName": loc.symbol, "kind": "function"}]
    return {
        "ruleId": _rule_id(finding),
        "ruleIndex": rule_index,
        "level": LEVEL[finding.severity],
        "message": {"text": f"[{finding.severity.value}] {finding.title}: {finding.problem}"},
        "locations": [location],
        "partialFingerprints": {FINGERPRINT_KEY: finding.fingerprint},
        **({"baselineState": baseline} if baseline is not None else {}),
        **({"fixes": [_fix(finding)]} if _usable(finding) else {}),
        "properties": {
            "severity": finding.severity.value,
            **({"severityReason": finding.severity_reason} if finding.severity_reason else {}),
            "confidence": finding.confidence.value,
            "audits": finding.audits,
            "categories": finding.categories,
            "checklistItems": finding.checklist_items,
            "fix": finding.fix,
            "findingId": finding.id,
            **({"patchSafety": finding.patch.safety.value} if finding.patch else {}),
            **(
                {"patchNotOffered": finding.patch.reason}
                if finding.patch and not finding.patch.offered
                else {}
            ),
        },
    }


def _usable(finding: Finding) -> bool:
    """A patch verified in full, or proposed (checked to apply and parse; `vibe-audit fix`
    verifies it): one that failed a check is not a fix."""
    return finding.patch is not None and (finding.patch.offered or finding.patch.proposed)


def _fix(finding: Finding) -> dict[str, Any]:
    """The verified patch as a SARIF fix: whole-line replacements (a region without columns
    ends at the end of its last line, before the newline), insertions as empty regions."""
    assert finding.patch is not None
    replacements = []
    for edit in finding.patch.edits:
        if edit.end_line < edit.start_line:
            deleted = {"startLine": edit.start_line, "startColumn": 1, "endColumn": 1}
            inserted = edit.text
        else:
            deleted = {"startLine": edit.start_line, "endLine": edit.end_line}
            inserted = edit.text.removesuffix("\n")
        replacements.append({"deletedRegion": deleted, "insertedContent": {"text": inserted}})
    return {
        "description": {
            "text": f"{finding.patch.safety.value}, "
            f"{'verified' if finding.patch.offered else 'proposed'}: {finding.patch.description}"
        },
        "artifactChanges": [
            {
                "artifactLocation": {"uri": finding.location.path, "uriBaseId": "%SRCROOT%"},
                "replacements": replacements,
            }
        ],
    }


def _failed(report: Report) -> bool:
    coverage = report.coverage
    return coverage is not None and any("failed" in r.states.values() for r in coverage.rows)


def _notifications(report: Report) -> list[dict[str, Any]]:
    """Run-level notifications: one per audit's coverage, one per symbol or file an audit
    meant to read and did not (failed or clipped), so a partial run never reads as clean."""
    if report.coverage is None:
        return []
    out: list[dict[str, Any]] = []
    for a in report.coverage.audits:
        percent = "nothing routed" if a.percent is None else f"{a.percent:g}%"
        out.append(
            {
                "descriptor": {"id": "coverage"},
                "level": "warning" if a.not_audited else "note",
                "message": {
                    "text": f"{a.audit}: coverage {percent}, "
                    f"{a.not_audited} symbol(s) not audited; "
                    + ", ".join(f"{state} {n}" for state, n in a.states.items())
                },
                "properties": {"audit": a.audit, "states": a.states},
            }
        )
    for row in report.coverage.not_audited():
        location: dict[str, Any] = {"artifactLocation": {"uri": row.path, "uriBaseId": "%SRCROOT%"}}
        if row.lines:
            location["region"] = {"startLine": row.lines[0], "endLine": row.lines[1]}
        for audit, state in row.states.items():
            if state not in NOT_AUDITED:
                continue
            detail = row.details.get(audit, "")
            out.append(
                {
                    "descriptor": {"id": f"coverage/{state}"},
                    "level": "error" if state == "failed" else "warning",
                    "message": {
                        "text": f"{audit}: {row.symbol or row.path} not audited ({state}"
                        + (f": {detail}" if detail else "")
                        + ")"
                    },
                    "locations": [{"physicalLocation": location}],
                    "properties": {"audit": audit, "state": state},
                }
            )
    return out


def render_sarif(report: Report, baseline: Mapping[str, BaselineState] | None = None) -> str:
    """The report as SARIF. ``baseline`` (a review's) maps each finding's fingerprint to its
    ``baselineState``; it must name every finding, since a run carries the state on all its
    results or on none."""
    if baseline is not None:
        missing = [f.fingerprint for f in report.findings if f.fingerprint not in baseline]
        if missing:
            raise ValueError(f"no baselineState for finding(s) {', '.join(missing)}")
    rule_ids: list[str] = []
    rules: list[dict[str, Any]] = []
    results = []
    for finding in report.findings:
        rule_id = _rule_id(finding)
        if rule_id not in rule_ids:
            rule_ids.append(rule_id)
            rules.append(_rule(rule_id, finding))
        state = baseline[finding.fingerprint] if baseline is not None else None
        results.append(_result(finding, rule_ids.index(rule_id), state))
    root = report.stats.root.rstrip("/") + "/"
    sarif = {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "vibe-audit",
                        "version": __version__,
                        "semanticVersion": __version__,
                        "rules": rules,
                    }
                },
                "originalUriBaseIds": {"%SRCROOT%": {"uri": f"file://{root}"}},
                "results": results,
                "invocations": [
                    {
                        "executionSuccessful": not _failed(report),
                        "toolExecutionNotifications": _notifications(report),
                        "properties": {
                            "audits": report.audits,
                            "promptVersions": report.prompt_versions,
                            "filesAudited": report.stats.files_audited,
                            "filesSkipped": report.stats.files_skipped,
                        },
                    }
                ],
                "properties": {
                    "scores": {s.audit: s.score for s in report.sections},
                    "coverage": {a.audit: a.percent for a in report.coverage.audits}
                    if report.coverage
                    else {},
                },
            }
        ],
    }
    return json.dumps(sarif, indent=2) + "\n"
