"""The answer contract beyond findings: items a model marks not applicable to the stack
(validated, aggregated, shown in the checklist), and the schema in prose when a server
takes no json_schema (JSON mode), over real HTTP against the local fake server."""

from __future__ import annotations

import json

import pytest

from tests.agent.test_providers_runner import audit, compat
from tests.conftest import EXAMPLE_APP
from tests.fakes.servers import FakeModelServer
from vibe_audit.agent import ModelOptions, run_audit
from vibe_audit.agent.answers import AnswerError, parse_answer, read_answer
from vibe_audit.agent.providers import ProviderSettings
from vibe_audit.agent.providers.doubles import ScriptedProvider, request_path
from vibe_audit.agent.providers.registry import register
from vibe_audit.agent.runner import RunnerSettings
from vibe_audit.prompts import get_audit
from vibe_audit.schemas import ChecklistState, RenderedRequest, Report, RunRequest
from vibe_audit.schemas.answer import answer_json_schema, schema_prose

EMPTY = {"findings": [], "needs_confirmation": [], "checked_items": []}


def test_not_applicable_ids_are_validated_like_checked_items() -> None:
    spec = get_audit("concurrency")
    na = [{"item": "concurrency.6B", "reason": "no external annotation service"}]
    answer = parse_answer(json.dumps({**EMPTY, "not_applicable": na}), spec)
    assert [(n.item, n.reason) for n in answer.not_applicable] == [
        ("concurrency.6B", "no external annotation service")
    ]
    assert parse_answer(json.dumps(EMPTY), spec).not_applicable == []  # older answers
    # An unknown id, or an entry without its reason, is dropped alone and counted.
    unknown = [{"item": "concurrency.99Z", "reason": "r"}, {"item": "concurrency.6B"}, *na]
    parsed = read_answer(json.dumps({**EMPTY, "not_applicable": unknown}), spec)
    assert [n.item for n in parsed.answer.not_applicable] == ["concurrency.6B"]
    assert sum(parsed.repaired.values()) == 2
    with pytest.raises(AnswerError, match="not a JSON object"):  # nothing to use
        parse_answer(json.dumps([EMPTY]), spec)


def _script(request: RenderedRequest, _repair: tuple[str, str] | None) -> str:
    """Every request marks 6B (external sync) not applicable; the request showing main.py
    examines 6D (multi-tab) and the others mark it not applicable."""
    na = [{"item": "concurrency.6B", "reason": "no external annotation service in this code"}]
    na.append({"item": "concurrency.3A", "reason": "a wrong claim: a rule finding cites it"})
    checked = []
    if request_path(request).endswith("main.py"):
        checked.append("concurrency.6D")
    else:
        na.append({"item": "concurrency.6D", "reason": "no browser client"})
    risky = ["startup() may run init_db() in every worker: check the process model"]
    answer = {**EMPTY, "checked_items": checked, "not_applicable": na}
    if checked:
        answer["needs_confirmation"] = risky
    return json.dumps(answer)


register("na-scripted-test-double", lambda _rest, _settings: ScriptedProvider(_script))


def test_items_marked_not_applicable_are_not_applicable_in_the_checklist() -> None:
    spec = "na-scripted-test-double:x"
    options = ModelOptions(ProviderSettings(spec=spec), RunnerSettings(), None, {}, pack_tokens=300)
    report = run_audit(
        RunRequest(target=str(EXAMPLE_APP), audits=["concurrency"], model=spec), model=options
    )
    assert isinstance(report, Report)
    assert report.stats.jobs.get("answered", 0) > 1  # several requests: main.py and others
    rows = {entry.id: entry for entry in report.sections[0].checklist}
    assert rows["concurrency.6B"].state is ChecklistState.NOT_APPLICABLE
    assert rows["concurrency.6B"].note == "no external annotation service in this code"
    # main.py's request examined 6D without calling it not applicable: it applies.
    assert rows["concurrency.6D"].state is not ChecklistState.NOT_APPLICABLE
    # An item a finding cites stays violated whatever a model says about it.
    assert rows["concurrency.3A"].state is ChecklistState.VIOLATED
    # What the model could not confirm is a Suspicious Pattern, not an environment fact.
    section = report.sections[0]
    assert any("init_db() in every worker" in p for p in section.suspicious_patterns)
    assert not any("init_db() in every worker" in a.value for a in section.assumptions)


def test_json_mode_states_the_schema_in_the_system_message() -> None:
    with FakeModelServer(faults={1: "reject-schema"}) as server:
        report = audit(compat(server), server, ["sqlite"], runner=RunnerSettings(concurrency=1))
    assert isinstance(report, Report)
    bodies = [json.loads(b) for b in server.bodies]
    assert bodies[0]["response_format"]["type"] == "json_schema"  # rejected by the server
    first_system = bodies[0]["messages"][0]["content"]
    assert "## Answer format" not in first_system  # the schema went as the response format
    json_mode = bodies[1:]
    assert json_mode and all(b["response_format"] == {"type": "json_object"} for b in json_mode)
    prose = schema_prose(answer_json_schema(get_audit("sqlite")))
    for body in json_mode:
        system = body["messages"][0]["content"]
        assert system.startswith(first_system.rstrip()) and system.endswith(prose)
        for field in ("findings", "checklist_items", "how_to_verify", "trade_off", "evidence"):
            assert f"- {field} (" in system
        assert "- not_applicable (list of object)" in system
        assert '"CRITICAL", "HIGH", "MEDIUM", "MONITOR"' in system  # the severity enum
        assert '"WAL Config", "Connection"' in system  # the audit's categories
        assert '"sqlite.pragma.8"' in system  # the checklist ids
    assert report.stats.jobs == {"answered": len(server.requests) - 1}


def test_schema_prose_is_generated_from_the_schema() -> None:
    schema = answer_json_schema(get_audit("reliability"))
    prose = schema_prose(schema)
    finding = schema["$defs"]["AnswerFinding"]["properties"]
    for name, field in finding.items():
        assert f"- {name} (" in prose
        if "description" in field:
            assert field["description"] in prose
    schema["$defs"]["AnswerFinding"]["properties"]["category"]["enum"] = ["Only This One"]
    assert '"Only This One"' in schema_prose(schema)  # no hand-written copy
