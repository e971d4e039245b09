"""The data an audit is defined by: the front matter of vibe_audit/prompts/audits/<id>.md."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator

from vibe_audit.schemas.models import AuditId, Severity


class RubricBand(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    min: int = Field(ge=1, le=10)
    max: int = Field(ge=1, le=10)
    text: str


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
        default_factory=list, description="Headings of the document this item was derived from."
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


class AuditSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: AuditId
    title: str
    score_name: str
    categories: list[str] = Field(min_length=1)
    environment: list[EnvironmentTopic] = Field(min_length=1)
    testing_strategy: list[str]
    verification_commands: list[str]
    monitoring: list[str]
    severities: dict[Severity, str]
    rubric: list[RubricBand]
    checklist: list[ChecklistItem] = Field(min_length=1)
    applies_to: AppliesTo
    body: str = Field(description="The template's Markdown body (role, goal, focus).")
    version: str = Field(description="Content hash of the template file.")

    @model_validator(mode="after")
    def _consistent(self) -> AuditSpec:
        covered = sorted(s for band in self.rubric for s in range(band.min, band.max + 1))
        if covered != list(range(1, 11)):
            raise ValueError(f"{self.id}: rubric bands must cover 1-10 exactly once")
        if set(self.severities) != set(Severity):
            raise ValueError(f"{self.id}: every severity needs a definition")
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
