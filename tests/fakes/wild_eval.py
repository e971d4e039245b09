"""Measure the wild-model test double (tests/fakes/wild.py) with the eval suite (issue 20).

``measure`` runs `vibe-audit eval`'s engine (vibe_audit.evals.suite.run_eval: the same
pipeline, the same scorer) over the labeled corpora once with the clean oracle and once per
fault, and keeps each service's report to read what the scorer does not report: duplicates
(a labeled defect held by more than one finding; a restated rule hint held twice; rule/model
pairs among them) and the losses the run stats count (dropped findings by reason, repairs,
failed requests, empty answers). A test double's figures, never a model's.
"""

from __future__ import annotations

import contextlib
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from unittest import mock

from tests.fakes.wild import CLEAN, CREATED, NAME, RATE, SEED, WildModelServer, eval_doubles
from vibe_audit.agent.providers import ProviderSettings
from vibe_audit.agent.run import ModelOptions, run_audit
from vibe_audit.agent.runner import RunnerSettings
from vibe_audit.evals import suite
from vibe_audit.evals.labels import Defect, Place, read_labels
from vibe_audit.schemas import AUDIT_IDS, AuditId, Finding, Report, RunRequest


@dataclass
class FaultRun:
    """One fault's eval run: the eval's scores and what the reports say."""

    fault: str
    recall: float | None
    precision: float | None
    findings: int
    duplicates: int  # findings beyond the first on one labeled defect or one restated hint
    rule_model_pairs: int  # of those groups, the ones a rule and a model both hold apart
    dropped: dict[str, int]
    events: dict[str, int]  # the run stats' model_events (retries, repairs, ...)
    jobs: dict[str, int]  # requests by outcome
    answers: int  # answers the double gave (calls)
    applicable: int  # requests that could carry the fault
    injected: int  # answers it damaged
    reordered: int = 0  # answers that arrived after an answer to a later request
    lost: list[str] = field(default_factory=list)  # audit/label found clean, missed here
    silent: list[str] = field(default_factory=list)  # lost and no counted loss accounts for it
    duplicate_examples: list[str] = field(default_factory=list)
    reports: dict[str, Report] = field(default_factory=dict, repr=False)

    @property
    def repairs(self) -> int:
        """Answers repaired: by a repair call, or in place by per-finding validation."""
        return sum(n for k, n in self.events.items() if "repair" in k)

    @property
    def failed(self) -> int:
        """Requests that failed or were skipped (their lines unreviewed)."""
        return sum(n for s, n in self.jobs.items() if "failed" in s or "skipped" in s)

    @property
    def empty(self) -> int:
        """Answers recorded as empty where code was flagged (after the re-ask)."""
        by_status = sum(n for status, n in self.jobs.items() if "empty" in status)
        by_event = sum(n for k, n in self.events.items() if "answered empty" in k)
        return max(by_status, by_event)

    @property
    def dropped_total(self) -> int:
        return sum(self.dropped.values())

    @property
    def duplicate_share(self) -> float:
        return self.duplicates / self.findings if self.findings else 0.0

    def summary(self) -> dict[str, Any]:
        return {
            "fault": self.fault,
            "recall": self.recall,
            "precision": self.precision,
            "findings": self.findings,
            "duplicates": self.duplicates,
            "duplicate_share": round(self.duplicate_share, 4),
            "rule_model_pairs": self.rule_model_pairs,
            "dropped": self.dropped,
            "repairs": self.repairs,
            "failed_requests": self.failed,
            "empty_answers": self.empty,
            "jobs": self.jobs,
            "model_events": self.events,
            "answers": self.answers,
            "applicable": self.applicable,
            "injected": self.injected,
            "reordered": self.reordered,
            "lost": self.lost,
            "silent": self.silent,
        }


@contextlib.contextmanager
def _recording() -> Iterator[dict[str, list[tuple[str, Report]]]]:
    """Keep a copy of every report the eval suite's runs return, by model spec."""
    reports: dict[str, list[tuple[str, Report]]] = {}
    real = run_audit

    def record(request: RunRequest, **kwargs: Any) -> Any:
        out = real(request, **kwargs)
        if isinstance(out, Report):
            name = Path(request.target).name
            reports.setdefault(request.model, []).append((name, out.model_copy(deep=True)))
        return out

    with mock.patch.object(suite, "run_audit", record):
        yield reports


def all_labels(corpora: list[Path], audits: list[AuditId]) -> list[dict[str, Any]]:
    """The oracle's labels of every corpus service (their paths do not collide)."""
    out: list[dict[str, Any]] = []
    for corpus in corpora:
        out += suite.oracle_labels(read_labels(corpus), audits)
    return out


