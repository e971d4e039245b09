"""The model's verdicts on static-rule hints, end to end with scripted test doubles (their
answers are scripted, never a model's): every hint has an id in its request, the job maps it
to its rule finding, a confirmed hint marks the rule finding as confirmed by the model, a
dismissed one leaves the scored findings and is listed under "Dismissed by the model"
(--keep-dismissed keeps it scored)."""

from __future__ import annotations

import json
import re
from pathlib import Path

from tests.conftest import EXAMPLE_APP, repo_from
from tests.test_cli import vibe
from vibe_audit.agent import ModelOptions, run_audit
from vibe_audit.agent.planner import PlanInputs, plan
from vibe_audit.agent.providers import ProviderSettings
from vibe_audit.agent.providers.doubles import ScriptedProvider
from vibe_audit.agent.providers.registry import register
from vibe_audit.agent.runner import RunnerSettings
from vibe_audit.chunker import discover, slice_file
from vibe_audit.report import RENDERERS
from vibe_audit.rules.engine import run_rules
from vibe_audit.schemas import RenderedRequest, Report, RunRequest

_HINT = re.compile(r"^- (H\d+): (?:\S+: )?(\S+) at line (\d+): ", re.M)
DISMISSED_RULE = "asyncio-task-not-kept"
BLOCKING = "sqlite-blocking-call-in-async"
REASON = "the task is kept in app.state.tasks and awaited at shutdown"


def _verdicts(request: RenderedRequest, _repair: tuple[str, str] | None) -> str:
    """Dismisses every asyncio-task-not-kept hint, and in the reliability audit every
    sqlite-blocking-call-in-async hint (which the sqlite audit confirms); confirms the rest."""
    verdicts = []
    for hint, rule, _line in _HINT.findall(request.user):
        dismiss = rule == DISMISSED_RULE or (rule == BLOCKING and request.audit == "reliability")
        verdict = "dismissed" if dismiss else "confirmed"
        verdicts.append({"hint": hint.lower() if rule == DISMISSED_RULE else hint,
                         "verdict": verdict, "reason": REASON if dismiss else "seen"})  # fmt: skip
    return json.dumps(
        {"findings": [], "needs_confirmation": [], "checked_items": [], "hint_verdicts": verdicts}
    )


register("verdict-scripted-test-double", lambda _rest, _s: ScriptedProvider(_verdicts))
SPEC = "verdict-scripted-test-double:x"


def _run(audits: list[str], keep_dismissed: bool = False) -> Report:
    options = ModelOptions(
        ProviderSettings(spec=SPEC), RunnerSettings(), None, {}, keep_dismissed=keep_dismissed
    )
    request = RunRequest(target=str(EXAMPLE_APP), audits=audits, model=SPEC)  # type: ignore[arg-type]
    report = run_audit(request, model=options)
    assert isinstance(report, Report)
    return report


def _static(audits: list[str]) -> Report:
    report = run_audit(RunRequest(target=str(EXAMPLE_APP), audits=audits))  # type: ignore[arg-type]
    assert isinstance(report, Report)
    return report


def test_every_hint_has_an_id_that_the_job_maps_to_its_rule_finding() -> None:
    files = discover(EXAMPLE_APP).files
    chunks = [c for s in files for c in slice_file(s)]
    rules = run_rules(repo_from(EXAMPLE_APP), ["reliability"])
    jobs = plan(
        PlanInputs(
            spec="x", provider_name="scripted-test-double", model="s", price=None, chunks=chunks,
            audits=["reliability"], max_tokens_out=512, rule_findings=rules,
        )
    ).jobs  # fmt: skip
    by_fingerprint = {f.fingerprint: f for f in rules}
    hinted = 0
    for job in jobs:
        listed = _HINT.findall(job.request.user)
        assert [h for h, _, _ in listed] == [f"H{n}" for n in range(1, len(listed) + 1)]
        assert set(job.hints) == {h for h, _, _ in listed}
        for hint, rule, line in listed:
            finding = by_fingerprint[job.hints[hint]]
            assert (finding.rule_id, finding.location.start_line) == (rule, int(line))
            hinted += 1
    assert hinted >= 10


def test_confirmed_hints_mark_the_rule_finding_and_dismissed_ones_leave_the_score() -> None:
    static = _static(["reliability"])
    report = _run(["reliability"])
    out = {DISMISSED_RULE, BLOCKING}
    dismissed_static = [f for f in static.findings if f.rule_id in out]
    assert len(dismissed_static) == 6
    assert [f.rule_id for f in report.findings] == [
        f.rule_id for f in static.findings if f.rule_id not in out
    ]
    assert all(f.sources == ["rule", "model"] for f in report.findings)
    assert {f.model for f in report.findings} == {"scripted-test-double:script"}
    assert {(d.finding.rule_id, d.reason, tuple(d.audits), d.kept) for d in report.dismissed} == {
        (rule, REASON, ("reliability",), False) for rule in out
    }
    assert [d.finding.id for d in report.dismissed] == [f"D{n}" for n in range(1, 7)]
    assert sorted(d.finding.location.start_line for d in report.dismissed) == sorted(
        f.location.start_line for f in dismissed_static
    )
    markdown = RENDERERS["md"](report)
    assert "## Dismissed by the model" in markdown and REASON in markdown
    assert "Dismissed by the model</h2>" in RENDERERS["html"](report)
    data = json.loads(RENDERERS["json"](report))
    assert [d["reason"] for d in data["dismissed"]] == [REASON] * 6
    assert "Dismissed by the model" not in RENDERERS["md"](static)


def test_a_confirmation_in_one_audit_outweighs_a_dismissal_in_another() -> None:
    report = _run(["sqlite", "reliability"])
    blocking = [f for f in report.findings if f.rule_id == "sqlite-blocking-call-in-async"]
    assert blocking and all(f.sources == ["rule", "model"] for f in blocking)
    assert {d.finding.rule_id for d in report.dismissed} == {DISMISSED_RULE}


def test_keep_dismissed_keeps_them_scored_and_listed() -> None:
    report = _run(["reliability"], keep_dismissed=True)
    kept = [f for f in report.findings if f.rule_id in (DISMISSED_RULE, BLOCKING)]
    assert len(kept) == 6 and all(f.sources == ["rule"] for f in kept)
    assert [d.kept for d in report.dismissed] == [True] * 6
    assert len(report.findings) == len(_static(["reliability"]).findings)
    assert "(kept)" in RENDERERS["md"](report)


def test_keep_dismissed_on_the_command_line(tmp_path: Path) -> None:
    labels = tmp_path / "labels.json"
    labels.write_text("[]")  # vibe-audit: ignore[checkpoint-non-atomic-write]
    # The oracle test double dismisses every hint that is on no labeled defect: here, all.
    common = ["run", str(EXAMPLE_APP), "--prompt", "reliability", "--format", "json"]
    common += ["--model", f"oracle-test-double:{labels}", "--no-cache", "--quiet"]
    dropped = json.loads(vibe(*common).stdout)
    kept = json.loads(vibe(*common, "--keep-dismissed").stdout)
    assert dropped["findings"] == [] and len(dropped["dismissed"]) >= 10
    assert len(kept["findings"]) == len(kept["dismissed"]) == len(dropped["dismissed"])
    assert all(d["kept"] for d in kept["dismissed"])
    assert "--keep-dismissed" in vibe("review", "--help").stdout
