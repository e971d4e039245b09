"""Merge findings that describe one defect into one; number the report's findings.

Two findings are the same defect when they share a fingerprint, or when they have the same
defect family in the same file with overlapping or adjacent line ranges, or (one defect
seen by two audits) when they overlap in the same file and their titles say the same thing
(word overlap >= TITLE_SIMILARITY). The merged finding keeps the highest severity in each
audit, the union of audits, categories and checklist items, and the text of the
best-supported member (highest severity, then confidence, then most evidence).
"""

from __future__ import annotations

from vibe_audit.schemas.audit_spec import AuditSpec
from vibe_audit.schemas.fingerprint import defect_family, fingerprint
from vibe_audit.schemas.models import AUDIT_IDS, Confidence, Finding, Severity

_CONFIDENCE_RANK = {Confidence.HIGH: 0, Confidence.MEDIUM: 1, Confidence.LOW: 2}


def _support(finding: Finding) -> tuple[int, int, int]:
    return (
        finding.severity.rank,
        _CONFIDENCE_RANK[finding.confidence],
        -len(finding.evidence),
    )


TITLE_SIMILARITY = 0.6
_STOP_WORDS = frozenset({"a", "an", "the", "of", "in", "on", "to", "and", "or", "is", "with"})


def _words(title: str) -> set[str]:
    return {w for w in "".join(c if c.isalnum() else " " for c in title.lower()).split()} - (
        _STOP_WORDS
    )


def _similar_titles(a: Finding, b: Finding) -> bool:
    left, right = _words(a.title), _words(b.title)
    return bool(left and right) and len(left & right) / len(left | right) >= TITLE_SIMILARITY


def _same_defect(a: Finding, b: Finding) -> bool:
    if a.fingerprint == b.fingerprint:
        return True
    near = (
        a.location.path == b.location.path
        and a.location.start_line <= b.location.end_line + 1
        and b.location.start_line <= a.location.end_line + 1
    )
    if not near:
        return False
    if defect_family(a) == defect_family(b):
        return True
    both_rules = a.rule_id is not None and b.rule_id is not None  # distinct rules: distinct
    return not both_rules and set(a.audits) != set(b.audits) and _similar_titles(a, b)


def merge(findings: list[Finding]) -> list[Finding]:
    groups: list[list[Finding]] = []
    for finding in sorted(findings, key=lambda f: (f.location.path, f.location.start_line)):
        group = next((g for g in groups if any(_same_defect(m, finding) for m in g)), None)
        if group is None:
            groups.append([finding])
        else:
            group.append(finding)
    merged = [_combine(group) for group in groups]
    return sorted(
        merged, key=lambda f: (f.severity.rank, f.location.path, f.location.start_line, f.title)
    )


def number(findings: list[Finding]) -> list[Finding]:
    """Give the report's findings their ids F1, F2, ... in report order."""
    return [f.model_copy(update={"id": f"F{n}"}) for n, f in enumerate(findings, start=1)]


def _rank(severity: Severity) -> int:
    return severity.rank


def _combine(group: list[Finding]) -> Finding:
    best = min(group, key=_support)
    audits = [a for a in AUDIT_IDS if any(a in f.audits for f in group)]
    categories = {}
    for audit in audits:
        categories[audit] = next(f.categories[audit] for f in group if audit in f.categories)
    checklist = sorted({item for f in group for item in f.checklist_items})
    per_audit = {
        audit: min((f.severity_in(audit) for f in group if audit in f.audits), key=_rank)
        for audit in audits
    }
    severity = min(per_audit.values(), key=_rank)
    combined = best.model_copy(
        update={
            "severity": severity,
            "severities": {a: s for a, s in per_audit.items() if s is not severity},
            "audits": audits,
            "categories": categories,
            "checklist_items": checklist,
            "cost_usd": round(sum(f.cost_usd for f in group), 6),
        }
    )
    combined.fingerprint = fingerprint(combined)
    return combined


def in_audit(findings: list[Finding], audit: AuditSpec) -> list[Finding]:
    return [f for f in findings if audit.id in f.audits]