def measure(
    faults: list[str],
    rate: float = RATE,
    seed: int = SEED,
    corpora: list[Path] | None = None,
    audits: list[AuditId] | None = None,
    http: bool = False,
    say: Callable[[str], None] = lambda _m: None,
) -> dict[str, FaultRun]:
    """The clean run (key ``none``) and one run per fault; ``http``: the double behind the
    fake OpenAI-compatible server, parsed by the real openai-compat provider."""
    corpora = corpora or suite.packaged_corpora()
    audits = audits or list(AUDIT_IDS)
    wanted = [CLEAN, *[f for f in faults if f != CLEAN]]
    CREATED.clear()
    with contextlib.ExitStack() as stack:
        reports = stack.enter_context(_recording())
        if http:
            labels = all_labels(corpora, audits)
            servers = {f: WildModelServer(labels, f, rate, seed) for f in wanted}
            for server in servers.values():
                stack.enter_context(server)
            names = {f: f"openai-compat:{s.url}/v1#{NAME}-{f}" for f, s in servers.items()}
            options_for = _http_options
        else:
            names = stack.enter_context(eval_doubles(wanted, rate, seed))
            options_for = suite.double_options
        result = suite.run_eval(
            [names[f] for f in wanted], audits, corpora, 1, options_for, say=say
        )
        doubles: dict[str, list[Any]] = {}
        if http:
            doubles = {f: [s.wild] for f, s in servers.items()}
        else:
            for provider in CREATED:
                doubles.setdefault(provider.wild.fault, []).append(provider.wild)
    by_model = {m.model: m for m in result.models}
    runs: dict[str, FaultRun] = {}
    for fault in wanted:
        model = by_model[names[fault]]
        spec_reports = [r for spec, rs in reports.items() if _is_of(spec, fault, http) for r in rs]
        runs[fault] = _fault_run(fault, model, spec_reports, doubles.get(fault, []), corpora)
    clean = runs[CLEAN]
    clean_missed = _missed_pairs(by_model[names[CLEAN]])
    for fault in wanted[1:]:
        run = runs[fault]
        lost = sorted(_missed_pairs(by_model[names[fault]]) - clean_missed)
        run.lost = [f"{audit}/{label}" for audit, label in lost]
        run.silent = _silent(run, clean, lost, corpora)
    return runs


def _is_of(spec: str, fault: str, http: bool) -> bool:
    if http:
        return spec.endswith(f"#{NAME}-{fault}")
    return spec.startswith(f"{NAME}:{fault}:")


def _http_options(spec: str) -> ModelOptions:
    settings = ProviderSettings(spec=spec, api_key="test-key", timeout_s=30)
    return ModelOptions(settings, RunnerSettings(timeout_s=30, backoff_base_s=0.01), None, {})


def _missed_pairs(model: suite.ModelResult) -> set[tuple[str, str]]:
    scores = model.scores
    return {(audit, label) for audit, labels in scores.missed_by_audit.items() for label in labels}


def _fault_run(
    fault: str,
    model: suite.ModelResult,
    reports: list[tuple[str, Report]],
    doubles: list[Any],
    corpora: list[Path],
) -> FaultRun:
    labels = {c.name: read_labels(c) for c in corpora}
    dropped: Counter[str] = Counter()
    events: Counter[str] = Counter()
    jobs: Counter[str] = Counter()
    duplicates = pairs = 0
    examples: list[str] = []
    restated = [d for w in doubles for d in w.rule_duplicates]
    for service, report in reports:
        dropped.update(report.stats.findings_dropped)
        events.update(report.stats.model_events)
        jobs.update(report.stats.jobs)
        found = _labeled_duplicates(report.findings, labels[service].defects)
        for dup in restated:  # paths are the service's own: another service holds none
            held = [
                f
                for f in report.findings
                if f.location.path == dup.path
                and f.location.start_line <= dup.line <= f.location.end_line
                and (f.rule_id == dup.rule_id or (f.rule_id is None and f.title == dup.title))
            ]
            found += [(f"hint {dup.rule_id}@{dup.path}:{dup.line}", f, held[0]) for f in held[1:]]
        extra: dict[int, tuple[str, Finding, Finding]] = {}
        for name, twin, kept in found:
            if id(twin) in extra:
                continue
            extra[id(twin)] = (name, twin, kept)
            pairs += _rule_and_model(twin, kept)
            if len(examples) < 8:
                where = " / ".join(
                    f"{f.rule_id or f.source}:{f.location.start_line} {f.audits}"
                    for f in (kept, twin)
                )
                examples.append(f"{service} {name}: {where}")
        duplicates += len(extra)
    return FaultRun(
        fault=fault,
        recall=model.mean("recall"),
        precision=model.mean("precision"),
        findings=model.scores.overall.findings,
        duplicates=duplicates,
        rule_model_pairs=pairs,
        dropped=dict(sorted(dropped.items())),
        events=dict(sorted(events.items())),
        jobs=dict(sorted(jobs.items())),
        answers=sum(w.answers for w in doubles),
        applicable=sum(len(w.applicable) for w in doubles),
        injected=sum(len(w.injections) for w in doubles),
        reordered=sum(_overtaken(w.sent, w.arrivals) for w in doubles),
        duplicate_examples=examples,
        reports=dict(reports),
    )


