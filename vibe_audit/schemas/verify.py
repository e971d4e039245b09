"""Check every finding against the source: path, line range, quoted evidence.

- The path must be an audited file; otherwise the finding is dropped.
- The line range must lie in the file; when the finding came from a request, its path must
  be one of the request's files (else it is dropped) and its range is clamped to the lines
  the request showed of that file (a model only saw those).
- Every quoted evidence line must match the source (whitespace-insensitive) at its line or
  within a few lines of it; if instead the quote is found elsewhere in the chunk (or file),
  the finding moves there. Otherwise it is dropped.
- A line range far from its own (verified) evidence is a wrong claim: the finding is moved
  onto its evidence lines.

Nothing unverifiable is kept; every drop is counted by reason in the run stats.
"""

from __future__ import annotations

from vibe_audit.schemas.models import EvidenceLine, Finding, Location

NEARBY_LINES = 3
Scope = tuple[int, int]  # first and last line a finding may point at
RequestScope = Scope | dict[str, Scope]  # one file's lines, or the lines of each file shown


def _norm(text: str) -> str:
    return " ".join(text.split())


def verify(
    findings: list[Finding],
    lines_by_path: dict[str, list[str]],
    scopes: dict[int, RequestScope] | None = None,
) -> tuple[list[Finding], dict[str, int]]:
    """The verified findings and the count of dropped ones by reason.

    ``scopes`` maps a finding's index in ``findings`` to the line range of the chunk it came
    from, or to the line range of each file its request showed; findings without a scope may
    point anywhere in their file.
    """
    kept: list[Finding] = []
    dropped: dict[str, int] = {}

    def drop(reason: str) -> None:
        dropped[reason] = dropped.get(reason, 0) + 1

    for index, finding in enumerate(findings):
        lines = lines_by_path.get(finding.location.path)
        if lines is None:
            drop("path not in audited files")
            continue
        scope = (scopes or {}).get(index, (1, len(lines)))
        if isinstance(scope, dict):
            if finding.location.path not in scope:
                drop("path not in the request")
                continue
            scope = scope[finding.location.path]
        first, last = scope
        last = min(last, len(lines))
        if finding.location.start_line > last or finding.location.end_line < first:
            drop("line range outside file" if last == len(lines) else "line range outside chunk")
            continue
        shift = _evidence_shift(finding.evidence, lines, first, last)
        if shift is None:
            drop("evidence does not match source")
            continue
        kept.append(_placed(finding, shift, first, last))
    return kept, dropped


def _matches(
    evidence: list[EvidenceLine], lines: list[str], shift: int, first: int, last: int
) -> bool:
    return all(
        first <= e.line + shift <= last and _norm(lines[e.line + shift - 1]) == _norm(e.text)
        for e in evidence
    )


def _evidence_shift(
    evidence: list[EvidenceLine], lines: list[str], first: int, last: int
) -> int | None:
    """0 when the quotes match where they claim, else the offset to where they all match:
    nearby first, then anywhere in scope when that place is unique."""
    for shift in sorted(range(-NEARBY_LINES, NEARBY_LINES + 1), key=abs):
        if _matches(evidence, lines, shift, first, last):
            return shift
    anchor = evidence[0].line
    elsewhere = [
        n - anchor
        for n in range(first, last + 1)
        if _norm(lines[n - 1]) == _norm(evidence[0].text)
        and _matches(evidence, lines, n - anchor, first, last)
    ]
    return elsewhere[0] if len(elsewhere) == 1 else None


def _placed(finding: Finding, shift: int, first: int, last: int) -> Finding:
    old = finding.location
    start = min(max(old.start_line + shift, first), last)
    end = min(max(old.end_line + shift, start), last)
    quoted = [e.line + shift for e in finding.evidence]
    if quoted and (max(quoted) < start - NEARBY_LINES or min(quoted) > end + NEARBY_LINES):
        start, end = min(quoted), max(quoted)
    if shift == 0 and (start, end) == (old.start_line, old.end_line):
        return finding
    return finding.model_copy(
        update={
            "location": Location(path=old.path, start_line=start, end_line=end, symbol=old.symbol),
            "evidence": [EvidenceLine(line=e.line + shift, text=e.text) for e in finding.evidence],
        }
    )
