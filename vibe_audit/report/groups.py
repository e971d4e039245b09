"""One entry per distinct issue for the readable formats (markdown, HTML, terminal).

Repeated sites of one pattern (the same rule, or the same title from a model, at the same
severity: the key the scores count issues by) are one group with every place listed; its
problem, scenario and fix are written once. JSON and SARIF keep one result per place.
"""

from __future__ import annotations

from dataclasses import dataclass

from vibe_audit.findings.score import sites_by_pattern
from vibe_audit.schemas import Finding, PatchSafety, Severity


@dataclass(frozen=True)
class Group:
    """Every place of one issue; ``lead`` (the first in report order) speaks for them."""

    findings: tuple[Finding, ...]

    @property
    def lead(self) -> Finding:
        return self.findings[0]

    @property
    def severity(self) -> Severity:
        return self.lead.severity

    @property
    def audits(self) -> list[str]:
        seen: list[str] = []
        for finding in self.findings:
            seen += [a for a in finding.audits if a not in seen]
        return seen


def group_findings(findings: list[Finding]) -> list[Group]:
    """Groups in the order of their first finding (the report's severity order)."""
    return [Group(tuple(members)) for members in sites_by_pattern(findings)]


def place(finding: Finding) -> str:
    """'app/db.py:12-14' of one finding."""
    loc = finding.location
    lines = f"{loc.start_line}" + (f"-{loc.end_line}" if loc.end_line != loc.start_line else "")
    return f"{loc.path}:{lines}"


def severity_label(finding: Finding) -> str:
    """'CRITICAL', or 'CRITICAL; sqlite: MEDIUM' when an audit ranks it lower."""
    lower = "".join(f"; {a}: {s.value}" for a, s in finding.severities.items())
    return f"{finding.severity.value}{lower}"


def patch_note(finding: Finding) -> str | None:
    """What the report says of a finding's mechanical fix (``vibe-audit fix``), if any."""
    patch = finding.patch
    if patch is None:
        return None
    rule = f" --rule {finding.rule_id}" if finding.rule_id else ""
    if patch.proposed:
        unsafe = "" if patch.safety is PatchSafety.SAFE else " --unsafe"
        return (
            f"Patch: {patch.safety.value}, proposed: {patch.description} "
            f"(`vibe-audit fix{unsafe}{rule}` verifies and prints it)"
        )
    if not patch.offered:
        return f"Patch: not offered: {patch.reason}"
    if patch.safety is PatchSafety.SAFE:
        return f"Patch: safe, verified: {patch.description} (`vibe-audit fix{rule}` prints it)"
    return (
        f"Patch: needs review (unsafe), verified: {patch.description} "
        f"(`vibe-audit fix --unsafe{rule}` prints it)"
    )


def patch_summary(findings: list[Finding], target: str) -> str | None:
    """One line on the report's patches: how many are offered, how many are safe."""
    patches = [f.patch for f in findings if f.patch is not None]
    if not patches:
        return None
    usable = [p for p in patches if p.offered or p.proposed]
    safe = sum(1 for p in usable if p.safety is PatchSafety.SAFE)
    refused = len(patches) - len(usable)
    verified = sum(1 for p in usable if p.offered)
    line = (
        f"patches: {len(usable)} ({safe} safe, {len(usable) - safe} need review; "
        f"{verified} verified)"
    )
    if usable:
        line += f"; `vibe-audit fix {target} --diff` verifies and prints them"
    return line + (f"; {refused} not offered (failed verification)" if refused else "")
