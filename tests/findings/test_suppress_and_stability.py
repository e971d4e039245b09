"""Suppressions (inline and baseline) and fingerprints that survive unrelated edits."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import repo_from
from tests.test_cli import vibe
from vibe_audit.agent import run_audit
from vibe_audit.errors import UserError
from vibe_audit.findings.suppress import read_baseline
from vibe_audit.findings.verify import ScopedFinding, verify
from vibe_audit.rules.engine import run_rules
from vibe_audit.schemas import AUDIT_IDS, EvidenceLine, RunRequest

APP = """import json
import requests


STATE = "state.json"


def save(data):
    with open(STATE, "w") as f:
        json.dump(data, f)


def load():
    try:
        with open(STATE) as f:
            return json.load(f)
    except ValueError:
        return {}


def fetch(url):
    return requests.get(url)
"""


def _fingerprints(root: Path) -> dict[str, tuple[str, int]]:
    findings = run_rules(repo_from(root), list(AUDIT_IDS))
    return {f.fingerprint: (f.rule_id or "", f.location.start_line) for f in findings}


def test_fingerprints_survive_lines_inserted_above(write_tree) -> None:
    before = _fingerprints(write_tree({"app.py": APP}))
    shifted = APP.replace("import requests\n", "import requests\n\nTIMEOUT = 5\nRETRIES = 3\n")
    after = _fingerprints(write_tree({"app.py": shifted}))
    assert len(before) == 2
    assert set(before) == set(after)
    assert all(after[fp][1] == line + 3 for fp, (_, line) in before.items())


def test_inline_ignore_by_rule_id_fingerprint_or_bare(write_tree) -> None:
    fingerprints = _fingerprints(write_tree({"app.py": APP}))
    timeout_fp = next(fp for fp, (rule, _) in fingerprints.items() if rule.startswith("http"))
    cases = {
        "rule id on the line": APP.replace(
            "requests.get(url)",
            "requests.get(url)  # vibe-audit: ignore[http-call-without-timeout]",
        ),
        "fingerprint on the line above": APP.replace(
            "    return requests.get(url)",
            f"    # vibe-audit: ignore[{timeout_fp}]\n    return requests.get(url)",
        ),
        "bare ignore": APP.replace("requests.get(url)", "requests.get(url)  # vibe-audit: ignore"),
    }
    for name, text in cases.items():
        root = write_tree({"app.py": text})
        report = run_audit(RunRequest(target=str(root), audits=list(AUDIT_IDS)))
        rules = {f.rule_id for f in report.findings}
        assert rules == {"checkpoint-non-atomic-write"}, name
        assert report.stats.suppressed == {"inline": 1, "baseline": 0}, name
    other = APP.replace("requests.get(url)", "requests.get(url)  # vibe-audit: ignore[other-rule]")
    report = run_audit(
        RunRequest(target=str(write_tree({"app.py": other})), audits=list(AUDIT_IDS))
    )
    assert len(report.findings) == 2


def test_baseline_written_then_applied(write_tree, tmp_path: Path) -> None:
    root = write_tree({"src/app.py": APP}) / "src"
    baseline = tmp_path / "baseline.json"
    first = vibe("run", str(root), "--format", "json", "--write-baseline", str(baseline))
    assert first.returncode == 0, first.stderr
    assert len(json.loads(first.stdout)["findings"]) == 2
    assert len(read_baseline(baseline)) == 2
    (root / "more.py").write_text("import requests\n\ndef ping(u):\n    return requests.head(u)\n")
    second = vibe("run", str(root), "--format", "json", "--baseline", str(baseline))
    report = json.loads(second.stdout)
    assert [f["location"]["path"] for f in report["findings"]] == ["more.py"]
    assert report["stats"]["suppressed"] == {"inline": 0, "baseline": 2}


def test_a_bad_baseline_file_is_a_usage_error(tmp_path: Path) -> None:
    bad = tmp_path / "baseline.json"
    bad.write_text("{not json")
    with pytest.raises(UserError, match="not a vibe-audit baseline file"):
        read_baseline(bad)
    result = vibe("run", str(tmp_path), "--baseline", str(tmp_path / "missing.json"))
    assert result.returncode == 2


def test_evidence_found_elsewhere_in_the_chunk_moves_the_finding(write_tree) -> None:
    findings = run_rules(repo_from(write_tree({"app.py": APP})), ["reliability"])
    timeout = next(f for f in findings if f.rule_id == "http-call-without-timeout")
    lines = APP.splitlines()
    wrong = timeout.model_copy(
        update={
            "location": timeout.location.model_copy(update={"start_line": 2, "end_line": 2}),
            "evidence": [EvidenceLine(line=2, text=timeout.evidence[0].text)],
        }
    )
    (moved,), dropped = verify([ScopedFinding(wrong, (1, len(lines)))], {"app.py": lines})
    assert dropped == {}
    at = lines.index("    return requests.get(url)") + 1
    assert moved.location.start_line == timeout.location.start_line == at
    (_, dropped) = verify([ScopedFinding(wrong, (1, 9))], {"app.py": lines})
    assert dropped == {"evidence does not match source": 1}  # not inside that chunk
    (_, dropped) = verify([ScopedFinding(wrong, (5, 7))], {"app.py": lines})
    assert dropped == {"line range outside chunk": 1}
