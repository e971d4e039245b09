"""Severity from evidence: CRITICAL and HIGH only where the code shows concurrency or state
read back; each such finding says why it got its severity; --rules experimental."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import repo_from
from tests.rules.test_rule_fixtures import FIXTURES
from tests.test_cli import vibe
from vibe_audit.rules.engine import load_rules, rules_for, run_rules
from vibe_audit.schemas import AUDIT_IDS, Finding, Severity

STATE = """import json
{imports}
STATE = "state/progress.json"


def save(progress):
    with open(STATE, "w") as f:
        json.dump(progress, f)


def resume():
    try:
        with open(STATE) as f:
            return json.load(f)
    except ValueError:
        return {{}}
"""


FRAGILE = STATE.replace(
    "    try:\n        with open(STATE) as f:\n            return json.load(f)\n"
    "    except ValueError:\n        return {{}}\n",
    "    with open(STATE) as f:\n        return json.load(f)\n",
)


def _findings(write_tree, files: dict[str, str], rule_id: str) -> list[Finding]:
    root = write_tree(files)
    return run_rules(repo_from(root), list(AUDIT_IDS), [load_rules()[rule_id]])


def test_state_resumed_unguarded_under_concurrency_is_critical_and_says_why(write_tree) -> None:
    assert FRAGILE != STATE
    (finding,) = _findings(
        write_tree, {"app.py": FRAGILE.format(imports="import threading\n")},
        "checkpoint-non-atomic-write",
    )  # fmt: skip
    assert finding.severity is Severity.CRITICAL
    assert finding.severity_reason is not None
    assert "resume()" in finding.severity_reason and "threading" in finding.severity_reason
    assert "cannot recover" in finding.severity_reason


def test_state_whose_readers_recover_is_medium_even_under_concurrency(write_tree) -> None:
    (finding,) = _findings(
        write_tree, {"app.py": STATE.format(imports="import threading\n")},
        "checkpoint-non-atomic-write",
    )  # fmt: skip
    assert finding.severity is Severity.MEDIUM
    assert "handles a corrupt file" in (finding.severity_reason or "")


def test_state_resumed_unguarded_without_concurrency_is_high(write_tree) -> None:
    (finding,) = _findings(
        write_tree, {"app.py": FRAGILE.format(imports="")}, "checkpoint-non-atomic-write"
    )
    assert finding.severity is Severity.HIGH
    assert "no concurrency" in (finding.severity_reason or "")


def test_a_file_a_cli_writes_once_per_command_is_at_most_medium(write_tree) -> None:
    """Even with asyncio elsewhere in the module: a click command writes it once."""
    (finding,) = _findings(
        write_tree, {"cli.py": STATE.format(imports="import asyncio\nimport click\n")},
        "checkpoint-non-atomic-write",
    )  # fmt: skip
    assert finding.severity is Severity.MEDIUM
    assert "command-line tool (click)" in (finding.severity_reason or "")


def test_concurrency_of_a_module_that_imports_it_counts(write_tree) -> None:
    files = {
        "app/state.py": FRAGILE.format(imports=""),
        "app/server.py": "import fastapi\nfrom app.state import save\n",
    }
    (finding,) = _findings(write_tree, files, "checkpoint-non-atomic-write")
    assert finding.severity is Severity.CRITICAL
    assert "app/server.py" in (finding.severity_reason or "")
    assert "imports app/state.py" in (finding.severity_reason or "")


def test_a_thread_elsewhere_is_not_evidence_even_if_it_imports_the_code(write_tree) -> None:
    """Only a server or worker framework importing the module shows that its handlers call
    into it; a module that merely imports threading and this code proves nothing."""
    files = {
        "app/state.py": FRAGILE.format(imports=""),
        "app/pinger.py": "import threading\n",
        "app/export.py": "import threading\nfrom app.state import save\n",
    }
    (finding,) = _findings(write_tree, files, "checkpoint-non-atomic-write")
    assert finding.severity is Severity.HIGH
    assert "no concurrency" in (finding.severity_reason or "")


def test_wal_missing_is_medium_without_concurrency_and_high_with_it(write_tree) -> None:
    app = 'import sqlite3\n\n\ndef connect():\n    return sqlite3.connect("app.db")\n'
    (quiet,) = _findings(write_tree, {"db.py": app}, "sqlite-wal-not-enabled")
    assert quiet.severity is Severity.MEDIUM
    assert "no threads" in (quiet.severity_reason or "")
    (busy,) = _findings(
        write_tree,
        {"db.py": app, "worker.py": "import celery\nimport db\n"},
        "sqlite-wal-not-enabled",
    )
    assert busy.severity is Severity.HIGH
    assert "worker.py" in (busy.severity_reason or "")


def test_a_race_needs_concurrency_to_be_high(write_tree) -> None:
    """status-check-then-act (needs_concurrency): MEDIUM alone, HIGH beside a server."""
    bad = (FIXTURES / "status-check-then-act" / "bad.py").read_text()
    alone = _findings(write_tree, {"app.py": bad}, "status-check-then-act")
    assert alone and {f.severity for f in alone} == {Severity.MEDIUM}
    assert all("no threads" in (f.severity_reason or "") for f in alone)
    served = _findings(
        write_tree,
        {"app.py": bad, "main.py": "import fastapi\nfrom app import retry\n"},
        "status-check-then-act",
    )
    assert {f.severity for f in served} == {Severity.HIGH}
    assert all("FastAPI" in (f.severity_reason or "") for f in served)


def test_experimental_rules_run_only_when_asked() -> None:
    stable = {r.meta.id for r in rules_for(list(AUDIT_IDS))}
    everything = {r.meta.id for r in rules_for(list(AUDIT_IDS), rule_set="experimental")}
    experimental = {r.meta.id for r in load_rules().values() if r.meta.experimental}
    assert experimental and not experimental & stable
    assert everything == stable | experimental


def test_run_with_rules_experimental_reports_them(write_tree) -> None:
    code = "def f():\n    try:\n        g()\n    except Exception:\n        pass\n"
    root = write_tree({"app.py": code})
    default = json.loads(vibe("run", str(root), "--format", "json", "--quiet").stdout)
    assert not [f for f in default["findings"] if f["rule_id"] == "broad-except-pass"]
    wider = vibe("run", str(root), "--format", "json", "--quiet", "--rules", "experimental")
    assert [f["rule_id"] for f in json.loads(wider.stdout)["findings"]] == ["broad-except-pass"]


def test_an_unknown_rule_set_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text("x = 1\n")
    result = vibe("run", str(tmp_path), "--rules", "everything")
    assert result.returncode == 2
    assert "--rules everything: expected 'stable' or 'experimental'" in result.stderr


def test_rules_list_shows_measured_precision_and_the_experimental_mark() -> None:
    result = vibe("rules", "list")
    lines = {line.split()[0]: line for line in result.stdout.splitlines() if line.strip()}
    assert "100% (" in lines["checkpoint-non-atomic-write"]
    assert "[experimental: --rules experimental]" in lines["broad-except-pass"]
    assert "0% (0/" in lines["broad-except-pass"]
    assert "no findings" in lines["sqlite-synchronous-off"]
