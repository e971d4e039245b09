"""The report does not depend on the order answers arrive in, and with the perfect (oracle)
test double each labeled defect is reported once: no rule/model pairs. The doubles answer
from labels (never a model)."""

from __future__ import annotations

import asyncio
import json
import random
from pathlib import Path
from typing import Any

import pytest

from vibe_audit.agent import ModelOptions, run_audit
from vibe_audit.agent.providers import ProviderSettings
from vibe_audit.agent.providers.base import ModelReply
from vibe_audit.agent.providers.doubles import ScriptedProvider, noisy_oracle_script
from vibe_audit.agent.providers.registry import register
from vibe_audit.agent.runner import RunnerSettings
from vibe_audit.evals.labels import Labels, read_labels
from vibe_audit.evals.suite import double_options, oracle_labels, packaged_corpora
from vibe_audit.report import RENDERERS
from vibe_audit.schemas import AUDIT_IDS, Finding, RenderedRequest, Report, RunRequest

CORPUS = next(c for c in packaged_corpora() if c.name == "scanflow")


class LateProvider(ScriptedProvider):
    """A scripted test double whose answers arrive in a seeded, shuffled order: each yields
    to the event loop a random number of times first (no clock)."""

    name = "late-scripted-test-double"

    def __init__(self, labels: list[dict[str, Any]], seed: int) -> None:
        super().__init__(noisy_oracle_script(labels), model="noisy-oracle")
        self.rng = random.Random(seed)
        self.arrivals: list[str] = []

    async def complete(
        self, request: RenderedRequest, schema: dict[str, Any], repair: tuple[str, str] | None
    ) -> ModelReply:
        for _ in range(self.rng.randrange(200)):
            await asyncio.sleep(0)
        reply = await super().complete(request, schema, repair)
        self.arrivals.append(f"{request.audit}:{request.chunk_id}")
        return reply


MADE: list[LateProvider] = []


def _late(rest: str, _settings: ProviderSettings) -> LateProvider:
    seed, labels = rest.split(":", 1)
    MADE.append(LateProvider(json.loads(Path(labels).read_text(encoding="utf-8")), int(seed)))
    return MADE[-1]


register("late-scripted-test-double", _late)


@pytest.fixture(scope="module")
def labels_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("labels") / "scanflow.json"
    entries = oracle_labels(read_labels(CORPUS), list(AUDIT_IDS))
    path.write_text(json.dumps(entries))  # vibe-audit: ignore[checkpoint-non-atomic-write]
    return path


def _report(spec: str, options: ModelOptions) -> Report:
    request = RunRequest(target=str(CORPUS), audits=list(AUDIT_IDS), model=spec)
    report = run_audit(request, model=options, clock=lambda: 0.0)  # no timing in the report
    assert isinstance(report, Report)
    return report


def test_answers_arriving_in_any_order_give_the_byte_identical_report(labels_file: Path) -> None:
    texts, arrivals = [], []
    for seed in (1, 2, 3, 4):
        spec = f"late-scripted-test-double:{seed}:{labels_file}"
        options = ModelOptions(
            ProviderSettings(spec=spec), RunnerSettings(concurrency=32), None, {}
        )
        report = _report(spec, options)
        texts.append(RENDERERS["json"](report))
        arrivals.append(MADE[-1].arrivals)
    assert len(set(map(tuple, arrivals))) == 4  # the answers did come in different orders
    assert sorted(arrivals[0]) == sorted(arrivals[1])  # the same answers
    assert all(text == texts[0] for text in texts[1:])
    report = json.loads(texts[0])
    assert report["findings"] and report["stats"]["findings_dropped"]  # noise was dropped


def _labels_on(finding: Finding, labels: Labels) -> set[str]:
    """The labeled defects a finding lies on, in one of their audits (no line tolerance)."""
    where = finding.location
    return {
        d.id
        for d in labels.defects
        if set(finding.audits) & set(d.audits)
        and any(
            p.path == where.path and where.start_line <= p.end and p.start <= where.end_line
            for p in d.places
        )
    }


@pytest.mark.parametrize("corpus", packaged_corpora(), ids=lambda c: c.name)
def test_the_oracle_reports_each_labeled_defect_once(corpus: Path, tmp_path: Path) -> None:
    labels = read_labels(corpus)
    path = tmp_path / "labels.json"
    entries = oracle_labels(labels, list(AUDIT_IDS))
    path.write_text(json.dumps(entries))  # vibe-audit: ignore[checkpoint-non-atomic-write]
    spec = f"oracle-test-double:{path}"
    request = RunRequest(target=str(corpus), audits=list(AUDIT_IDS), model=spec)
    report = run_audit(request, model=double_options(spec))
    assert isinstance(report, Report)
    assert all(any(d.matches(f) for f in report.findings) for d in labels.defects)  # all found
    # The oracle titles a finding with its label's title: a model-only finding names its
    # labeled defect. No defect twice: no two model findings of one label (two audits), no
    # rule finding on that label alone (a rule/model pair).
    by_title = {d.title or f"labeled defect {d.id}": d.id for d in labels.defects}
    model_only = [by_title[f.title] for f in report.findings if f.sources == ["model"]]
    assert len(set(model_only)) == len(model_only)
    pairs = [
        (f.rule_id, label)
        for f in report.findings
        if "rule" in f.sources
        for label in model_only
        if _labels_on(f, labels) == {label}
    ]
    assert pairs == []
    assert len(report.findings) <= len(labels.defects)
    assert any(f.sources == ["rule", "model"] for f in report.findings)  # the oracle confirmed
