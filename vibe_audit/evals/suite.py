"""Run models over the labeled corpora and score them: the engine of `vibe-audit eval`.

Each model audits every corpus service (its LABELS.toml is excluded from what is read) once
per repeat through the same pipeline as `vibe-audit run`. ``oracle`` and ``noisy-oracle``
are test doubles that answer from the labels (never a model): the oracle measures what
chunking, routing, verification and merging lose; the noisy oracle what verification and
de-duplication recover.
"""

from __future__ import annotations

import json
import platform
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field

from vibe_audit import __version__
from vibe_audit.agent.providers import ProviderSettings
from vibe_audit.agent.run import ModelOptions, run_audit
from vibe_audit.agent.runner import RunnerSettings
from vibe_audit.errors import UserError
from vibe_audit.evals.labels import LABEL_FILES, Defect, Labels, Place, label_file, read_labels
from vibe_audit.evals.metrics import Counts, Scores, score_run, stability
from vibe_audit.prompts import get_audit
from vibe_audit.schemas import AuditId, Finding, Plan, Report, RunRequest

CORPORA = Path(__file__).parent / "corpora"
DOUBLES = {"oracle": "oracle-test-double", "noisy-oracle": "noisy-oracle-test-double"}
ABLATED = ("oracle",)  # models also run without interaction context (cheap: test doubles)
RESULT_SCHEMA = "1.0"
Kind = Literal["rule engine", "test double", "model"]


class ServiceRun(BaseModel):
    service: str
    findings: list[Finding]
    tokens_in: int
    tokens_out: int
    cost_usd: float
    elapsed_s: float
    unreviewed_jobs: int
    dropped: dict[str, int]
    triage_tokens_in: int = 0
    triage_cost_usd: float = 0.0


class Miss(BaseModel):
    label: str
    audit: AuditId | None = Field(description="None: missed by every audit.")
    cause: str


class ModelResult(BaseModel):
    model: str
    kind: Kind
    description: str
    runs: list[Scores]
    tokens_in: int
    tokens_out: int
    cost_usd: float
    wall_s: float
    unreviewed_jobs: int
    findings_dropped: dict[str, int]
    stability: float | None = Field(description="Mean pairwise Jaccard over repeats.")
    misses: list[Miss] = Field(default_factory=list, description="Oracle losses by cause.")
    triage_tokens_in: int = Field(default=0, description="Of tokens_in, sent to --triage.")
    triage_cost_usd: float = Field(default=0.0, description="Of cost_usd, spent on --triage.")

    @property
    def scores(self) -> Scores:
        return self.runs[0]

    def mean(self, metric: str, audit: AuditId | None = None) -> float | None:
        values = []
        for run in self.runs:
            counts: Counts = run.per_audit[audit] if audit else run.overall
            value = counts.summary()[metric]
            if value is not None:
                values.append(value)
        return sum(values) / len(values) if values else None


class Ablation(BaseModel):
    """One model run twice: with interaction context in its requests, and without."""

    model: str
    recall_with: float | None
    recall_without: float | None
    precision_with: float | None
    precision_without: float | None
    tokens_in_with: int
    tokens_in_without: int
    cross_file_labels: list[str] = Field(description="Labels whose places span files.")
    found_only_with: list[str] = Field(description="Labels found with the context only.")
    found_only_without: list[str] = Field(description="Labels found without it only.")


class TriageAblation(BaseModel):
    """One model run without a triage pass and with one (--triage MODEL)."""

    model: str
    triage: str
    recall_with: float | None
    recall_without: float | None
    precision_with: float | None
    precision_without: float | None
    main_tokens_in_with: int = Field(description="Input tokens the main model read.")
    main_tokens_in_without: int
    triage_tokens_in: int
    cost_with: float = Field(description="USD, the triage pass included.")
    cost_without: float
    lost_with: list[str] = Field(description="Labels found without triage only.")


class EvalResult(BaseModel):
    schema_version: str = RESULT_SCHEMA
    tool_version: str = __version__
    created: str
    machine: str
    audits: list[AuditId]
    repeat: int
    corpora: dict[str, int] = Field(description="Service name -> labeled defects.")
    decoys: int
    models: list[ModelResult]
    ablation: list[Ablation] = Field(
        default_factory=list,
        description="Interaction-context ablation of the oracle test double.",
    )
    triage: list[TriageAblation] = Field(
        default_factory=list, description="Each model without and with --triage."
    )