def _overtaken(sent: list[str], arrivals: list[str]) -> int:
    """Answers that arrived after the answer to a request sent later."""
    order = {key: n for n, key in enumerate(sent)}
    latest, late = -1, 0
    for key in arrivals:
        late += order[key] < latest
        latest = max(latest, order[key])
    return late


def _rule_and_model(a: Finding, b: Finding) -> bool:
    kinds = {"rule" if f.rule_id is not None else f.source for f in (a, b)}
    return kinds == {"rule", "model"}


def _labeled_duplicates(
    findings: list[Finding], defects: list[Defect]
) -> list[tuple[str, Finding, Finding]]:
    """The findings that repeat a labeled defect, each with the label and a finding it
    repeats. Findings match labels as the eval matches them (same file, lines within the
    tolerance, an acceptable audit); as many findings as possible are given a label of their
    own (a maximum matching: two labels on one place are two defects). A finding left
    without one repeats a label some matched finding holds, unless both are rule findings of
    different rules (distinct rules report distinct defects)."""
    hits = {
        n: [d.id for d in defects if d.matches(f) and set(d.audits) & set(f.audits)]
        for n, f in enumerate(findings)
    }
    owner: dict[str, int] = {}  # label id -> finding index

    def assign(n: int, seen: set[str]) -> bool:
        for label in hits[n]:
            if label in seen:
                continue
            seen.add(label)
            if label not in owner or assign(owner[label], seen):
                owner[label] = n
                return True
        return False

    for n in sorted(hits, key=lambda n: len(hits[n])):
        if hits[n]:
            assign(n, set())
    held = set(owner.values())
    out = []
    for n, labels in hits.items():
        if n in held or not labels:
            continue
        twin = findings[n]
        for label in labels:
            kept = findings[owner[label]]
            distinct_rules = twin.rule_id and kept.rule_id and twin.rule_id != kept.rule_id
            if not distinct_rules:
                out.append((label, twin, kept))
                break
    return out


def _silent(
    run: FaultRun, clean: FaultRun, lost: list[tuple[str, str]], corpora: list[Path]
) -> list[str]:
    """The lost (audit, label) pairs no counted loss accounts for, [] when all are.

    A pair is accounted for by its request: a failed or skipped request of that audit showing
    the label's place (the run stats' unreviewed jobs), or a coverage ledger row of that
    audit holding the place that is not plainly audited (failed, or "answered empty" in its
    detail). The rest need one counted loss each beyond the clean run's: findings dropped in
    verification, findings dropped by validation (model events naming a drop), answers
    recorded empty."""
    flagged: set[tuple[str, str, int, int]] = set()  # audit, service/path, first, last
    for service, report in run.reports.items():
        for outcome in report.stats.unreviewed_jobs:
            for span in outcome.files or []:
                flagged.add((outcome.audit, f"{service}/{span.path}", *span.lines))
            flagged.add((outcome.audit, f"{service}/{outcome.path}", *outcome.lines))
        for row in report.coverage.rows if report.coverage else []:
            if row.lines is None:
                continue
            for row_audit, state in row.states.items():
                detail = row.details.get(row_audit, "")
                if state == "failed" or "empty" in detail:
                    flagged.add((row_audit, f"{service}/{row.path}", *row.lines))
    defects = _combined_defects(corpora)
    left = []
    for audit, label in lost:
        covered = any(
            a == audit and p.path == path and first <= p.start <= last
            for a, path, first, last in flagged
            for p in defects[label].places
        )
        if not covered:
            left.append(f"{audit}/{label}")

    def dropped_by_validation(r: FaultRun) -> int:
        return sum(n for k, n in r.events.items() if "drop" in k)

    counted = (
        max(0, run.dropped_total - clean.dropped_total)
        + max(0, dropped_by_validation(run) - dropped_by_validation(clean))
        + max(0, run.empty - clean.empty)
    )
    return left if len(left) > counted else []


def _combined_defects(corpora: list[Path]) -> dict[str, Defect]:
    """Every label by id, its places prefixed with the service name (as the eval scores)."""
    out: dict[str, Defect] = {}
    for corpus in corpora:
        for defect in read_labels(corpus).defects:
            places = tuple(Place(f"{corpus.name}/{p.path}", p.start, p.end) for p in defect.places)
            out[defect.id] = replace(defect, places=places)
    return out
