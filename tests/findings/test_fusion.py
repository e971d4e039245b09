"""Fusion: the findings of one defect (a rule's and a model's, or two audits' model findings)
become one finding with every source, audit and checklist item, whatever order they come in;
findings of different defects stay apart."""

from __future__ import annotations

import random

from tests.conftest import EXAMPLE_APP, repo_from
from vibe_audit.findings.fingerprint import fingerprint
from vibe_audit.findings.merge import groups, merge
from vibe_audit.rules.engine import run_rules
from vibe_audit.schemas import AUDIT_IDS, Confidence, EvidenceLine, Finding, Location, Severity

LINE = "    r = requests.get(url)"


def make(
    audit: str = "reliability",
    *,
    line: int = 10,
    end: int | None = None,
    category: str = "Timeout",
    items: tuple[str, ...] = ("reliability.1.1",),
    severity: Severity = Severity.HIGH,
    rule_id: str | None = None,
    title: str = "HTTP call without a timeout",
    path: str = "app/client.py",
    text: str = LINE,
) -> Finding:
    made = Finding(
        id="", fingerprint="", audits=[audit], severity=severity,  # type: ignore[list-item]
        categories={audit: category}, title=title,  # type: ignore[dict-item]
        location=Location(path=path, start_line=line, end_line=end or line, symbol="fetch"),
        problem=f"problem from {rule_id or 'the model'}", scenario="s", impact="i",
        confidence=Confidence.HIGH, how_to_verify="v", fix="f", trade_off="t",
        evidence=[EvidenceLine(line=line, text=text)], checklist_items=list(items),
        source="rule" if rule_id else "model", rule_id=rule_id,
        model=None if rule_id else "scripted-test-double:script",
    )  # fmt: skip
    made.fingerprint = fingerprint(made)
    return made


def test_a_rule_finding_and_the_models_finding_of_its_defect_fuse() -> None:
    rule = make(rule_id="http-call-without-timeout", items=("reliability.1.1", "reliability.8.1"))
    model = make(severity=Severity.CRITICAL, items=("reliability.2.3",), title="No timeout")
    (fused,) = merge([model, rule])
    assert fused.sources == ["rule", "model"]
    assert fused.rule_id == "http-call-without-timeout"
    assert fused.problem == "problem from http-call-without-timeout"  # the rule's exact text
    assert fused.model == "scripted-test-double:script"
    assert fused.severity is Severity.CRITICAL  # the highest of the two
    assert fused.checklist_items == ["reliability.1.1", "reliability.2.3", "reliability.8.1"]
    assert fused.fingerprint == rule.fingerprint  # a baseline of the rule finding still holds


def test_rule_and_model_fuse_on_a_shared_item_or_category_only() -> None:
    rule = make(rule_id="http-call-without-timeout")
    other_defect = make(category="Retry", items=("reliability.3.1",), title="Retry storm")
    assert len(merge([rule, other_defect])) == 2
    same_item = make(category="Retry", title="Retry storm")  # shares reliability.1.1
    assert len(merge([rule, same_item])) == 1
    far = make(line=30, text="    other()")
    assert len(merge([rule, far])) == 2  # not near: another place


def test_two_audits_model_findings_of_one_defect_fuse_with_each_audits_view() -> None:
    rel = make(severity=Severity.MEDIUM)
    conc = make(
        "concurrency", category="Distributed State", items=("concurrency.6A",),
        severity=Severity.HIGH, title="HTTP call without timeout",
    )  # fmt: skip
    (fused,) = merge([rel, conc])
    assert fused.audits == ["concurrency", "reliability"]
    assert fused.categories == {"concurrency": "Distributed State", "reliability": "Timeout"}
    assert fused.severity is Severity.HIGH
    assert fused.severity_in("reliability") is Severity.MEDIUM
    assert fused.severity_in("concurrency") is Severity.HIGH
    assert fused.checklist_items == ["concurrency.6A", "reliability.1.1"]
    assert fused.sources == ["model"]


def test_different_rules_and_one_audits_different_categories_never_fuse() -> None:
    timeout = make(rule_id="http-call-without-timeout")
    retry = make(rule_id="retry-without-backoff", category="Retry")
    model = make(items=("reliability.1.1", "reliability.3.1"))  # links to both rules
    fused = merge([timeout, retry, model])
    assert len(fused) == 2  # the model joins one rule; the two rules stay apart
    assert {f.rule_id for f in fused} == {"http-call-without-timeout", "retry-without-backoff"}
    one = make(category="Timeout", title="HTTP call without timeout")
    two = make(category="Resource Leak", title="HTTP call without close")
    bridge = make(
        "concurrency",
        category="SQLite",
        items=("concurrency.1A",),
        title="HTTP call without timeout or close",
    )  # fmt: skip (its title is like both: it would bridge them)
    assert len(merge([one, two, bridge])) == 2  # one audit, two categories: two defects


def _realistic() -> list[Finding]:
    """The example app's rule findings, a model finding on each (some lines off, other
    audits, other titles) and unrelated model findings."""
    rules = run_rules(repo_from(EXAMPLE_APP), list(AUDIT_IDS))
    out = list(rules)
    for n, rule in enumerate(rules):
        audit = rule.audits[n % len(rule.audits)]
        evidence = rule.evidence[0]
        twin = rule.model_copy(
            update={
                "rule_id": None, "source": "model", "sources": ["model"], "model": "m",
                "audits": [audit], "categories": {audit: rule.categories[audit]},
                "severities": {}, "title": f"Model view {n}", "problem": f"model {n}",
                "checklist_items": [i for i in rule.checklist_items if i.startswith(audit)],
                "location": rule.location.model_copy(
                    update={"start_line": evidence.line, "end_line": evidence.line + n % 3}
                ),
            }
        )  # fmt: skip
        twin.fingerprint = fingerprint(twin)
        again = twin.model_copy(update={"title": f"Model view {n}, again", "problem": "again"})
        out += [twin, again]  # the same defect twice: which text is kept must not depend on order
        out.append(
            make(line=1000 + n, title=f"Unrelated {n}", text=f"x{n}()", path=rule.location.path)
        )
    return out


def test_merge_is_independent_of_the_order_findings_arrive_in() -> None:
    findings = _realistic()
    expected = [f.model_dump_json() for f in merge(findings)]
    assert len(expected) < len(findings)  # there was something to fuse
    rng = random.Random(20)
    for _ in range(25):
        shuffled = findings[:]
        rng.shuffle(shuffled)
        assert [f.model_dump_json() for f in merge(shuffled)] == expected
    sizes = sorted(len(g) for g in groups(findings))
    assert sizes == sorted(len(g) for g in groups(list(reversed(findings))))


def test_every_rule_finding_of_the_example_app_keeps_one_fused_finding() -> None:
    findings = _realistic()
    rule_ids = [f.rule_id for f in findings if f.rule_id]
    merged = merge(findings)
    fused = [f for f in merged if f.rule_id]
    # each rule defect once, with its model twin fused in (no rule/model pair left)
    assert len(fused) == len(merge([f for f in findings if f.rule_id]))
    assert all(f.sources == ["rule", "model"] for f in fused)
    assert not [f for f in merged if f.title.startswith("Model view")]
    assert len(rule_ids) >= 10
