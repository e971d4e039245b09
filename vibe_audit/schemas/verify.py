"""Check every finding against the source: path, line range, quoted evidence.

A finding whose path is not an audited file, whose lines lie outside the file, or whose
evidence cannot be found at (or within a few lines of) its location is dropped and counted.
Evidence found a few lines away moves the finding there. Nothing unverifiable is kept.
"""

from __future__ import annotations

from vibe_audit.schemas.models import EvidenceLine, Finding, Location

NEARBY_LINES = 3


def _norm(text: str) -> str:
    return " ".join(text.split())


def verify(
    findings: list[Finding], lines_by_path: dict[str, list[str]]
) -> tuple[list[Finding], dict[str, int]]:
    """Return the verified findings and the count of dropped ones by reason."""
    kept: list[Finding] = []
    dropped: dict[str, int] = {}

    def drop(reason: str) -> None:
        dropped[reason] = dropped.get(reason, 0) + 1

    for finding in findings:
        lines = lines_by_path.get(finding.location.path)
        if lines is None:
            drop("path not in audited files")
            continue
        if finding.location.end_line > max(len(lines), 1):
            drop("line range outside file")
            continue
        shift = _evidence_shift(finding.evidence, lines)
        if shift is None:
            drop("evidence does not match source")
            continue
        if shift:
            finding = _moved(finding, shift)
        kept.append(finding)
    return kept, dropped


def _evidence_shift(evidence: list[EvidenceLine], lines: list[str]) -> int | None:
    """0 when every quoted line matches where it claims; the offset when all match nearby."""
    for shift in sorted(range(-NEARBY_LINES, NEARBY_LINES + 1), key=abs):
        if all(
            1 <= e.line + shift <= len(lines) and _norm(lines[e.line + shift - 1]) == _norm(e.text)
            for e in evidence
        ):
            return shift
    return None


def _moved(finding: Finding, shift: int) -> Finding:
    old = finding.location
    return finding.model_copy(
        update={
            "location": Location(
                path=old.path,
                start_line=old.start_line + shift,
                end_line=old.end_line + shift,
                symbol=old.symbol,
            ),
            "evidence": [EvidenceLine(line=e.line + shift, text=e.text) for e in finding.evidence],
        }
    )