def packaged_corpora() -> list[Path]:
    return sorted(p for p in CORPORA.iterdir() if p.is_dir() and label_file(p))


def kind_of(spec: str) -> Kind:
    if spec == "static":
        return "rule engine"
    return "test double" if spec in DOUBLES or "test-double" in spec else "model"


def oracle_labels(labels: Labels, audits: list[AuditId]) -> list[dict[str, Any]]:
    """The labels as the oracle test doubles read them: one entry per acceptable audit."""
    entries = []
    for defect in labels.defects:
        for audit in defect.audits:
            if audit not in audits:
                continue
            spec = get_audit(audit)
            entries.append(
                {
                    "audit": audit,
                    "path": defect.places[0].path,
                    "line": defect.places[0].start,
                    # Every place; a label whose places span files is answered only when all
                    # of them are visible (agent/providers/doubles.py).
                    "places": [
                        {"path": p.path, "start": p.start, "end": p.end} for p in defect.places
                    ],
                    "severity": defect.severity or "MEDIUM",
                    "category": defect.categories.get(audit) or spec.categories[0],
                    "checklist_items": [spec.checklist[0].id],
                    "title": defect.title or f"labeled defect {defect.id}",
                }
            )
    return entries


def _isolated(
    options_for: Callable[[str], ModelOptions], interaction: bool
) -> Callable[[str], ModelOptions]:
    """Options with one chunk per request, with or without the interaction context."""

    def options(spec: str) -> ModelOptions:
        return replace(options_for(spec), pack_tokens=1, interaction=interaction)

    return options


def run_eval(
    models: list[str],
    audits: list[AuditId],
    corpora: list[Path],
    repeat: int,
    options_for: Callable[[str], ModelOptions],
    say: Callable[[str], None] = lambda _m: None,
    max_cost: float | None = None,
    triage: str | None = None,
) -> EvalResult:
    """Every model over every corpus service, ``repeat`` times; ``max_cost`` caps each
    model's spending in USD (a service it cannot afford is counted as unreviewed)."""
    if not corpora:
        raise UserError("no labeled corpus to evaluate on")
    labeled = {c.name: read_labels(c) for c in corpora}
    combined = Labels(defects=[], correct=[])
    for name, labels in labeled.items():
        combined.defects.extend(_prefixed(d, name) for d in labels.defects)
        combined.correct.extend(Place(f"{name}/{p.path}", p.start, p.end) for p in labels.correct)
    results = []
    ablation = []
    triages: list[TriageAblation] = []
    with tempfile.TemporaryDirectory(prefix="vibe-audit-eval-") as scratch:
        label_paths = {}
        for name, labels in labeled.items():
            path = Path(scratch) / f"{name}.labels.json"
            # A scratch file inside a temporary directory: nothing reads it after a crash.
            # vibe-audit: ignore[checkpoint-non-atomic-write]
            path.write_text(json.dumps(oracle_labels(labels, audits)), encoding="utf-8")
            label_paths[name] = path
        for model in models:
            say(f"evaluating {model} ({kind_of(model)}) on {len(corpora)} service(s)")
            results.append(
                _evaluate(
                    model,
                    audits,
                    corpora,
                    repeat,
                    label_paths,
                    combined,
                    options_for,
                    max_cost,
                    say,
                )
            )
        for model in [m for m in models if m in ABLATED]:
            # One chunk per request: another file's code reaches a request only through the
            # interaction context (a default pack holds a directory's files), so the
            # ablation measures the context alone.
            say(f"evaluating {model} with and without interaction context (ablation)")
            with_, without = (
                _evaluate(
                    model, audits, corpora, 1, label_paths, combined,
                    _isolated(options_for, interaction=on), max_cost, say, explain=False,
                )
                for on in (True, False)
            )  # fmt: skip
            ablation.append(_ablation(model, with_, without, combined))
        for model in [m for m in models if triage is not None and m != "static"]:
            assert triage is not None
            say(f"evaluating {model} with --triage {triage}")
            triaged = _evaluate(
                model, audits, corpora, 1, label_paths, combined, options_for, max_cost, say,
                explain=False, triage=triage,
            )  # fmt: skip
            alone = next(r for r in results if r.model == model)
            triages.append(_triage_ablation(model, triage, alone, triaged))
    return EvalResult(
        created=datetime.now(UTC).isoformat(timespec="seconds"),
        machine=f"{platform.machine()}, {platform.python_implementation()} "
        f"{platform.python_version()}",
        audits=audits,
        repeat=repeat,
        corpora={name: len(labels.defects) for name, labels in labeled.items()},
        decoys=len(combined.correct),
        models=results,
        ablation=ablation,
        triage=triages,
    )


