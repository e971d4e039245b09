"""Scores come from each audit document's own rubric conditions (the template's
``[[rubric]] when``), a finding counts at its severity in that audit, and repeated sites of
one pattern are one issue."""

from __future__ import annotations

import pytest

from vibe_audit.findings.fingerprint import fingerprint
from vibe_audit.findings.merge import merge
from vibe_audit.findings.score import build_section, rate
from vibe_audit.prompts import get_audit
from vibe_audit.rules.engine import load_rules
from vibe_audit.schemas import AUDIT_IDS, Confidence, EvidenceLine, Finding, Location, Severity
from vibe_audit.schemas.audit_spec import AuditSpec

CRIT, HIGH, MED, MON = Severity.CRITICAL, Severity.HIGH, Severity.MEDIUM, Severity.MONITOR


def issue(
    audit: str,
    severity: Severity,
    n: int = 0,
    *,
    category: str | None = None,
    rule_id: str | None = None,
    line: int | None = None,
    items: tuple[str, ...] = (),
) -> Finding:
    spec = get_audit(audit)  # type: ignore[arg-type]
    line = line or n + 1
    finding = Finding(
        id=f"F{n}",
        fingerprint="",
        audits=[audit],  # type: ignore[list-item]
        severity=severity,
        categories={audit: category or spec.categories[0]},  # type: ignore[dict-item]
        title=f"defect {n}",
        location=Location(path="app.py", start_line=line, end_line=line),
        problem="p",
        scenario="s",
        impact="i",
        confidence=Confidence.HIGH,
        how_to_verify="v",
        fix="f",
        trade_off="t",
        evidence=[EvidenceLine(line=line, text="x")],
        checklist_items=list(items),
        source="rule" if rule_id else "model",
        rule_id=rule_id or f"rule-{n}",
    )
    finding.fingerprint = fingerprint(finding)
    return finding


def score_of(audit: str, findings: list[Finding], reviewed: bool = True) -> int:
    return rate(get_audit(audit), findings, reviewed).score  # type: ignore[arg-type]


@pytest.mark.parametrize("audit", AUDIT_IDS)
def test_no_issue_is_10_with_a_model_and_8_rules_only(audit: str) -> None:
    assert score_of(audit, []) == 10
    assert score_of(audit, [], reviewed=False) == 8
    # MONITOR only: 9, except where the rubric names the monitoring gap (guardrails 7-8)
    assert score_of(audit, [issue(audit, MON)]) == (8 if audit == "guardrails" else 9)


@pytest.mark.parametrize("audit", ["concurrency", "checkpoint"])
def test_integrity_rubrics_follow_their_band_texts(audit: str) -> None:
    # "Generally safe / mostly safe; 1-2 fixes": one or two issues that are not CRITICAL
    assert score_of(audit, [issue(audit, HIGH)]) == 8
    assert score_of(audit, [issue(audit, HIGH), issue(audit, MED, 1)]) == 7
    # one CRITICAL is a significant gap (5-6), not "multiple critical issues" (3-4)
    assert score_of(audit, [issue(audit, CRIT)]) == 6
    assert score_of(audit, [issue(audit, CRIT), issue(audit, MED, 1)]) == 5
    assert score_of(audit, [issue(audit, HIGH, n) for n in range(3)]) == 6
    # multiple critical issues: 3-4; three or more: do not deploy
    assert score_of(audit, [issue(audit, CRIT, n) for n in range(2)]) == 4
    assert score_of(audit, [issue(audit, CRIT, n) for n in range(3)]) == 2
    assert score_of(audit, [issue(audit, CRIT, n) for n in range(4)]) == 1


def test_sqlite_rubric_conditions_name_its_subjects() -> None:
    # "Synchronous sqlite3 in async context OR no busy timeout": 3-4, one HIGH issue is enough
    busy = issue("sqlite", HIGH, rule_id="sqlite-busy-timeout-missing", category="Connection")
    assert score_of("sqlite", [busy]) == 4
    blocking = issue("sqlite", HIGH, category="Async")
    assert score_of("sqlite", [blocking]) == 4
    # without concurrency the rule reports MEDIUM: no "high failure rate under concurrency"
    calm = issue("sqlite", MED, rule_id="sqlite-busy-timeout-missing", category="Connection")
    assert score_of("sqlite", [calm]) == 8
    # "WAL missing or misconfigured": 5-6 at any severity above MONITOR
    wal = issue("sqlite", MED, rule_id="sqlite-wal-not-enabled", category="WAL Config")
    assert score_of("sqlite", [wal]) == 6
    # any other HIGH: intermittent lock errors (5-6); two CRITICAL: < 3
    assert score_of("sqlite", [issue("sqlite", HIGH, category="Connection")]) == 6
    assert score_of("sqlite", [issue("sqlite", CRIT, n) for n in range(2)]) == 2


