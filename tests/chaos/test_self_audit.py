"""vibe-audit must pass its own audits."""

from __future__ import annotations

import json

from tests.conftest import ROOT
from tests.test_cli import vibe


def test_own_repository_has_no_critical_or_high_finding() -> None:
    # .vibe-audit.toml excludes examples/ and the rule fixtures: defective on purpose.
    result = vibe("run", str(ROOT), "--prompt", "all", "--format", "json", "--quiet")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["stats"]["files_audited"] > 100
    severe = [
        f"{f['severity']} {f['rule_id']} {f['location']['path']}:{f['location']['start_line']}"
        for f in report["findings"]
        if f["severity"] in ("CRITICAL", "HIGH")
    ]
    assert severe == []
