"""The data an audit is defined by: the front matter of vibe_audit/prompts/audits/<id>.md."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from vibe_audit.schemas.models import AuditId, Severity


class RubricCondition(BaseModel):
    """One of a rubric band's conditions, over the audit's distinct issues (repeated sites
    of one pattern count once), each at its severity in this audit.

    An issue qualifies when it is at ``severity`` or above and, if any subject is given,
    is in one of ``categories``, cites one of ``items`` or was raised by one of ``rules``.
    The condition holds when at least ``issues`` issues qualify, spread over at least
    ``spread`` risk categories.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    severity: Severity = Severity.MEDIUM
    issues: int = Field(default=1, ge=1)
    spread: int = Field(default=1, ge=1)
    categories: list[str] = Field(default_factory=list)
    items: list[str] = Field(default_factory=list)
    rules: list[str] = Field(default_factory=list)

    def describe(self) -> str:
        """The condition in words, for the report and docs/."""
        if self.severity is Severity.MONITOR:
            level = "any severity"
        elif self.severity is Severity.CRITICAL:
            level = "CRITICAL"
        else:
            level = f"{self.severity.value} or worse"
        count = "an issue" if self.issues == 1 else f"{self.issues} distinct issues"
        subjects = []
        if self.categories:
            subjects.append("in " + " or ".join(self.categories))
        if self.items:
            subjects.append("citing " + ", ".join(self.items))
        if self.rules:
            subjects.append("from rule " + ", ".join(self.rules))
        text = f"{count} at {level}" + (" " + " or ".join(subjects) if subjects else "")
        if self.spread > 1:
            text += f", in at least {self.spread} risk categories"
        return text


class RubricBand(BaseModel):
    """A score band of the document's rubric. ``when`` lists the conditions (any one
    suffices) that place an audit in this band; the worst band whose condition holds wins,
    and the top band (no conditions) is what is left when none holds."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    min: int = Field(ge=1, le=10)
    max: int = Field(ge=1, le=10)
    text: str
    when: list[RubricCondition] = Field(default_factory=list)


CodeLanguage = Literal["python", "typescript", "rust"]
"""The language families of the coverage matrix (typescript stands for TS, TSX and JS)."""


class ChecklistItem(BaseModel):
    """One item of the document: a lettered sub-section or a checklist line.

    ``id`` is stable (``sqlite.3A``, ``sqlite.pragma.2``); findings cite it.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^[a-z]+\.[A-Za-z0-9_.]+$")
    section: str
    text: str
    detail: str = ""
    sources: list[str] = Field(
        default_factory=list,
        description="Headings or lines of the document this item was derived from, quoted "
        "(the link a generally phrased item keeps to its project-specific source).",
    )
    tier: Literal["essential", "recommended"] = Field(
        default="essential",
        description="'recommended': an optimization the document lists apart from the "
        "essentials (e.g. SQLite's cache_size); missing it is at most MONITOR.",
    )
    decided_by: Literal["code", "intent", "runtime", "task"] = Field(
        default="code",
        description="What can decide the item: 'code', a property of the code a static rule "
        "can check; 'intent', needs to know what the code is meant to do (a model or a "
        "reviewer); 'runtime', needs deployment or runtime facts (load, data, config outside "
        "the repository); 'task', a task to carry out, not a property of code. The rule "
        "coverage matrix (docs/coverage.md) is built from it.",
    )
    decided_by_because: str = Field(
        default="",
        description="Why no rule can decide an item a model decides (intent, runtime): one "
        "line the coverage matrix shows.",
    )
    not_applicable: dict[CodeLanguage, str] = Field(
        default_factory=dict,
        description="Languages (python, typescript, rust) where the item cannot occur as "
        "written, each with the one-line reason (aiosqlite is a Python library; Rust closes "
        "a connection when its owner is dropped). The coverage matrix shows the reason and "
        "leaves the item out of that language's count.",
    )
    no_rule_because: dict[CodeLanguage, str] = Field(
        default_factory=dict,
        description="Languages where the item is decidable by code but no rule decides it "
        "yet, each with the reason (no real code to measure a rule on, ...): a gap the "
        "coverage matrix names instead of leaving a bare 'no rule yet'.",
    )


