"""Answers read finding by finding: a bad finding is repaired in place or dropped alone,
counted either way; JSON in fences or prose is read; the schema sent and the validator
agree (every constraint the validator enforces is in the schema sent or repaired)."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from vibe_audit.agent.answers import AnswerError, read_answer
from vibe_audit.agent.providers.openai_chat import _UNSUPPORTED_STRICT, strict_schema
from vibe_audit.prompts import get_audit
from vibe_audit.schemas.answer import answer_json_schema

SPEC = get_audit("sqlite")


def good(line: int) -> dict[str, Any]:
    return {
        "checklist_items": ["sqlite.2A"], "severity": "HIGH", "category": SPEC.categories[1],
        "title": f"defect at {line}", "path": "app/db.py", "start_line": line,
        "end_line": line, "symbol": None, "problem": "p", "scenario": "s", "impact": "i",
        "confidence": "Medium", "how_to_verify": "v", "fix": "f", "trade_off": "t",
        "evidence": [{"line": line, "text": "conn = sqlite3.connect(path)"}],
    }  # fmt: skip


def answer(findings: list[Any]) -> str:
    return json.dumps({"findings": findings, "needs_confirmation": [], "checked_items": []})


def _set(finding: dict[str, Any], **changes: Any) -> dict[str, Any]:
    return {**finding, **changes}


REPAIRABLE = {
    "unknown extra key": lambda f: _set(f, cwe="CWE-362"),
    "empty checklist list": lambda f: _set(f, checklist_items=[]),
    "lowercase severity": lambda f: _set(f, severity="high"),
    "confidence in capitals": lambda f: _set(f, confidence="HIGH"),
    "unknown category": lambda f: _set(f, category="Not A Category At All"),
    "category in lower case": lambda f: _set(f, category=SPEC.categories[2].lower()),
    "unknown checklist id": lambda f: _set(f, checklist_items=["sqlite.99Z", "sqlite.2A"]),
    "end before start": lambda f: _set(f, start_line=f["end_line"] + 3),
    "line numbers as strings": lambda f: _set(f, start_line=str(f["start_line"])),
}


@pytest.mark.parametrize("fault", sorted(REPAIRABLE))
def test_one_repairable_finding_among_good_ones_is_repaired_and_all_are_kept(fault: str) -> None:
    bad = REPAIRABLE[fault](good(20))
    parsed = read_answer(answer([good(10), bad, good(30)]), SPEC)
    assert [f.start_line for f in parsed.answer.findings] == [10, 20, 30]
    assert sum(parsed.repaired.values()) >= 1, fault  # counted
    assert not parsed.dropped
    repaired = parsed.answer.findings[1]
    assert repaired.category in SPEC.categories
    assert repaired.start_line <= repaired.end_line
    assert all(i in {item.id for item in SPEC.checklist} for i in repaired.checklist_items)


def test_each_repair_is_the_right_one() -> None:
    findings = [
        _set(good(1), severity="high", confidence="low"),
        _set(good(2), category=SPEC.categories[2].upper()),
        _set(good(3), category="Not A Category At All"),
        _set(good(4), start_line=9, end_line=4),
        _set(good(5), checklist_items=["sqlite.99Z"]),
        _set(good(6), checklist_items=["SQLITE.2a"]),
    ]
    parsed = read_answer(answer(findings), SPEC)
    one, two, three, four, five, six = parsed.answer.findings
    assert (one.severity.value, one.confidence.value) == ("HIGH", "Low")
    assert two.category == SPEC.categories[2]
    assert three.category == SPEC.categories[0]  # the audit's first category, recorded
    assert any("category unknown" in k for k in parsed.repaired)
    assert (four.start_line, four.end_line) == (4, 9)
    assert five.checklist_items == []  # kept, marks no item: never guessed
    assert any("no known checklist item" in k for k in parsed.repaired)
    assert six.checklist_items == ["sqlite.2A"]


UNFIXABLE = {
    "finding not an object": lambda f: "a finding as a sentence",
    "finding without a path": lambda f: {k: v for k, v in f.items() if k != "path"},
    "finding without evidence lines": lambda f: _set(f, evidence=[]),
}


@pytest.mark.parametrize("reason", sorted(UNFIXABLE))
def test_an_unfixable_finding_is_dropped_alone_and_counted(reason: str) -> None:
    parsed = read_answer(answer([good(10), UNFIXABLE[reason](good(20)), good(30)]), SPEC)
    assert [f.start_line for f in parsed.answer.findings] == [10, 30]
    assert parsed.dropped == {reason: 1}


def test_the_envelope_is_lenient() -> None:
    text = json.dumps({
        "findings": [good(5)], "checked_items": ["sqlite.2A", "sqlite.99Z"],
        "verdict": "all good", "not_applicable": [{"item": "sqlite.99Z", "reason": "r"}],
    })  # fmt: skip
    parsed = read_answer(text, SPEC)
    assert len(parsed.answer.findings) == 1
    assert parsed.answer.needs_confirmation == []  # missing: empty
    assert parsed.answer.checked_items == ["sqlite.2A"]
    assert parsed.answer.not_applicable == []
    assert parsed.repaired["unknown answer field ignored"] == 1


BODY = answer([good(7)])


@pytest.mark.parametrize(
    "text",
    [
        f"```json\n{BODY}\n```",
        f"```\n{BODY}\n```\n",
        f"Here is the answer: {BODY}",
        f"Here is the answer:\n\n```json\n{BODY}\n```\nLet me know if you need more.",
        BODY.replace('"needs_confirmation": []', '"needs_confirmation": ["x",]')[:-1] + ",}",
    ],
    ids=["fenced", "bare fence", "prefixed", "prose around a fence", "trailing commas"],
)
def test_fenced_and_prefixed_json_is_read(text: str) -> None:
    parsed = read_answer(text, SPEC)
    assert [f.start_line for f in parsed.answer.findings] == [7]
    assert parsed.repaired["JSON inside fences or prose"] == 1


@pytest.mark.parametrize(
    "text",
    ["I could not find any defects.", '["findings"]', '{"findings": "cut"}', "{not json at all"],
)
def test_only_an_answer_nothing_of_which_can_be_used_is_rejected(text: str) -> None:
    with pytest.raises(AnswerError):
        read_answer(text, SPEC)


def _finding_schema(schema: dict[str, Any]) -> dict[str, Any]:
    return dict(schema["$defs"]["AnswerFinding"])


def _violations(raw: dict[str, Any], sent: dict[str, Any]) -> list[tuple[str, Any]]:
    """(field, a value breaking a constraint the raw schema has and the schema sent does
    not) for every such constraint of a finding: what a model is told is fine."""
    out: list[tuple[str, Any]] = []
    for name, field in raw["properties"].items():
        kept = sent["properties"][name]
        for keyword in _UNSUPPORTED_STRICT:
            if keyword in field and keyword not in kept:
                if keyword == "minItems":
                    out.append((name, []))
                elif keyword == "minimum":
                    out.append((name, field["minimum"] - 1))
    return out


def test_every_constraint_the_schema_sent_leaves_out_is_repaired_or_a_counted_drop() -> None:
    raw = answer_json_schema(SPEC)
    sent = strict_schema(copy.deepcopy(raw))
    broken = _violations(_finding_schema(raw), _finding_schema(sent))
    assert {name for name, _ in broken} >= {"checklist_items", "evidence"}
    for name, value in broken:
        parsed = read_answer(answer([good(3), _set(good(4), **{name: value})]), SPEC)
        assert parsed.answer.findings[0].start_line == 3, name
        if len(parsed.answer.findings) == 2:
            assert sum(parsed.repaired.values()) >= 1, name  # repaired, counted
        else:  # unfixable: dropped alone with a documented reason
            assert parsed.dropped == {"finding without evidence lines": 1}, name


def test_every_enum_and_required_field_of_the_schema_sent_is_enforced_or_repaired() -> None:
    sent = _finding_schema(strict_schema(answer_json_schema(SPEC)))
    assert set(sent["required"]) == set(sent["properties"])
    for name in sent["required"]:
        missing = {k: v for k, v in good(4).items() if k != name}
        parsed = read_answer(answer([good(3), missing]), SPEC)
        if name in ("path", "evidence"):  # nothing to place the finding by: dropped alone
            assert len(parsed.answer.findings) == 1 and sum(parsed.dropped.values()) == 1
        else:
            assert len(parsed.answer.findings) == 2, name
    for name in ("category", "severity", "confidence"):
        parsed = read_answer(answer([_set(good(4), **{name: "NOT-A-VALUE"})]), SPEC)
        assert len(parsed.answer.findings) == 1 and sum(parsed.repaired.values()) >= 1
