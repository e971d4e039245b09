"""Stable finding fingerprints.

A fingerprint names a defect, not a position: it hashes the defect family (the rule id, or
for a model finding its first category), the file, the enclosing symbol and the
whitespace-normalised first evidence line. Inserting or deleting lines elsewhere in the file
does not change it; editing the offending line does.
"""

from __future__ import annotations

import hashlib

from vibe_audit.schemas.models import Finding


def defect_family(finding: Finding) -> str:
    if finding.rule_id:
        return finding.rule_id
    first = finding.audits[0]
    return f"{first}:{finding.categories[first]}".lower()


def fingerprint(finding: Finding) -> str:
    evidence = " ".join(finding.evidence[0].text.split()) if finding.evidence else ""
    key = "\x1f".join(
        [defect_family(finding), finding.location.path, finding.location.symbol or "", evidence]
    )
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:20]