def _ablation(model: str, with_: ModelResult, without: ModelResult, labels: Labels) -> Ablation:
    missed_with, missed_without = set(with_.scores.missed), set(without.scores.missed)
    return Ablation(
        model=model,
        recall_with=with_.mean("recall"),
        recall_without=without.mean("recall"),
        precision_with=with_.mean("precision"),
        precision_without=without.mean("precision"),
        tokens_in_with=with_.tokens_in,
        tokens_in_without=without.tokens_in,
        cross_file_labels=sorted(d.id for d in labels.defects if d.cross_file),
        found_only_with=sorted(missed_without - missed_with),
        found_only_without=sorted(missed_with - missed_without),
    )


def _triage_ablation(
    model: str, triage: str, alone: ModelResult, triaged: ModelResult
) -> TriageAblation:
    return TriageAblation(
        model=model,
        triage=triage,
        recall_with=triaged.mean("recall"),
        recall_without=alone.mean("recall"),
        precision_with=triaged.mean("precision"),
        precision_without=alone.mean("precision"),
        main_tokens_in_with=triaged.tokens_in - triaged.triage_tokens_in,
        main_tokens_in_without=alone.tokens_in,
        triage_tokens_in=triaged.triage_tokens_in,
        cost_with=triaged.cost_usd,
        cost_without=alone.cost_usd,
        lost_with=sorted(set(triaged.scores.missed) - set(alone.scores.missed)),
    )


def _prefixed(defect: Defect, name: str) -> Defect:
    places = tuple(Place(f"{name}/{p.path}", p.start, p.end) for p in defect.places)
    return replace(defect, places=places)


def _spec(model: str, service: str, label_paths: dict[str, Path]) -> str:
    if model in DOUBLES:
        return f"{DOUBLES[model]}:{label_paths[service]}"
    return model


def _evaluate(
    model: str,
    audits: list[AuditId],
    corpora: list[Path],
    repeat: int,
    label_paths: dict[str, Path],
    labels: Labels,
    options_for: Callable[[str], ModelOptions],
    max_cost: float | None = None,
    say: Callable[[str], None] = lambda _m: None,
    explain: bool = True,
    triage: str | None = None,
) -> ModelResult:
    runs: list[Scores] = []
    finding_sets: list[set[str]] = []
    totals = {"tokens_in": 0, "tokens_out": 0, "cost": 0.0, "wall": 0.0, "unreviewed": 0,
              "triage_tokens": 0, "triage_cost": 0.0}  # fmt: skip
    dropped: dict[str, int] = {}
    description = ""
    for _ in range(repeat):
        findings: list[Finding] = []
        for service in corpora:
            spec = _spec(model, service.name, label_paths)
            options = options_for(spec)
            if triage is not None:
                options = replace(options, triage=_spec(triage, service.name, label_paths))
            if max_cost is not None:
                remaining = max_cost - totals["cost"]
                if remaining <= 0:
                    say(f"  {model}: budget spent; {service.name} not audited")
                    totals["unreviewed"] += 1
                    continue
                options = replace(options, runner=replace(options.runner, max_cost_usd=remaining))
            say(f"  {model}: {service.name}")
            run = _run_service(service, spec, audits, options)
            description = description or run.service
            for finding in run.findings:
                finding.location.path = f"{service.name}/{finding.location.path}"
            findings.extend(run.findings)
            totals["tokens_in"] += run.tokens_in
            totals["tokens_out"] += run.tokens_out
            totals["cost"] += run.cost_usd
            totals["wall"] += run.elapsed_s
            totals["unreviewed"] += run.unreviewed_jobs
            totals["triage_tokens"] += run.triage_tokens_in
            totals["triage_cost"] += run.triage_cost_usd
            for reason, count in run.dropped.items():
                dropped[reason] = dropped.get(reason, 0) + count
        runs.append(score_run(labels, findings, audits))
        finding_sets.append(
            {f"{f.location.path}:{f.location.start_line}:{f.title}" for f in findings}
        )
    misses = []
    if model in DOUBLES and explain:
        wanted: list[tuple[str, AuditId | None]] = [(label, None) for label in runs[0].missed]
        wanted += [
            (label, audit)
            for audit, missed in runs[0].missed_by_audit.items()
            for label in missed
            if label not in runs[0].missed
        ]
        misses = _explain(wanted, labels, corpora, audits, label_paths, options_for)
    return ModelResult(
        model=model,
        kind=kind_of(model),
        description=_description(model),
        runs=runs,
        tokens_in=int(totals["tokens_in"]),
        tokens_out=int(totals["tokens_out"]),
        cost_usd=round(totals["cost"], 6),
        wall_s=round(totals["wall"], 3),
        unreviewed_jobs=int(totals["unreviewed"]),
        findings_dropped=dict(sorted(dropped.items())),
        stability=stability(finding_sets),
        misses=misses,
        triage_tokens_in=int(totals["triage_tokens"]),
        triage_cost_usd=round(totals["triage_cost"], 6),
    )


