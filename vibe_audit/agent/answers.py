"""Read a model's answer leniently and turn it into findings.

A model's answer is read finding by finding: one bad finding never costs the others.

- The JSON may come bare, in a markdown fence, after or before prose ("Here is the answer:
  {...}"), or with trailing commas. Only text with no JSON object in it, or JSON that is not
  an object with a ``findings`` list, is rejected (AnswerError: the runner's one repair call).
- The envelope is lenient: unknown top-level keys are ignored, missing optional lists are
  empty, unknown checklist ids in ``checked_items`` / ``not_applicable`` are dropped.
- Each finding is validated alone. What can be repaired is repaired in place: enum case
  (``"high"`` -> HIGH / High), unknown keys ignored, a category matched case-insensitively or
  by closest name to the audit's categories (else the audit's first category), unknown
  checklist ids dropped, swapped start/end lines swapped back, line numbers given as strings.
  A finding left with no known checklist item is KEPT with an empty list: the tool does not
  guess which item the model meant (guessing would mark an item violated on no one's word);
  the finding is still scored and reported, it just marks no checklist item.
- What cannot be repaired (not an object, no path, no usable evidence line) is dropped alone.

Every repair and drop is counted (``Parsed.repaired``, ``Parsed.dropped``): the runner adds
them to the run's model events ("answer repaired: ...") and dropped findings ("answer: ...").
"""

from __future__ import annotations

import difflib
import json
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from vibe_audit.findings.fingerprint import fingerprint
from vibe_audit.schemas import EvidenceLine, Finding, Location
from vibe_audit.schemas.answer import (
    AnswerAbsence,
    AnswerEvidence,
    AnswerFinding,
    ChunkAnswer,
    HintVerdict,
    NotApplicable,
)
from vibe_audit.schemas.audit_spec import AuditSpec
from vibe_audit.schemas.models import AbsenceSearch, Confidence, Severity

DROPPED_PREFIX = "answer: "  # findings_dropped keys of findings dropped from an answer
REPAIRED_PREFIX = "answer repaired: "  # model_events keys of repairs made in place


class AnswerError(ValueError):
    """Nothing of the answer could be used; ``kind`` names how (for the run stats)."""

    def __init__(self, kind: str, problem: str) -> None:
        super().__init__(problem)
        self.kind = kind


@dataclass
class Parsed:
    """An answer read leniently, with what was repaired in place and what was dropped."""

    answer: ChunkAnswer
    repaired: Counter[str] = field(default_factory=Counter)
    dropped: Counter[str] = field(default_factory=Counter)


_FINDING_KEYS = set(AnswerFinding.model_fields)
_TEXT_FIELDS = ("title", "problem", "scenario", "impact", "how_to_verify", "fix", "trade_off")
_SEVERITY_WORDS = {
    "crit": Severity.CRITICAL,
    "blocker": Severity.CRITICAL,
    "severe": Severity.HIGH,
    "major": Severity.HIGH,
    "moderate": Severity.MEDIUM,
    "med": Severity.MEDIUM,
    "low": Severity.MONITOR,
    "minor": Severity.MONITOR,
    "info": Severity.MONITOR,
}
_TRAILING_COMMA = re.compile(r",(\s*[}\]])")


def load_json(text: str) -> tuple[Any, bool]:
    """The JSON value of an answer, and whether it had to be dug out of fences, prose or
    trailing commas. AnswerError("invalid JSON") when there is none."""
    try:
        return json.loads(text), False
    except json.JSONDecodeError as exc:
        first = exc
    decoder = json.JSONDecoder()
    start = text.find("{")
    while start != -1:
        try:
            value, _end = decoder.raw_decode(text, start)
            return value, True
        except json.JSONDecodeError:
            pass
        end = text.rfind("}")
        if end > start:
            try:
                return json.loads(_TRAILING_COMMA.sub(r"\1", text[start : end + 1])), True
            except json.JSONDecodeError:
                pass
        start = text.find("{", start + 1) if start < 200 else -1  # prose: the first few only
    raise AnswerError("invalid JSON", f"not valid JSON ({first.msg} at character {first.pos})")


def parse_answer(text: str, spec: AuditSpec) -> ChunkAnswer:
    return read_answer(text, spec).answer


