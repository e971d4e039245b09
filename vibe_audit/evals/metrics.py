"""Scoring one model's findings against labels: precision, recall, F1 (overall and per
audit), severity agreement, location accuracy, decoy hits, and run-to-run stability.

A finding matches a label when it is in the same file, their line ranges overlap (each side
widened by ``labels.LINE_TOLERANCE`` lines) and the finding is in one of the label's
acceptable audits. Per audit, a finding of that audit is true when it matches a label that
accepts that audit; a label of that audit is found when some finding of that audit matches
it. Overall, a finding is true when it matches any label through any of its audits.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import combinations

from pydantic import BaseModel, Field

from vibe_audit.evals.labels import Defect, Labels
from vibe_audit.schemas import AUDIT_IDS, AuditId, Finding


class Counts(BaseModel):
    findings: int = 0
    true_positives: int = 0
    labels: int = 0
    found: int = 0

    @property
    def precision(self) -> float | None:
        return self.true_positives / self.findings if self.findings else None

    @property
    def recall(self) -> float | None:
        return self.found / self.labels if self.labels else None

    @property
    def f1(self) -> float | None:
        p, r = self.precision, self.recall
        if p is None or r is None:
            return None
        return 0.0 if p + r == 0 else 2 * p * r / (p + r)

    def summary(self) -> dict[str, float | None]:
        return {"precision": self.precision, "recall": self.recall, "f1": self.f1}


class Scores(BaseModel):
    """One run of one model over the corpus."""

    overall: Counts
    per_audit: dict[AuditId, Counts]
    severity_agreement: float | None = Field(
        description="Matched findings whose severity equals the label's."
    )
    location_accuracy: float | None = Field(
        description="Matched findings whose lines overlap the label's with no tolerance."
    )
    decoy_hits: list[str] = Field(description="Findings on code labeled correct.")
    missed: list[str] = Field(description="Label ids no finding matched.")
    missed_by_audit: dict[AuditId, list[str]] = Field(
        default_factory=dict, description="Per audit: label ids no finding of that audit matched."
    )
    false_positives: list[str] = Field(description="path:line title of unmatched findings.")
    wrong_audit: dict[AuditId, list[str]] = Field(
        default_factory=dict,
        description="Per audit: findings of that audit on a labeled defect that does not "
        "accept the audit (false positives of the audit, true ones overall).",
    )


def _matches(finding: Finding, defect: Defect, audit: AuditId | None = None) -> bool:
    audits = [audit] if audit else finding.audits
    return defect.matches(finding) and any(a in defect.audits for a in audits)


def score_run(labels: Labels, findings: Sequence[Finding], audits: Sequence[AuditId]) -> Scores:
    """Scores of one run; only labels with an audit among ``audits`` count."""
    defects = [d for d in labels.defects if set(d.audits) & set(audits)]
    overall = Counts(findings=len(findings), labels=len(defects))
    matched_pairs: list[tuple[Finding, Defect]] = []
    false_positives = []
    for finding in findings:
        hits = [d for d in defects if _matches(finding, d)]
        if hits:
            overall.true_positives += 1
            matched_pairs.append((finding, hits[0]))
        else:
            where = finding.location
            false_positives.append(f"{where.path}:{where.start_line} {finding.title}")
    found = {d.id for f, d in matched_pairs} | {
        d.id for d in defects for f in findings if _matches(f, d)
    }
    overall.found = len(found)
    per_audit: dict[AuditId, Counts] = {}
    missed_by_audit: dict[AuditId, list[str]] = {}
    wrong_audit: dict[AuditId, list[str]] = {}
    for audit in AUDIT_IDS:
        if audit not in audits:
            continue
        mine = [f for f in findings if audit in f.audits]
        accepting = [d for d in defects if audit in d.audits]
        counts = Counts(findings=len(mine), labels=len(accepting))
        counts.true_positives = sum(1 for f in mine if any(_matches(f, d, audit) for d in defects))
        hit = [d.id for d in accepting if any(_matches(f, d, audit) for f in mine)]
        counts.found = len(hit)
        per_audit[audit] = counts
        missed_by_audit[audit] = sorted(d.id for d in accepting if d.id not in hit)
        wrong_audit[audit] = [
            f"{f.location.path}:{f.location.start_line} {f.title}"
            for f in mine
            if not any(_matches(f, d, audit) for d in defects)
            and any(_matches(f, d) for d in defects)
        ]
    severity = [f.severity.value == d.severity for f, d in matched_pairs if d.severity]
    exact = [
        any(
            p.path == f.location.path
            and f.location.start_line <= p.end
            and f.location.end_line >= p.start
            for p in d.places
        )
        for f, d in matched_pairs
    ]
    decoys = [
        f"{f.location.path}:{f.location.start_line} {f.title}"
        for f in findings
        if any(
            c.overlaps(f.location.path, f.location.start_line, f.location.end_line)
            for c in labels.correct
        )
        and not any(_matches(f, d) for d in defects)
    ]
    return Scores(
        overall=overall,
        per_audit=per_audit,
        severity_agreement=sum(severity) / len(severity) if severity else None,
        location_accuracy=sum(exact) / len(exact) if exact else None,
        decoy_hits=decoys,
        missed=sorted(d.id for d in defects if d.id not in found),
        missed_by_audit=missed_by_audit,
        false_positives=false_positives,
        wrong_audit={a: found for a, found in wrong_audit.items() if found},
    )


def stability(runs: Sequence[set[str]]) -> float | None:
    """Mean pairwise Jaccard similarity of the finding sets of repeated runs (None for one)."""
    if len(runs) < 2:
        return None
    pairs = [len(a & b) / len(a | b) if a | b else 1.0 for a, b in combinations(runs, 2)]
    return sum(pairs) / len(pairs)
