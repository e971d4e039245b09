"""Validate a model's answer against the audit's contract and turn it into findings."""

from __future__ import annotations

import json

from pydantic import ValidationError

from vibe_audit.schemas import EvidenceLine, Finding, Location
from vibe_audit.schemas.answer import ChunkAnswer
from vibe_audit.schemas.audit_spec import AuditSpec
from vibe_audit.schemas.fingerprint import fingerprint
from vibe_audit.schemas.models import AbsenceSearch


class AnswerError(ValueError):
    """The answer broke the contract; ``kind`` names how (for the run stats)."""

    def __init__(self, kind: str, problem: str) -> None:
        super().__init__(problem)
        self.kind = kind


def parse_answer(text: str, spec: AuditSpec) -> ChunkAnswer:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise AnswerError(
            "invalid JSON", f"not valid JSON ({exc.msg} at character {exc.pos})"
        ) from exc
    try:
        answer = ChunkAnswer.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()[:5]
        )
        raise AnswerError("schema", f"does not match the schema: {problems}") from exc
    known = {item.id for item in spec.checklist}
    unknown_checked = [i for i in answer.checked_items if i not in known]
    if unknown_checked:
        raise AnswerError("schema", f"checked_items has unknown ids {unknown_checked}")
    unknown_na = [n.item for n in answer.not_applicable if n.item not in known]
    if unknown_na:
        raise AnswerError("schema", f"not_applicable has unknown ids {unknown_na}")
    for n, finding in enumerate(answer.findings):
        if finding.category not in spec.categories:
            raise AnswerError(
                "schema",
                f"findings.{n}.category '{finding.category}' is not one of {spec.categories}",
            )
        unknown = [i for i in finding.checklist_items if i not in known]
        if unknown:
            raise AnswerError("schema", f"findings.{n}.checklist_items has unknown ids {unknown}")
        if finding.end_line < finding.start_line:
            raise AnswerError("schema", f"findings.{n}: end_line is before start_line")
    return answer


def to_findings(answer: ChunkAnswer, spec: AuditSpec, model: str) -> list[Finding]:
    findings = []
    for item in answer.findings:
        finding = Finding(
            id="",
            fingerprint="",
            audits=[spec.id],
            severity=item.severity,
            categories={spec.id: item.category},
            title=item.title,
            location=Location(
                path=item.path,
                start_line=item.start_line,
                end_line=item.end_line,
                symbol=item.symbol,
            ),
            problem=item.problem,
            scenario=item.scenario,
            impact=item.impact,
            confidence=item.confidence,
            how_to_verify=item.how_to_verify,
            fix=item.fix,
            trade_off=item.trade_off,
            evidence=[EvidenceLine(line=e.line, text=e.text) for e in item.evidence],
            checklist_items=item.checklist_items,
            absence=(
                AbsenceSearch(pattern=item.absence.pattern, scope=item.absence.scope)
                if item.absence
                else None
            ),
            source="model",
            model=model,
        )
        finding.fingerprint = fingerprint(finding)
        findings.append(finding)
    return findings