def read_answer(text: str, spec: AuditSpec) -> Parsed:
    """The answer in ``text``, every usable finding kept (see the module docstring)."""
    data, dug = load_json(text)
    if not isinstance(data, dict):
        raise AnswerError("schema", "the answer is not a JSON object")
    if not isinstance(data.get("findings"), list):
        raise AnswerError("schema", "the answer has no 'findings' list")
    out = Parsed(ChunkAnswer(findings=[], needs_confirmation=[], checked_items=[]))
    if dug:
        out.repaired["JSON inside fences or prose"] += 1
    extra = set(data) - set(ChunkAnswer.model_fields)
    if extra:
        out.repaired["unknown answer field ignored"] += len(extra)
    known = {item.id.lower(): item.id for item in spec.checklist}
    answer = out.answer
    answer.needs_confirmation = _strings(data.get("needs_confirmation"), "needs_confirmation", out)
    for raw in _list(data.get("checked_items"), "checked_items", out):
        item = known.get(str(raw).strip().lower())
        if item is None:
            out.repaired["unknown checked item id dropped"] += 1
        elif item not in answer.checked_items:
            answer.checked_items.append(item)
    for raw in _list(data.get("not_applicable"), "not_applicable", out):
        entry = _not_applicable(raw, known)
        if entry is None:
            out.repaired["not_applicable entry dropped (unknown id or no reason)"] += 1
        else:
            answer.not_applicable.append(entry)
    for raw in _list(data.get("hint_verdicts"), "hint_verdicts", out):
        verdict = _verdict(raw, out)
        if verdict is None:
            out.repaired["hint verdict dropped (no hint id or verdict)"] += 1
        else:
            answer.hint_verdicts.append(verdict)
    for raw in data["findings"]:
        finding = _finding(raw, spec, known, out)
        if finding is not None:
            answer.findings.append(finding)
    return out


def _list(value: Any, name: str, out: Parsed) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, list):
        return value
    out.repaired[f"{name} not a list (ignored)"] += 1
    return []


def _strings(value: Any, name: str, out: Parsed) -> list[str]:
    return [v if isinstance(v, str) else json.dumps(v) for v in _list(value, name, out)]


def _not_applicable(raw: Any, known: dict[str, str]) -> NotApplicable | None:
    if not isinstance(raw, dict):
        return None
    item = known.get(str(raw.get("item", "")).strip().lower())
    reason = raw.get("reason")
    if item is None or not isinstance(reason, str) or not reason.strip():
        return None
    return NotApplicable(item=item, reason=reason)


def _verdict(raw: Any, out: Parsed) -> HintVerdict | None:
    if not isinstance(raw, dict):
        return None
    hint = str(raw.get("hint", "")).strip()
    verdict = str(raw.get("verdict", "")).strip().lower()
    if not hint or verdict not in ("confirmed", "dismissed"):
        return None
    reason = raw.get("reason")
    if not isinstance(reason, str):
        out.repaired["hint verdict without a reason"] += 1
        reason = ""
    return HintVerdict(hint=hint.upper() if re.fullmatch(r"h\d+", hint) else hint,
                       verdict=verdict, reason=reason)  # fmt: skip


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


