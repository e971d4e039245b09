"""The rule contract: metadata + a file check and/or a repo check, yielding hits.

A rule module in rules/builtin/ defines ``RULE = Rule(...)``; its module docstring is the
rule's documentation under the headings "What it finds", "Why it matters", "Example",
"Use instead".
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from pydantic import BaseModel, ConfigDict, Field

from vibe_audit.rules.context import FileContext, RepoContext
from vibe_audit.schemas import AuditId, Confidence, Severity

DOC_HEADINGS = ("What it finds", "Why it matters", "Example", "Use instead")


class RuleMeta(BaseModel):
    """Everything a finding says besides its location and evidence."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^[a-z0-9]+(-[a-z0-9]+)*$")
    title: str
    severity: Severity
    confidence: Confidence
    categories: dict[AuditId, str] = Field(min_length=1, description="Risk Category per audit.")
    checklist: list[str] = Field(min_length=1, description="Checklist item ids it checks.")
    problem: str
    scenario: str
    impact: str
    how_to_verify: str
    fix: str
    trade_off: str
    effort_hours: tuple[float, float] = Field(description="Low and high estimate to fix one.")
    languages: list[str] = Field(
        default_factory=lambda: ["python"], description="Languages its file check reads."
    )
    needs_concurrency: bool = Field(
        default=False,
        description="The defect only bites under concurrent access (a race, lock contention): "
        "with no concurrency seen in the repository, a finding above MEDIUM is reported at "
        "MEDIUM, and the finding says why.",
    )
    experimental: bool = Field(
        default=False,
        description="Below the precision gate on real code (benchmarks/precision.py): off by "
        "default, enabled by --rules experimental.",
    )


@dataclass(frozen=True)
class Hit:
    """Where a rule fired. ``details`` fill the {placeholders} of the rule's texts."""

    path: str
    start_line: int
    end_line: int
    symbol: str | None = None
    details: dict[str, str] = field(default_factory=dict)
    replacement: str | None = None  # exact new text for the hit's lines, when simple
    # Severity from evidence: the rule's severity unless the hit's context says otherwise
    # (no concurrency, state never read back, ...), and why, in the finding's words.
    severity: Severity | None = None
    severity_reason: str | None = None


@dataclass
class Rule:
    meta: RuleMeta
    doc: str
    check_file: Callable[[FileContext], Iterable[Hit]] | None = None
    check_repo: Callable[[RepoContext], Iterable[Hit]] | None = None
    # Checklist items this repository verifiably satisfies (a PRAGMA set to a safe literal
    # value): the only way a rule's silence makes an item clean. Without it, a rule that
    # finds nothing proves nothing and its items stay "needs confirmation".
    clears: Callable[[RepoContext], Iterable[str]] | None = None
