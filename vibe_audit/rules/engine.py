"""The built-in rule engine: run every rule that serves the selected audits, make findings."""

from __future__ import annotations

import importlib
import pkgutil
import re
from dataclasses import replace
from functools import cache

from vibe_audit.findings.fingerprint import fingerprint
from vibe_audit.prompts import load_audits
from vibe_audit.rules import builtin, evidence
from vibe_audit.rules.base import Hit, Rule, RuleMeta
from vibe_audit.rules.context import FileContext, RepoContext
from vibe_audit.schemas import AuditId, EvidenceLine, Finding, Location, Patch, Severity

MAX_EVIDENCE_LINES = 6
_PLACEHOLDER = re.compile(r"\{(\w+)\}")


class RuleDefinitionError(Exception):
    """A built-in rule's metadata disagrees with the audit catalog (a bug in vibe-audit)."""


@cache
def load_rules() -> dict[str, Rule]:
    """Every built-in rule by id, validated against the audit catalog."""
    audits = load_audits()
    rules: dict[str, Rule] = {}
    for module_info in sorted(pkgutil.iter_modules(builtin.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{builtin.__name__}.{module_info.name}")
        # A module defines one RULE, or RULES when it builds several from data.
        found = getattr(module, "RULES", None) or [getattr(module, "RULE", None)]
        for rule in found:
            if not isinstance(rule, Rule):
                raise RuleDefinitionError(f"{module.__name__} defines no RULE")
            meta = rule.meta
            if meta.id in rules:
                raise RuleDefinitionError(f"duplicate rule id {meta.id}")
            for audit_id, category in meta.categories.items():
                if category not in audits[audit_id].categories:
                    raise RuleDefinitionError(
                        f"{meta.id}: '{category}' is not a {audit_id} category"
                    )
            known = set().union(*(audits[a].checklist_ids() for a in meta.categories))
            unknown = [item for item in meta.checklist if item not in known]
            if unknown:
                raise RuleDefinitionError(f"{meta.id}: unknown checklist items {unknown}")
            rules[meta.id] = rule
    return rules


def rules_for(
    audits: list[AuditId], repo: RepoContext | None = None, rule_set: str = "stable"
) -> list[Rule]:
    """Rules serving ``audits``; with ``repo``, only those reading a language it contains.
    ``rule_set`` "stable" leaves out the experimental rules; "experimental" adds them."""
    languages = None if repo is None else {ctx.source.language for ctx in repo.files}
    return [
        r
        for r in load_rules().values()
        if set(r.meta.categories) & set(audits)
        and (languages is None or set(r.meta.languages) & languages)
        and (rule_set == "experimental" or not r.meta.experimental)
    ]


def run_rules(
    repo: RepoContext,
    audits: list[AuditId],
    rules: list[Rule] | None = None,
    rule_set: str = "stable",
) -> list[Finding]:
    """Findings of ``rules`` (default: every rule of ``rule_set`` serving ``audits``), in
    those audits only."""
    findings: list[Finding] = []
    lines_by_path = {ctx.source.path: ctx.lines for ctx in repo.files}
    # A finding may also sit in a file no rule parses (a .sql migration's CREATE TABLE):
    # its lines are split when a finding needs them, not for every file on every run.
    others = {other.path: other for other in repo.other_sources}
    concurrency: dict[str, str | None] = {}  # by path, computed on first need
    contexts = {ctx.source.path: ctx for ctx in repo.files}
    regions = {ctx.source.path: ctx.source.test_regions for ctx in repo.files}
    for rule in rules_for(audits, repo, rule_set) if rules is None else rules:
        hits: list[Hit] = []
        if rule.check_file is not None:
            for ctx in repo.in_language(*rule.meta.languages):
                hits.extend(rule.check_file(ctx))
        if rule.check_repo is not None:
            hits.extend(rule.check_repo(repo))
        if rule.meta.needs_concurrency:
            for hit in hits:
                if hit.path not in concurrency and hit.path in contexts:
                    concurrency[hit.path] = evidence.reaching_concurrency(contexts[hit.path], repo)
        for hit in hits:
            if _in_test_region(hit, regions):
                continue
            graded = _graded(rule, hit, concurrency)
            if hit.path not in lines_by_path:
                lines_by_path[hit.path] = others[hit.path].text.splitlines()
            finding = _finding(rule, graded, lines_by_path[hit.path], audits)
            if rule.fix is not None and hit.path in contexts:
                finding.patch = _proposed(rule, contexts[hit.path], graded)
            findings.append(finding)
    return findings


def _proposed(rule: Rule, ctx: FileContext, hit: Hit) -> Patch | None:
    """The rule's patch for a hit, unverified (vibe_audit.fixes verifies it). A fixer that
    fails on unusual code costs the finding its patch, never the run."""
    assert rule.fix is not None
    try:
        return rule.fix(ctx, hit)
    except Exception:  # a fixer bug must not lose the audit
        return None


def _graded(rule: Rule, hit: Hit, concurrency: dict[str, str | None]) -> Hit:
    """Severity from evidence for a rule whose defect needs concurrency: the rule's severity
    where the repository shows concurrency, at most MEDIUM where it shows none."""
    severity = rule.meta.severity
    if not rule.meta.needs_concurrency or hit.severity is not None:
        return hit
    if severity not in (Severity.CRITICAL, Severity.HIGH):
        return hit
    shown = concurrency.get(hit.path)
    if shown:
        return replace(
            hit, severity_reason=f"{severity.value}: concurrent access is possible: {shown}."
        )
    return replace(
        hit,
        severity=Severity.MEDIUM,
        severity_reason="MEDIUM: the failure needs concurrent access, and no threads, async "
        "tasks, server or workers are seen in the code (one process at a time).",
    )


def _in_test_region(hit: Hit, regions: dict[str, list[tuple[int, int]]]) -> bool:
    """The hit lies in test code inside a production file (a Rust #[cfg(test)] module)."""
    return any(a <= hit.start_line <= b for a, b in regions.get(hit.path, []))


def _fill(template: str, details: dict[str, str]) -> str:
    return _PLACEHOLDER.sub(lambda m: details.get(m.group(1), m.group(0)), template)


def audit_severities(
    meta: RuleMeta, severity: Severity, audits: list[AuditId]
) -> dict[AuditId, Severity]:
    """The hit's severity in each audit: capped where the audit ranks the defect lower."""
    capped = {}
    for audit in audits:
        cap = meta.audit_severity.get(audit)
        capped[audit] = severity if cap is None or severity.rank >= cap.rank else cap
    return capped


def _finding(rule: Rule, hit: Hit, lines: list[str], audits: list[AuditId]) -> Finding:
    meta = rule.meta
    selected = [a for a in audits if a in meta.categories]
    last = min(hit.end_line, hit.start_line + MAX_EVIDENCE_LINES - 1, len(lines))
    evidence = [EvidenceLine(line=n, text=lines[n - 1]) for n in range(hit.start_line, last + 1)]
    location = Location(
        path=hit.path, start_line=hit.start_line, end_line=hit.end_line, symbol=hit.symbol
    )
    checklist = [item for item in meta.checklist if item.split(".")[0] in selected]
    severities = audit_severities(meta, hit.severity or meta.severity, selected)
    severity = min(severities.values(), key=lambda s: s.rank)
    finding = Finding(
        id="",
        fingerprint="",
        audits=selected,
        severity=severity,
        severity_reason=hit.severity_reason,
        categories={a: meta.categories[a] for a in selected},
        severities={a: s for a, s in severities.items() if s is not severity},
        title=meta.title,
        location=location,
        problem=_fill(meta.problem, hit.placeholders()),
        scenario=_fill(meta.scenario, hit.placeholders()),
        impact=_fill(meta.impact, hit.placeholders()),
        confidence=meta.confidence,
        how_to_verify=_fill(meta.how_to_verify, hit.placeholders()),
        fix=_fill(meta.fix, hit.placeholders()),
        trade_off=_fill(meta.trade_off, hit.placeholders()),
        evidence=evidence,
        checklist_items=checklist,
        source="rule",
        rule_id=meta.id,
        effort_hours=meta.effort_hours,
        replacement=hit.replacement,
    )
    finding.fingerprint = fingerprint(finding)
    return finding
