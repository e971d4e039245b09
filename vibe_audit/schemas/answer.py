"""What a model must answer for one request: the output contract, passed as a JSON schema.

Providers pass ``answer_json_schema(spec)`` as the response format (OpenAI) or the forced
tool's input schema (Anthropic); the field descriptions carry the documents' guidance for
each part of a finding. Where a server takes no schema (JSON mode), ``schema_prose`` states
the same schema in words for the system message.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from vibe_audit.schemas.audit_spec import AuditSpec
from vibe_audit.schemas.models import Confidence, Severity


class _Answer(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AnswerEvidence(_Answer):
    line: int = Field(ge=1, description="1-based line number in the file (the number before '|').")
    text: str = Field(description="The source line, copied verbatim from the numbered code.")


class AnswerFinding(_Answer):
    checklist_items: list[str] = Field(
        min_length=1, description="Every checklist item id this defect violates."
    )
    severity: Severity  # no description: a $ref with siblings breaks strict schemas
    category: str = Field(description="One of the audit's risk categories.")
    title: str = Field(description="A concise title naming the defect.")
    path: str = Field(description="File path as given in the context header.")
    start_line: int = Field(ge=1, description="First line of the defect.")
    end_line: int = Field(ge=1, description="Last line of the defect.")
    symbol: str | None = Field(description="Enclosing function or class, if any.")
    problem: str = Field(
        description="2-4 sentences naming the failure mode (lost update, duplicate entry, "
        "corrupted or truncated file, 'database is locked', event loop blocked, resource "
        "leak, unbounded wait, ...) and why this code has it."
    )
    scenario: str = Field(
        description="Step by step, the concrete interleaving or failure that triggers it: "
        "who does what in which order (request A reads, request B writes, ...), or which "
        "crash, timeout or dependency failure at which line."
    )
    impact: str = Field(
        description="A realistic estimate of what is lost or broken and how often, under "
        "the stated load (e.g. '10 concurrent uploads -> 40% fail with locked error'), "
        "the user impact and the cascade risk."
    )
    confidence: Confidence
    how_to_verify: str = Field(
        description="A concrete test or command that shows the defect: a concurrent test "
        "script, a kill-during-write test, a PRAGMA query, a load test, a grep."
    )
    fix: str = Field(
        description="The corrected code, before/after, for this code (not advice); for "
        "configuration, the exact statements (e.g. the PRAGMA) and where they go (the "
        "connection factory, every connection, startup)."
    )
    trade_off: str = Field(
        description="What the fix costs: complexity, performance, disk or operational "
        "risk. When the defect is acceptable at the current scale, severity MONITOR and the "
        "threshold that triggers the fix."
    )
    evidence: list[AnswerEvidence] = Field(
        min_length=1,
        description="The source lines the finding relies on, each copied verbatim with its "
        "line number. For a missing thing (no SIGTERM handler, no busy_timeout anywhere), "
        "the lines where it belongs (the connection factory, the worker loop).",
    )
    absence: AnswerAbsence | None = Field(
        default=None,
        description="Only for a defect that is something missing: the search that shows it "
        "is absent. null otherwise.",
    )


class AnswerAbsence(_Answer):
    pattern: str = Field(
        description="A Python regular expression whose absence shows the defect (e.g. "
        "'busy_timeout|timeout=' for a missing busy timeout); the tool re-runs the search."
    )
    scope: Literal["file", "repository"] = Field(
        description="Search the finding's file, or every audited file."
    )


class HintVerdict(_Answer):
    hint: str = Field(description="The hint's id as listed under Static-rule hints (H1, H2...).")
    verdict: Literal["confirmed", "dismissed"]
    reason: str = Field(
        description="For a dismissal, why the hint is wrong for this code (what the rule "
        "missed); for a confirmation, one line."
    )


class NotApplicable(_Answer):
    item: str = Field(description="A checklist item id.")
    reason: str = Field(
        description="Why the item cannot apply to this code's stack (e.g. 'no client-side "
        "store', 'no external annotation service'), from what the slices show."
    )


class ChunkAnswer(_Answer):
    findings: list[AnswerFinding] = Field(description="One per defect; empty when none.")
    needs_confirmation: list[str] = Field(
        description="Suspicious patterns and assumptions this slice cannot settle: what must "
        "be checked, and where."
    )
    checked_items: list[str] = Field(description="Checklist item ids examined in this slice.")
    hint_verdicts: list[HintVerdict] = Field(
        default_factory=list,
        description="One per static-rule hint of this request: confirmed (the defect is "
        "real here; do not report it again as a finding) or dismissed (with the reason).",
    )
    not_applicable: list[NotApplicable] = Field(
        default_factory=list,
        description="Checklist items that cannot apply to this code's stack (no such "
        "subject: no client store, no external annotation service, no OCR), with the reason.",
    )


def answer_json_schema(spec: AuditSpec) -> dict[str, Any]:
    """ChunkAnswer's JSON schema, with categories and checklist ids closed to this audit's."""
    schema = ChunkAnswer.model_json_schema()
    finding = schema["$defs"]["AnswerFinding"]["properties"]
    finding["category"]["enum"] = list(spec.categories)
    item_ids = [item.id for item in spec.checklist]
    finding["checklist_items"]["items"]["enum"] = item_ids
    schema["properties"]["checked_items"]["items"]["enum"] = item_ids
    schema["$defs"]["NotApplicable"]["properties"]["item"]["enum"] = item_ids
    # A model is asked for every field (strict structured outputs require it); an answer
    # without not_applicable, hint_verdicts or absence still validates (empty, null).
    schema["required"] = list(schema["properties"])
    schema["$defs"]["AnswerFinding"]["required"] = list(
        schema["$defs"]["AnswerFinding"]["properties"]
    )
    return schema


def schema_prose(schema: dict[str, Any]) -> str:
    """The answer schema in words, field by field (for servers that take no schema)."""
    out = [
        "## Answer format",
        "",
        "Answer with one JSON object and nothing else. Every field is required; no other "
        "fields are allowed.",
        "",
    ]
    out += _object_prose(schema, schema.get("$defs", {}), "", {})
    return "\n".join(out) + "\n"


def _object_prose(
    node: dict[str, Any], defs: dict[str, Any], indent: str, said: dict[str, str]
) -> list[str]:
    """One line per field; an enum given once is referred to afterwards (``said``)."""
    out: list[str] = []
    for name, field in node.get("properties", {}).items():
        kind, target = _kind(field, defs)
        line = f"{indent}- {name} ({kind}):"
        description = field.get("description") or (target or {}).get("description")
        if description:
            line += f" {description}"
        enum = json.dumps(_enum(field, defs))
        if enum != "[]" and enum in said:
            line += f" One of the values listed for {said[enum]}."
        elif enum != "[]":
            line += " One of: " + enum[1:-1] + "."
            said[enum] = name
        out.append(line)
        if target is not None and "properties" in target:
            out += _object_prose(target, defs, indent + "  ", said)
    return out


def _resolve(field: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    ref = field.get("$ref")
    return dict(defs[ref.rsplit("/", 1)[1]]) if isinstance(ref, str) else field


def _kind(field: dict[str, Any], defs: dict[str, Any]) -> tuple[str, dict[str, Any] | None]:
    """A short type name and, for an object or a list of objects, the object's schema."""
    if "anyOf" in field:
        kinds = [_kind(option, defs)[0] for option in field["anyOf"]]
        return " or ".join(kinds), None
    field = _resolve(field, defs)
    if field.get("type") == "array":
        item_kind, target = _kind(field.get("items", {}), defs)
        least = f", at least {field['minItems']}" if field.get("minItems") else ""
        return f"list of {item_kind}{least}", target
    if "properties" in field:
        return "object", field
    if "enum" in field and "type" not in field:
        return "string", None
    return str(field.get("type", "value")), None


def _enum(field: dict[str, Any], defs: dict[str, Any]) -> list[Any]:
    field = _resolve(field, defs)
    if field.get("type") == "array":
        return _enum(field.get("items", {}), defs)
    return list(field.get("enum", []))
