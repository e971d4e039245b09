"""Fuse the findings that describe one defect into one; number the report's findings.

Two findings are linked (one defect) when they share a fingerprint, or when they are in the
same file with overlapping or adjacent line ranges (as verification placed them) and:

- they have the same defect family (the same rule; or model findings of the same audit and
  category);
- one is a rule finding, the other a model finding, they share an audit, and they share a
  checklist item or the model's category in a shared audit is the rule's (the model saw the
  rule's defect);
- they come from different audits (not both rules) and their titles say the same thing
  (word overlap >= TITLE_SIMILARITY): one defect seen by two audits.

Findings of two different rules are never one defect, nor are two model findings of one
audit in different categories of it. A defect's findings are the connected components of
the links, built deterministically: the findings are put in a total order of their content
and the links taken strongest first (fingerprint, family, rule and model, two audits; then
the nearest), a link that would put two findings that are never one defect in one group
being skipped. Neither the groups nor the text kept depend on the order findings arrive in.

The fused finding keeps the text of its preferred member (a rule finding first: its location
and fix are exact; then highest severity, confidence, most evidence), each audit's highest
severity and that audit's category from the preferred member that has it, and the union of
audits, checklist items, sources (rule, model) and spend.
"""

from __future__ import annotations

from collections.abc import Iterator
from itertools import combinations

from vibe_audit.findings.fingerprint import defect_family, fingerprint
from vibe_audit.schemas.models import AUDIT_IDS, SOURCES, Finding, Severity

TITLE_SIMILARITY = 0.6
_STOP_WORDS = frozenset({"a", "an", "the", "of", "in", "on", "to", "and", "or", "is", "with"})

# Link strengths, strongest first.
SAME_FINGERPRINT, SAME_FAMILY, RULE_AND_MODEL, TWO_AUDITS = 0, 1, 2, 3


def _content(finding: Finding) -> str:
    """A total order over findings by content (equal keys: interchangeable findings)."""
    return finding.model_dump_json()


def _preference(finding: Finding) -> tuple[int, int, int, int]:
    return (
        0 if finding.rule_id else 1,
        finding.severity.rank,
        finding.confidence.rank,
        -len(finding.evidence),
    )


def _words(title: str) -> set[str]:
    return {w for w in "".join(c if c.isalnum() else " " for c in title.lower()).split()} - (
        _STOP_WORDS
    )


def _similar_titles(a: Finding, b: Finding) -> bool:
    left, right = _words(a.title), _words(b.title)
    return bool(left and right) and len(left & right) / len(left | right) >= TITLE_SIMILARITY


def _near(a: Finding, b: Finding) -> bool:
    return (
        a.location.path == b.location.path
        and a.location.start_line <= b.location.end_line + 1
        and b.location.start_line <= a.location.end_line + 1
    )


def link(a: Finding, b: Finding) -> int | None:
    """How strongly ``a`` and ``b`` are one defect (a link strength), or None."""
    if a.rule_id and b.rule_id and a.rule_id != b.rule_id:
        return None  # distinct rules: distinct defects
    if a.fingerprint == b.fingerprint:
        return SAME_FINGERPRINT
    if not _near(a, b):
        return None
    if defect_family(a) == defect_family(b):
        return SAME_FAMILY
    if (a.rule_id is None) != (b.rule_id is None):
        shared = set(a.audits) & set(b.audits)
        if shared and (
            set(a.checklist_items) & set(b.checklist_items)
            or any(a.categories[x] == b.categories[x] for x in shared)
        ):
            return RULE_AND_MODEL
    if set(a.audits) != set(b.audits) and not (a.rule_id and b.rule_id) and _similar_titles(a, b):
        return TWO_AUDITS
    return None


def _links(findings: list[Finding]) -> Iterator[tuple[int, int, int, int]]:
    """(strength, distance, i, j) for every linked pair (i < j) of ``findings``."""
    by_path: dict[str, list[int]] = {}
    for i, finding in enumerate(findings):
        by_path.setdefault(finding.location.path, []).append(i)  # a fingerprint names its path
    for indices in by_path.values():
        for i, j in combinations(indices, 2):
            a, b = findings[i], findings[j]
            strength = link(a, b)
            if strength is not None:
                yield strength, abs(a.location.start_line - b.location.start_line), i, j


def groups(findings: list[Finding]) -> list[list[Finding]]:
    """The findings of each defect (see the module docstring), independent of input order."""
    ordered = sorted(findings, key=_content)
    parent = list(range(len(ordered)))
    rules: list[set[str]] = [{f.rule_id} if f.rule_id else set() for f in ordered]
    said: list[dict[str, set[str]]] = [  # audit -> the categories model findings gave
        {} if f.rule_id else {a: {c} for a, c in f.categories.items()} for f in ordered
    ]

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for _strength, _distance, i, j in sorted(_links(ordered)):
        a, b = root(i), root(j)
        if a == b or len(rules[a] | rules[b]) > 1 or _conflict(said[a], said[b]):
            continue
        low, high = min(a, b), max(a, b)
        parent[high] = low
        rules[low] |= rules[high]
        for audit, categories in said[high].items():
            said[low].setdefault(audit, set()).update(categories)
    members: dict[int, list[Finding]] = {}
    for i, finding in enumerate(ordered):
        members.setdefault(root(i), []).append(finding)
    return list(members.values())


def _conflict(a: dict[str, set[str]], b: dict[str, set[str]]) -> bool:
    """Model findings of both groups put one audit's defect in different categories."""
    return any(not a[audit] & b[audit] for audit in a.keys() & b.keys())


def merge(findings: list[Finding]) -> list[Finding]:
    merged = [_combine(group) for group in groups(findings)]
    return sorted(
        merged,
        key=lambda f: (
            f.severity.rank,
            f.location.path,
            f.location.start_line,
            f.title,
            f.location.end_line,
            _content(f),
        ),
    )


def number(findings: list[Finding]) -> list[Finding]:
    """Give the report's findings their ids F1, F2, ... in report order."""
    return [f.model_copy(update={"id": f"F{n}"}) for n, f in enumerate(findings, start=1)]


def _rank(severity: Severity) -> int:
    return severity.rank


def _combine(group: list[Finding]) -> Finding:
    ordered = sorted(group, key=lambda f: (_preference(f), _content(f)))
    best = ordered[0]
    audits = [a for a in AUDIT_IDS if any(a in f.audits for f in group)]
    categories = {a: next(f.categories[a] for f in ordered if a in f.categories) for a in audits}
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
            "sources": [s for s in SOURCES if any(s in f.sources for f in group)],
            "model": best.model or next((f.model for f in ordered if f.model), None),
            "cost_usd": round(sum(f.cost_usd for f in group), 6),
        }
    )
    combined.fingerprint = fingerprint(combined)
    return combined
