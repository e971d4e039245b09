"""The rule contract: metadata + a file check and/or a repo check, yielding hits.

A rule module in rules/builtin/ defines ``RULE = Rule(...)``; its module docstring is the
rule's documentation under the headings "What it finds", "Why it matters", "Example",
"Use instead".
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import PurePosixPath

import tree_sitter
from pydantic import BaseModel, ConfigDict, Field

from vibe_audit.rules import js, rust, syntax
from vibe_audit.rules.context import FileContext, RepoContext
from vibe_audit.schemas import AuditId, Confidence, Patch, Severity

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
    audit_severity: dict[AuditId, Severity] = Field(
        default_factory=dict,
        description="The most severe this defect is in an audit whose severity definitions "
        "rank it lower (a non-atomic JSON write is not a 'database is locked' failure in the "
        "SQLite audit); the finding is reported there at the lower of the two.",
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

    def placeholders(self) -> dict[str, str]:
        """The values for a rule text's {placeholders}: what every hit knows about itself
        (``HIT_PLACEHOLDERS``), overridden by the rule's own ``details``."""
        known = {name: read(self) for name, read in HIT_PLACEHOLDERS.items()}
        return {name: value for name, value in known.items() if value} | self.details


# The name of the definitions around a node ('Class.method'), by the file's language.
_SYMBOL: dict[str, Callable[[tree_sitter.Node], str | None]] = {
    "python": syntax.qualified_name,
    "javascript": js.js_symbol,
    "typescript": js.js_symbol,
    "tsx": js.js_symbol,
    "rust": rust.rust_symbol,
}


def node_hit(
    ctx: FileContext,
    node: tree_sitter.Node,
    *,
    until: tree_sitter.Node | None = None,
    named_by: tree_sitter.Node | None = None,
    details: dict[str, str] | None = None,
    replacement: str | None = None,
) -> Hit:
    """A hit in ``ctx``'s file from ``node``'s first line to the last line of ``until``
    (default: ``node``), named by the definitions around ``named_by`` (default: ``node``;
    give the function to name the hit after it)."""
    return Hit(
        path=ctx.source.path,
        start_line=syntax.line(node),
        end_line=syntax.end_line(until if until is not None else node),
        symbol=_SYMBOL[ctx.source.language](named_by if named_by is not None else node),
        details=details or {},
        replacement=replacement,
    )


# Language names by file suffix, for the {language} placeholder.
LANGUAGE_NAMES = {
    ".py": "Python", ".pyi": "Python", ".rs": "Rust", ".ts": "TypeScript",
    ".tsx": "TypeScript", ".mts": "TypeScript", ".cts": "TypeScript", ".js": "JavaScript",
    ".jsx": "JavaScript", ".mjs": "JavaScript", ".cjs": "JavaScript", ".go": "Go",
    ".java": "Java", ".kt": "Kotlin", ".rb": "Ruby", ".php": "PHP", ".cs": "C#",
}  # fmt: skip

# Placeholders any rule text may use, read from the hit itself, so findings speak of the
# audited code (its file, function and language), never of an example project. A rule's
# details of the same name win. An empty value leaves the placeholder unfilled.
HIT_PLACEHOLDERS: dict[str, Callable[[Hit], str | None]] = {
    "path": lambda hit: hit.path,
    "file": lambda hit: PurePosixPath(hit.path).name,
    "line": lambda hit: str(hit.start_line),
    "symbol": lambda hit: hit.symbol,
    "function": lambda hit: hit.symbol.rsplit(".", 1)[-1] if hit.symbol else None,
    "where": lambda hit: (
        f"{hit.symbol} ({hit.path}:{hit.start_line})"
        if hit.symbol
        else f"{hit.path}:{hit.start_line}"
    ),
    "language": lambda hit: LANGUAGE_NAMES.get(PurePosixPath(hit.path).suffix.lower()),
}


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
    # A mechanical fix for one hit, from the hit's file (vibe_audit/fixes/): the edits stay in
    # that file; vibe_audit.fixes.verify decides whether it is offered.
    fix: Callable[[FileContext, Hit], Patch | None] | None = None
