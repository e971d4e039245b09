"""What a model must answer for one request: the output contract, passed as a JSON schema.

The template never restates this in prose; providers pass ``answer_json_schema(spec)`` as the
response format (OpenAI) or the forced tool's input schema (Anthropic).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from vibe_audit.schemas.audit_spec import AuditSpec
from vibe_audit.schemas.models import Confidence, Severity


class _Answer(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AnswerEvidence(_Answer):
    line: int = Field(ge=1, description="1-based line number in the file.")
    text: str = Field(description="The source line, copied verbatim.")


class AnswerFinding(_Answer):
    checklist_items: list[str] = Field(min_length=1, description="Checklist item ids violated.")
    severity: Severity
    category: str = Field(description="One of the audit's risk categories.")
    title: str
    path: str = Field(description="File path as given in the context header.")
    start_line: int = Field(ge=1)
    end_line: int = Field(ge=1)
    symbol: str | None = Field(description="Enclosing function or class, if any.")
    problem: str
    scenario: str = Field(description="The concrete failure scenario.")
    impact: str = Field(description="Realistic estimate of the impact under load.")
    confidence: Confidence
    how_to_verify: str
    fix: str = Field(description="The code change.")
    trade_off: str
    evidence: list[AnswerEvidence] = Field(min_length=1)


class ChunkAnswer(_Answer):
    findings: list[AnswerFinding]
    needs_confirmation: list[str] = Field(
        description="What this slice cannot show and must be checked, and where."
    )
    checked_items: list[str] = Field(description="Checklist item ids examined in this slice.")


def answer_json_schema(spec: AuditSpec) -> dict[str, Any]:
    """ChunkAnswer's JSON schema, with categories and checklist ids closed to this audit's."""
    schema = ChunkAnswer.model_json_schema()
    finding = schema["$defs"]["AnswerFinding"]["properties"]
    finding["category"]["enum"] = list(spec.categories)
    item_ids = [item.id for item in spec.checklist]
    finding["checklist_items"]["items"]["enum"] = item_ids
    schema["properties"]["checked_items"]["items"]["enum"] = item_ids
    return schema