class DocumentRequirement(BaseModel):
    """A requirement of the document outside its checklist (its context and targets, the
    integrity requirements, instructions to the auditor, what each finding must say),
    phrased for any code base and rendered in the system message under ``section``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    section: str
    text: str
    sources: list[str] = Field(
        default_factory=list, description="The document's own words, quoted."
    )


class AppliesTo(BaseModel):
    """Cheap signals the router uses to skip chunks an audit cannot be about."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    imports: list[str] = Field(description="Top-level module names.")
    patterns: list[str] = Field(description="Regular expressions searched in the chunk text.")
    suffixes: list[str] = Field(description="File suffixes or names that always apply.")


class EnvironmentTopic(BaseModel):
    """One fact the document says to infer first ("Environment & Assumptions")."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    key: str = Field(description="Fact key the static inference knows, e.g. journal_mode.")
    text: str
    default: str = Field(description="Best-practice default shown when it cannot be inferred.")


# The repository-wide facts a context pack can list (agent/context_pack.py builds each line);
# each audit names the ones its checklist uses in its template's ``context_facts``.
ContextFact = Literal[
    "frameworks",
    "connections",
    "connect_timeouts",
    "pragmas",
    "sync_db_functions",
    "json_writes",
    "renames",
    "locks",
    "foreign_keys",
    "async_functions",
]


class AuditSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: AuditId
    order: int = Field(ge=1)  # place among the audits (AUDIT_IDS reads it from the file)
    title: str
    score_name: str
    categories: list[str] = Field(min_length=1)
    environment: list[EnvironmentTopic] = Field(min_length=1)
    testing_strategy: list[str]
    verification_commands: list[str]
    monitoring: list[str] = Field(
        description="Metrics to add, each with the threshold that triggers the fix."
    )
    infrastructure: list[str] = Field(
        default_factory=list, description="Infrastructure and tooling to add (checkpoint)."
    )
    report_sections: list[Literal["executive_summary", "suspicious_patterns"]] = Field(
        default_factory=list,
        description="Sections the document asks for beyond the common ones: an executive "
        "summary (reliability), Suspicious Patterns (concurrency, checkpoint, sqlite).",
    )
    severities: dict[Severity, str]
    rubric: list[RubricBand]
    checklist: list[ChecklistItem] = Field(min_length=1)
    requirements: list[DocumentRequirement] = Field(
        default_factory=list,
        description="The document's requirements outside the checklist, in its order.",
    )
    scoring_criteria: list[str] = Field(
        default_factory=list, description="What the document says the score weighs."
    )
    applies_to: AppliesTo
    context_facts: list[ContextFact] = Field(
        min_length=1,
        description="The repository facts the audit's checklist uses, in the order its "
        "context pack lists them (the pack is repeated in every request of the audit).",
    )
    body: str = Field(description="The template's Markdown body (role, goal, focus).")
    version: str = Field(description="Content hash of the template file.")

    @model_validator(mode="after")
    def _consistent(self) -> AuditSpec:
        covered = sorted(s for band in self.rubric for s in range(band.min, band.max + 1))
        if covered != list(range(1, 11)):
            raise ValueError(f"{self.id}: rubric bands must cover 1-10 exactly once")
        for band in self.rubric:
            if (band.max == 10) == bool(band.when):
                raise ValueError(
                    f"{self.id}: every rubric band but the top one needs conditions (when)"
                )
            for condition in band.when:
                unknown = set(condition.categories) - set(self.categories)
                if unknown:
                    raise ValueError(f"{self.id}: rubric names unknown categories {unknown}")
                unknown = set(condition.items) - {item.id for item in self.checklist}
                if unknown:
                    raise ValueError(f"{self.id}: rubric names unknown checklist items {unknown}")
        if set(self.severities) != set(Severity):
            raise ValueError(f"{self.id}: every severity needs a definition")
        if len(self.context_facts) != len(set(self.context_facts)):
            raise ValueError(f"{self.id}: duplicate context_facts")
        ids = [item.id for item in self.checklist]
        if len(ids) != len(set(ids)):
            raise ValueError(f"{self.id}: duplicate checklist ids")
        if any(not i.startswith(f"{self.id}.") for i in ids):
            raise ValueError(f"{self.id}: checklist ids must start with '{self.id}.'")
        return self

    def band(self, score: int) -> RubricBand:
        return next(b for b in self.rubric if b.min <= score <= b.max)

    def checklist_ids(self) -> set[str]:
        return {item.id for item in self.checklist}
