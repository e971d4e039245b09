"""Issue 20's Done-when bar, against the wild-model test double (tests/fakes/wild.py): each
fault alone in 30% of answers keeps recall within 2 points of the clean run, duplicates at
most 2% of findings, and every loss counted in the run stats; with the perfect double, each
labeled defect is held once (no rule/model pairs). Measured with the eval suite's own
engine over its labeled corpora (tests/fakes/wild_eval.py). Fixed seed, no clock."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.wild import CLEAN, FAULTS, WildOracle
from tests.fakes.wild_eval import FaultRun, measure
from vibe_audit.agent.providers.doubles import code_files, oracle_script
from vibe_audit.agent.run import run_audit
from vibe_audit.evals import suite
from vibe_audit.evals.labels import LABEL_FILES, read_labels
from vibe_audit.prompts import get_audit
from vibe_audit.schemas import AUDIT_IDS, Plan, RenderedRequest, Report, RunRequest

RECALL_POINTS = 0.02  # recall within 2 points of the clean run
DUPLICATE_SHARE = 0.02  # duplicates <= 2% of findings
HTTP_FAULTS = ["fenced", "truncated"]  # where the real provider's parsing matters


@pytest.fixture(scope="module")
def runs() -> dict[str, FaultRun]:
    return measure(list(FAULTS))


def _problems(run: FaultRun, clean: FaultRun) -> list[str]:
    problems = []
    assert clean.recall is not None and run.recall is not None
    if run.recall < clean.recall - RECALL_POINTS:
        problems.append(f"recall {run.recall:.3f} vs clean {clean.recall:.3f} (lost: {run.lost})")
    if run.duplicate_share > DUPLICATE_SHARE:
        problems.append(
            f"duplicates {run.duplicates}/{run.findings} = {run.duplicate_share:.1%} > 2% "
            f"({run.rule_model_pairs} rule/model pairs; e.g. {run.duplicate_examples[:4]})"
        )
    if run.silent:
        problems.append(
            f"losses not counted in the run stats: {run.silent} (dropped {run.dropped}, "
            f"events {run.events}, jobs {run.jobs})"
        )
    return problems


@pytest.mark.parametrize("fault", list(FAULTS))
def test_each_fault_alone_at_30_percent_meets_the_bar(
    fault: str, runs: dict[str, FaultRun]
) -> None:
    run, clean = runs[fault], runs[CLEAN]
    assert run.injected > 0, f"the double injected no '{fault}' fault"  # the test tests
    problems = _problems(run, clean)
    assert not problems, f"{fault} ({FAULTS[fault]}): " + "; ".join(problems)


def test_with_the_perfect_double_each_labeled_defect_is_held_once(
    runs: dict[str, FaultRun],
) -> None:
    clean = runs[CLEAN]
    assert clean.injected == 0
    assert (clean.duplicates, clean.rule_model_pairs) == (0, 0), (
        f"{clean.duplicates} duplicate finding(s) of {clean.findings}, "
        f"{clean.rule_model_pairs} rule/model pair(s): {clean.duplicate_examples}"
    )


def _canonical(report: Report) -> list[dict[str, Any]]:
    return [f.model_dump(mode="json") for f in report.findings]


def test_answers_in_shuffled_order_give_the_clean_report(runs: dict[str, FaultRun]) -> None:
    shuffled, clean = runs["shuffled"], runs[CLEAN]
    assert shuffled.reordered > 0 and clean.reordered == 0  # the answers did arrive shuffled
    assert set(shuffled.reports) == set(clean.reports)
    for service, report in shuffled.reports.items():
        assert _canonical(report) == _canonical(clean.reports[service]), service


def _requests(scratch: Path) -> list[tuple[RenderedRequest, list[dict[str, Any]]]]:
    """The real requests of the scanflow corpus (a dry run) and its oracle labels."""
    corpus = next(c for c in suite.packaged_corpora() if c.name == "scanflow")
    labels = suite.oracle_labels(read_labels(corpus), list(AUDIT_IDS))
    path = scratch / "scanflow.labels.json"
    path.write_text(json.dumps(labels), encoding="utf-8")
    spec = f"oracle-test-double:{path}"
    options = replace(suite.double_options(spec), dry_run=True)
    request = RunRequest(
        target=str(corpus), audits=list(AUDIT_IDS), model=spec, exclude=list(LABEL_FILES)
    )
    plan = run_audit(request, model=options)
    assert isinstance(plan, Plan)
    return [(job.request, labels) for job in plan.jobs]


@pytest.fixture(scope="module")
def requests(
    tmp_path_factory: pytest.TempPathFactory,
) -> list[tuple[RenderedRequest, list[dict[str, Any]]]]:
    return _requests(tmp_path_factory.mktemp("wild"))


@pytest.mark.parametrize("fault", list(FAULTS))
def test_the_wild_double_injects_its_fault(
    fault: str, requests: list[tuple[RenderedRequest, list[dict[str, Any]]]]
) -> None:
    """At rate 1 every applicable answer carries the fault, and the fault is what it says."""
    seen = False
    for request, labels in requests:
        wild = WildOracle(labels, fault, rate=1.0)
        clean: dict[str, Any] = json.loads(oracle_script(labels)(request, None))
        reply = wild.answer(request, None)
        if not wild.injections:
            continue
        seen = True
        if fault in ("fenced", "truncated"):
            with pytest.raises(json.JSONDecodeError):
                json.loads(reply.text)
            assert reply.truncated is (fault == "truncated")
            if fault == "fenced":
                assert json.dumps(clean) in reply.text or "```json" in reply.text
            else:
                assert len(code_files(request)) > 1
            continue
        data = json.loads(reply.text)
        got, want = data["findings"], clean["findings"]
        spec = get_audit(request.audit)
        if fault == "extra_key":
            assert sum("cwe" in f for f in got) == 1
        elif fault == "empty_items":
            assert sum(f["checklist_items"] == [] for f in got) == 1
        elif fault == "lowercase_severity":
            assert sum(f["severity"].islower() for f in got) == 1
        elif fault == "unknown_category":
            assert sum(f["category"] not in spec.categories for f in got) == 1
        elif fault == "evidence":
            lines = code_files(request)
            changed = [e["text"] != lines[f["path"]][e["line"]] for f in got for e in f["evidence"]]
            assert any(changed)
        elif fault == "location":
            assert all(
                1 <= abs(g["start_line"] - w["start_line"]) <= 3
                for g, w in zip(got, want, strict=True)
            )
        elif fault == "rule_duplicate":
            assert len(got) > len(want) and wild.rule_duplicates
            assert all(f["title"] in {d.title for d in wild.rule_duplicates} for f in got[-1:])
        elif fault == "empty_answer":
            assert got == [] and want
            again = json.loads(wild.answer(request, None).text)
            assert again["findings"] == want  # asked again, it answers
        else:
            assert fault == "shuffled" and reply.yields > 0 and data == clean
    assert seen, f"no request of the corpus can carry '{fault}'"


@pytest.fixture(scope="module")
def http_runs() -> dict[str, FaultRun]:
    return measure(HTTP_FAULTS, http=True)


@pytest.mark.parametrize("fault", HTTP_FAULTS)
def test_behind_the_openai_compatible_server_each_fault_meets_the_bar(
    fault: str, http_runs: dict[str, FaultRun]
) -> None:
    """The same double behind the fake OpenAI-compatible server: the real provider parses
    fenced text and reads finish_reason "length"."""
    run, clean = http_runs[fault], http_runs[CLEAN]
    assert run.injected > 0
    problems = _problems(run, clean)
    assert not problems, f"{fault} over HTTP: " + "; ".join(problems)
