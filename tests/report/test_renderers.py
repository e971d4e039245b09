"""Snapshots of the markdown and HTML reports; SARIF against the official 2.1.0 schema."""

from __future__ import annotations

import json
import os
import re
from collections import Counter
from pathlib import Path

import jsonschema
import pytest

from tests.conftest import ROOT
from vibe_audit.report import render_html, render_markdown, render_sarif
from vibe_audit.report.groups import group_findings
from vibe_audit.report.sarif import FINGERPRINT_KEY, BaselineState
from vibe_audit.report.terminal import render_summary
from vibe_audit.schemas import Report

SNAPSHOTS = Path(__file__).parent / "snapshots"
SARIF_SCHEMA = ROOT.parent / "shared" / "data" / "sarif-schema-2.1.0.json"


def _snapshot(name: str, text: str) -> None:
    path = SNAPSHOTS / name
    if os.environ.get("VIBE_AUDIT_UPDATE_SNAPSHOTS"):
        SNAPSHOTS.mkdir(exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert text == path.read_text(encoding="utf-8")


def test_markdown_snapshot(fixed_report: Report) -> None:
    _snapshot("docstore.md", render_markdown(fixed_report))


def test_html_snapshot(fixed_report: Report) -> None:
    html = render_html(fixed_report)
    _snapshot("docstore.html", html)
    assert html.count('class="finding ') == len(group_findings(fixed_report.findings))
    assert "<script src" not in html and "<link " not in html  # self-contained


def test_html_escapes_report_text(fixed_report: Report) -> None:
    evil = fixed_report.findings[0].model_copy(update={"title": "<script>alert(1)</script>"})
    findings = [evil, *fixed_report.findings[1:]]
    html = render_html(fixed_report.model_copy(update={"findings": findings}))
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


@pytest.mark.skipif(
    not SARIF_SCHEMA.is_file(),
    reason=f"SARIF schema not found at {SARIF_SCHEMA} (../shared absent)",
)
def test_sarif_validates_against_the_official_schema(fixed_report: Report) -> None:
    schema = json.loads(SARIF_SCHEMA.read_text(encoding="utf-8"))
    sarif = json.loads(render_sarif(fixed_report))
    jsonschema.validate(sarif, schema)
    (run,) = sarif["runs"]
    assert len(run["results"]) == len(fixed_report.findings)
    rule_ids = [r["id"] for r in run["tool"]["driver"]["rules"]]
    fired = {f.rule_id for f in fixed_report.findings}
    assert len(rule_ids) == len(set(rule_ids)) == len(fired) >= 7
    first = run["results"][0]
    assert first["level"] == "error"
    assert first["partialFingerprints"][FINGERPRINT_KEY] == fixed_report.findings[0].fingerprint
    assert rule_ids[first["ruleIndex"]] == first["ruleId"]
    assert run["tool"]["driver"]["rules"][first["ruleIndex"]]["help"]["text"].startswith(
        "JSON state written in place"
    )
    broken = dict(sarif, version="3.0")
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, schema)
    # A verified patch is a SARIF fix: whole-line replacements of the finding's file.
    patched = [r for r in run["results"] if "fixes" in r]
    offered = [f for f in fixed_report.findings if f.patch is not None and f.patch.proposed]
    assert len(patched) == len(offered) >= 1
    timeout = next(r for r in patched if r["ruleId"] == "http-call-without-timeout")
    (change,) = timeout["fixes"][0]["artifactChanges"]
    (replacement,) = change["replacements"]
    where = timeout["locations"][0]["physicalLocation"]
    assert change["artifactLocation"]["uri"] == where["artifactLocation"]["uri"]
    assert replacement["deletedRegion"]["startLine"] == where["region"]["startLine"]
    assert "timeout=(3.05, 30)" in replacement["insertedContent"]["text"]
    assert timeout["fixes"][0]["description"]["text"].startswith("safe, proposed: ")


@pytest.mark.skipif(
    not SARIF_SCHEMA.is_file(),
    reason=f"SARIF schema not found at {SARIF_SCHEMA} (../shared absent)",
)
def test_sarif_baseline_state_is_on_every_result_or_none(fixed_report: Report) -> None:
    """A review's SARIF: each result's baselineState (new / updated / unchanged) from the
    map it is given, valid against the schema; a map missing a finding is refused, because
    the spec wants the state on all results of a run or on none."""
    schema = json.loads(SARIF_SCHEMA.read_text(encoding="utf-8"))
    findings = fixed_report.findings
    states: list[BaselineState] = ["new", "updated", "unchanged"]
    baseline = {f.fingerprint: states[i % 3] for i, f in enumerate(findings)}
    sarif = json.loads(render_sarif(fixed_report, baseline=baseline))
    jsonschema.validate(sarif, schema)
    results = sarif["runs"][0]["results"]
    assert [r["baselineState"] for r in results] == [baseline[f.fingerprint] for f in findings]
    plain = json.loads(render_sarif(fixed_report))
    assert not any("baselineState" in r for r in plain["runs"][0]["results"])
    with pytest.raises(ValueError, match="no baselineState"):
        render_sarif(fixed_report, baseline={findings[0].fingerprint: "new"})
    wrong = json.loads(json.dumps(sarif))
    wrong["runs"][0]["results"][0]["baselineState"] = "changed"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(wrong, schema)


def test_terminal_summary(fixed_report: Report) -> None:
    text = render_summary(fixed_report)
    counts = Counter(f.severity.value for f in fixed_report.findings)
    by_severity = ", ".join(f"{counts[s]} {s}" for s in ("CRITICAL", "HIGH", "MEDIUM") if counts[s])
    groups = group_findings(fixed_report.findings)
    assert len(groups) < len(fixed_report.findings)  # repeated sites of one pattern
    assert text.splitlines()[0] == (
        f"6 file(s) audited, 2 skipped; {len(fixed_report.findings)} finding(s): {by_severity}"
        f" at {len(groups)} distinct issue(s)"
    )
    shown = sum(1 for line in text.splitlines() if re.match(r"  F\d+ ", line))
    assert shown == 5
    assert "sqlite 3/10" in text
    assert f"... {len(groups) - shown} more issue(s) in the report" in text