def _finding(raw: Any, spec: AuditSpec, known: dict[str, str], out: Parsed) -> AnswerFinding | None:
    """One finding, repaired in place, or None (dropped, counted in ``out.dropped``)."""
    if not isinstance(raw, dict):
        out.dropped["finding not an object"] += 1
        return None
    fixed = out.repaired
    path = raw.get("path")
    if not isinstance(path, str) or not path.strip():
        out.dropped["finding without a path"] += 1
        return None
    evidence = []
    entries = raw.get("evidence")
    for entry in entries if isinstance(entries, list) else []:
        line = _int(entry.get("line")) if isinstance(entry, dict) else None
        text = entry.get("text") if isinstance(entry, dict) else None
        if line is None or line < 1 or not isinstance(text, str):
            fixed["evidence line dropped (no line number or text)"] += 1
            continue
        evidence.append(AnswerEvidence(line=line, text=text))
    if not evidence:
        out.dropped["finding without evidence lines"] += 1
        return None
    extra = set(raw) - _FINDING_KEYS
    if extra:
        fixed["unknown finding field ignored"] += len(extra)
    clean: dict[str, Any] = {
        "path": path.strip(),
        "evidence": evidence,
        "severity": _severity(raw.get("severity"), fixed),
        "confidence": _confidence(raw.get("confidence"), fixed),
        "category": _category(raw.get("category"), spec, fixed),
        "symbol": raw.get("symbol") if isinstance(raw.get("symbol"), str) else None,
        "absence": _absence(raw.get("absence"), fixed),
    }
    start, end = _int(raw.get("start_line")), _int(raw.get("end_line"))
    if isinstance(raw.get("start_line"), str) or isinstance(raw.get("end_line"), str):
        fixed["line number given as text"] += 1
    lines = [e.line for e in evidence]
    if start is None or start < 1:
        fixed["start_line missing (taken from the evidence)"] += 1
        start = min(lines)
    if end is None or end < 1:
        fixed["end_line missing (taken from the evidence)"] += 1
        end = max(max(lines), start)
    if end < start:
        fixed["start and end lines swapped back"] += 1
        start, end = end, start
    clean["start_line"], clean["end_line"] = start, end
    for name in _TEXT_FIELDS:
        value = raw.get(name)
        if not isinstance(value, str):
            fixed[f"{name} missing (left empty)"] += 1
            value = "" if value is None else json.dumps(value)
        clean[name] = value
    if not clean["title"].strip():
        clean["title"] = clean["problem"].split(". ")[0][:120] or "(untitled finding)"
    items: list[str] = []
    given = raw.get("checklist_items")
    for value in given if isinstance(given, list) else [given] if given else []:
        item = known.get(str(value).strip().lower())
        if item is None:
            fixed["unknown checklist item id dropped"] += 1
        elif item not in items:
            items.append(item)
    if not items:
        fixed["finding with no known checklist item (kept, marks no item)"] += 1
    try:
        # Validated with a stand-in item (the contract asks for at least one), then given
        # its real, possibly empty, list: an empty list is kept, not guessed at.
        finding = AnswerFinding.model_validate({**clean, "checklist_items": items or ["-"]})
    except ValidationError as exc:  # not expected after the repairs above: dropped alone
        reason = exc.errors()[0]["loc"][0] if exc.errors() else "invalid"
        out.dropped[f"finding invalid ({reason})"] += 1
        return None
    finding.checklist_items = items
    return finding


def _severity(value: Any, fixed: Counter[str]) -> Severity:
    word = str(value or "").strip().upper()
    if word in Severity.__members__:
        if str(value) != word:
            fixed["severity case"] += 1
        return Severity(word)
    for prefix, severity in _SEVERITY_WORDS.items():
        if word.lower().startswith(prefix):
            fixed["severity synonym mapped"] += 1
            return severity
    fixed["severity unknown (MEDIUM)"] += 1
    return Severity.MEDIUM


def _confidence(value: Any, fixed: Counter[str]) -> Confidence:
    word = str(value or "").strip().capitalize()
    if word in {c.value for c in Confidence}:
        if str(value) != word:
            fixed["confidence case"] += 1
        return Confidence(word)
    fixed["confidence unknown (Low)"] += 1
    return Confidence.LOW


def _category(value: Any, spec: AuditSpec, fixed: Counter[str]) -> str:
    given = str(value or "").strip()
    if given in spec.categories:
        return given
    lowered = {c.lower(): c for c in spec.categories}
    if given.lower() in lowered:
        fixed["category case"] += 1
        return lowered[given.lower()]
    close = difflib.get_close_matches(given.lower(), list(lowered), n=1, cutoff=0.6)
    contains = [c for low, c in lowered.items() if given and (low in given.lower())]
    if close or len(contains) == 1:
        fixed["category mapped to the closest name"] += 1
        return lowered[close[0]] if close else contains[0]
    fixed[f"category unknown (set to '{spec.categories[0]}')"] += 1
    return spec.categories[0]


def _absence(value: Any, fixed: Counter[str]) -> AnswerAbsence | None:
    if value is None:
        return None
    if isinstance(value, dict) and isinstance(value.get("pattern"), str):
        scope = str(value.get("scope", "file")).strip().lower()
        if scope in ("file", "repository"):
            try:
                re.compile(value["pattern"])
                return AnswerAbsence(pattern=value["pattern"], scope=scope)
            except re.error:
                pass
    fixed["absence search unusable (ignored)"] += 1
    return None


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