def test_reliability_counts_spread_across_resilience_patterns() -> None:
    one_high = [issue("reliability", HIGH, category="Timeout")]
    assert score_of("reliability", one_high) == 6
    same_kind = [issue("reliability", HIGH, n, category="Timeout") for n in range(3)]
    assert score_of("reliability", same_kind) == 5
    many_patterns = [
        issue("reliability", HIGH, n, category=c)
        for n, c in enumerate(["Timeout", "Retry", "Resource Leak"])
    ]
    assert score_of("reliability", many_patterns) == 4
    assert score_of("reliability", [issue("reliability", CRIT)]) == 4


def test_guardrails_monitoring_gaps_are_7_8() -> None:
    assert score_of("guardrails", [issue("guardrails", MON)]) == 8
    assert score_of("guardrails", [issue("guardrails", HIGH)]) == 6
    assert score_of("guardrails", [issue("guardrails", CRIT)]) == 4


def test_repeated_sites_of_one_pattern_are_one_issue() -> None:
    sites = [issue("concurrency", HIGH, rule_id="one-rule", line=n) for n in range(1, 9)]
    assert score_of("concurrency", sites) == 8  # one race with eight places, not eight
    distinct = [issue("concurrency", HIGH, n) for n in range(3)]
    assert score_of("concurrency", distinct) == 6


def test_a_finding_counts_at_its_severity_in_each_audit() -> None:
    """A torn JSON state file is CRITICAL for the checkpoint audit, and only MEDIUM in the
    SQLite audit, whose CRITICAL means "database is locked" errors."""
    rule = load_rules()["checkpoint-non-atomic-write"]
    assert rule.meta.audit_severity == {"sqlite": Severity.MEDIUM}
    base = issue("checkpoint", CRIT, rule_id="checkpoint-non-atomic-write")
    both = base.model_copy(
        update={
            "audits": ["checkpoint", "sqlite"],
            "categories": {"checkpoint": "Atomicity", "sqlite": "Checkpoint"},
            "severities": {"sqlite": MED},
        }
    )
    assert both.severity_in("sqlite") is MED and both.severity_in("checkpoint") is CRIT
    assert score_of("checkpoint", [both]) == 6
    assert score_of("sqlite", [both]) == 8
    sqlite = build_section(get_audit("sqlite"), [both], [], set(), True, files_audited=1)
    assert [a.severity for a in sqlite.fix_soon] == [MED] and not sqlite.fix_now


def test_merge_keeps_each_audits_own_severity() -> None:
    torn = issue("checkpoint", CRIT, rule_id="same", line=3)
    lite = issue("sqlite", MED, rule_id="same", line=3).model_copy(
        update={"categories": {"sqlite": "Checkpoint"}}
    )
    (merged,) = merge([torn, lite])
    assert merged.severity is CRIT
    assert merged.severity_in("sqlite") is MED and merged.severity_in("checkpoint") is CRIT


@pytest.mark.parametrize("audit", AUDIT_IDS)
def test_every_band_is_reachable_and_its_conditions_are_valid(audit: str) -> None:
    spec: AuditSpec = get_audit(audit)  # type: ignore[arg-type]
    rule_ids = set(load_rules())
    for band in spec.rubric:
        for condition in band.when:
            assert set(condition.rules) <= rule_ids, condition.rules
            found = [
                issue(audit, condition.severity, n, category=(condition.categories or [None])[0])
                for n in range(condition.issues)
            ]
            if condition.spread > 1:
                found = [
                    issue(audit, condition.severity, n, category=spec.categories[n])
                    for n in range(max(condition.issues, condition.spread))
                ]
            got = score_of(audit, found)
            assert band.min <= got <= band.max or got < band.min, (band, condition, got)


def test_a_rules_only_top_band_says_why_it_is_8() -> None:
    section = build_section(get_audit("concurrency"), [], [], set(), False, files_audited=3)
    assert section.score == 8
    assert section.rubric_band.startswith("8 (9-10 unconfirmed)")
    assert any("rules-only run scores 8" in line for line in section.justification)