def _description(model: str) -> str:
    if model == "static":
        return "the built-in rule engine (no model)"
    if model == "oracle":
        return "test double answering exactly the labels it is shown (not a model)"
    if model == "noisy-oracle":
        return (
            "test double: the oracle plus duplicates, shifted lines, invented files (not a model)"
        )
    return model


def _request(service: Path, spec: str, audits: list[AuditId]) -> RunRequest:
    return RunRequest(target=str(service), audits=audits, model=spec, exclude=list(LABEL_FILES))


def _run_service(
    service: Path, spec: str, audits: list[AuditId], options: ModelOptions
) -> ServiceRun:
    started = time.perf_counter()
    report = run_audit(_request(service, spec, audits), model=options)
    if not isinstance(report, Report):
        raise UserError("an eval run cannot be a dry run")
    stats = report.stats
    return ServiceRun(
        service=service.name,
        findings=report.findings,
        tokens_in=stats.tokens_in,
        tokens_out=stats.tokens_out,
        cost_usd=stats.cost_usd,
        elapsed_s=round(time.perf_counter() - started, 3),
        unreviewed_jobs=len(stats.unreviewed_jobs),
        dropped=dict(stats.findings_dropped),
        triage_tokens_in=stats.triage.tokens_in if stats.triage else 0,
        triage_cost_usd=stats.triage.cost_usd if stats.triage else 0.0,
    )


def _explain(
    missed: list[tuple[str, AuditId | None]],
    labels: Labels,
    corpora: list[Path],
    audits: list[AuditId],
    label_paths: dict[str, Path],
    options_for: Callable[[str], ModelOptions],
) -> list[Miss]:
    """Why the oracle missed a label (in one audit, or in all): was its line ever sent to
    the model for that audit?"""
    if not missed:
        return []
    jobs: dict[str, list[tuple[str, AuditId, int, int]]] = {}
    for service in corpora:
        spec = f"{DOUBLES['oracle']}:{label_paths[service.name]}"
        options = replace(options_for(spec), dry_run=True)
        plan = run_audit(_request(service, spec, audits), model=options)
        assert isinstance(plan, Plan)
        jobs[service.name] = [
            (f.path, j.audit, f.lines[0], f.lines[1]) for j in plan.jobs for f in j.files
        ]
    by_id = {d.id: d for d in labels.defects}
    out = []
    for label_id, audit in missed:
        defect = by_id[label_id]
        place = defect.places[0]
        name, _, path = place.path.partition("/")
        wanted = [audit] if audit else list(defect.audits)
        sent = [
            (a, s, e)
            for p, a, s, e in jobs.get(name, [])
            if p == path and a in wanted and s <= place.start <= e
        ]
        if not sent:
            cause = "not routed to this audit (no applies_to signal in its chunk)"
        elif defect.cross_file:
            cause = "cross-file: no request showed all its places (code + interaction context)"
        else:
            cause = "sent and answered, then lost in verification or merging"
        out.append(Miss(label=label_id, audit=audit, cause=cause))
    return out


def double_options(spec: str) -> ModelOptions:
    """Options for the rule engine and the test doubles: local, no cache, no budget."""
    return ModelOptions(ProviderSettings(spec=spec), RunnerSettings(), None, {})
