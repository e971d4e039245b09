"""An answer with no finding where the rules or the interaction context flag the code is
asked once more, then counted "answered empty": in the coverage ledger's details, the
terminal summary, the JSON stats, and --strict (exit 3). Over real HTTP against the local
fake server (a test double, never a model)."""

from __future__ import annotations

import json
from pathlib import Path

from tests.agent.test_providers_runner import FAST, audit, compat
from tests.conftest import EXAMPLE_APP
from tests.fakes.servers import FakeModelServer
from tests.test_cli import one_line_error, vibe
from vibe_audit.agent import ModelOptions, run_audit
from vibe_audit.agent.providers import ProviderSettings
from vibe_audit.agent.providers.doubles import ScriptedProvider, code_lines, request_path
from vibe_audit.agent.providers.registry import register
from vibe_audit.agent.runner import empty_reason
from vibe_audit.chunker import DiscoveryOptions, discover, slice_file
from vibe_audit.errors import EXIT_CLEAN, EXIT_RUN
from vibe_audit.prompts import get_audit
from vibe_audit.prompts.render import render_request
from vibe_audit.report import render_summary
from vibe_audit.schemas import RenderedRequest, Report, RunRequest
from vibe_audit.schemas.answer import ChunkAnswer, HintVerdict

NOTHING = "NOT-IN-THE-CODE"  # the fake's marker: it finds nothing anywhere


def _answer(**fields: object) -> ChunkAnswer:
    return ChunkAnswer.model_validate(
        {"findings": [], "needs_confirmation": [], "checked_items": [], **fields}
    )


def test_what_counts_as_empty() -> None:
    chunk = next(c for s in discover(EXAMPLE_APP, DiscoveryOptions()).files
                 for c in slice_file(s))  # fmt: skip
    spec = get_audit("sqlite")
    hinted = render_request(spec, chunk, ["rule-a at line 3: one", "rule-b at line 4: two"])
    plain = render_request(spec, chunk, [])
    assert empty_reason(hinted, _answer()).startswith("no finding and no verdict")
    assert "H1, H2" in empty_reason(hinted, _answer())
    both = [
        HintVerdict(hint="H1", verdict="dismissed", reason="guarded by a lock"),
        HintVerdict(hint="H2", verdict="confirmed", reason="real"),
    ]
    assert empty_reason(hinted, _answer(hint_verdicts=both)) == ""  # every hint answered
    assert empty_reason(hinted, _answer(hint_verdicts=both[:1])) == ""  # H2 left silent
    # nothing flags this code: clean when the model says what it examined, lost when the
    # answer holds nothing at all (no finding, no checked item, no note)
    assert empty_reason(plain, _answer(checked_items=["sqlite.1A"])) == ""
    assert empty_reason(plain, _answer(needs_confirmation=["is init_db() run once?"])) == ""
    assert empty_reason(plain, _answer()).startswith("no finding and nothing examined")


def test_an_empty_answer_on_flagged_code_is_asked_once_more_then_counted() -> None:
    with FakeModelServer(marker=NOTHING) as server:
        report = audit(compat(server), server, ["sqlite"], FAST)
        bodies = list(server.bodies)
    assert isinstance(report, Report)
    events = report.stats.model_events
    jobs = sum(report.stats.jobs.values())
    assert events["answered empty"] > 0
    assert events["empty answer re-asked"] == events["answered empty"]  # once each, no more
    assert len(bodies) == jobs + events["empty answer re-asked"]
    assert len(bodies) == len(set(bodies))  # the re-ask is a different request
    notes = [b for b in bodies if "Your previous answer to this request had no finding" in b]
    assert len(notes) == events["empty answer re-asked"]
    assert report.coverage is not None
    details = [d for row in report.coverage.rows for d in row.details.values()]
    states = [s for row in report.coverage.rows for s in row.states.values()]
    assert states.count("answered empty") >= events["answered empty"]
    assert len(details) >= events["answered empty"]
    summary = render_summary(report)
    assert f"EMPTY: {events['answered empty']} answer(s)" in summary


def _first_empty(request: RenderedRequest, _repair: tuple[str, str] | None) -> str:
    """Nothing at first; asked again, a finding on the request's first code line."""
    empty = {"findings": [], "needs_confirmation": [], "checked_items": []}
    if "Your previous answer to this request had no finding" not in request.user:
        return json.dumps(empty)
    line, text = next(iter(code_lines(request).items()))
    finding = {
        "checklist_items": ["sqlite.2A"], "severity": "HIGH", "category": "Connection",
        "title": "found when asked again", "path": request_path(request), "start_line": line,
        "end_line": line, "symbol": None, "problem": "p", "scenario": "s", "impact": "i",
        "confidence": "Medium", "how_to_verify": "v", "fix": "f", "trade_off": "t",
        "evidence": [{"line": line, "text": text}],
    }  # fmt: skip
    return json.dumps({**empty, "findings": [finding]})


register("first-empty-scripted-test-double", lambda _r, _s: ScriptedProvider(_first_empty))


def test_an_empty_answer_filled_when_asked_again_is_kept_and_not_counted_empty() -> None:
    spec = "first-empty-scripted-test-double:x"
    options = ModelOptions(ProviderSettings(spec=spec), FAST, None, {}, pack_tokens=300)
    report = run_audit(RunRequest(target=str(EXAMPLE_APP), audits=["sqlite"], model=spec),
                       model=options)  # fmt: skip
    assert isinstance(report, Report)
    events = report.stats.model_events
    assert events["empty answer re-asked"] > 0
    assert "answered empty" not in events
    assert any(f.title == "found when asked again" for f in report.findings)


def test_strict_exits_3_on_empty_answers(tmp_path: Path) -> None:
    with FakeModelServer(marker=NOTHING) as server:
        args = ["run", str(EXAMPLE_APP), "--prompt", "sqlite", "--model", compat(server),
                "--no-cache", "--timeout", "5", "--format", "json"]  # fmt: skip
        lenient = vibe(*args)
        strict = vibe(*args, "--strict", "--out", str(tmp_path / "r.json"))
    assert lenient.returncode == EXIT_CLEAN
    assert "EMPTY:" in lenient.stderr  # the terminal summary says it
    assert json.loads(lenient.stdout)["stats"]["model_events"]["answered empty"] > 0
    assert json.loads(lenient.stdout)["stats"]["unreviewed_jobs"] == []  # nothing failed
    assert strict.returncode == EXIT_RUN
    assert "empty on flagged code" in one_line_error(strict.stderr)
