from __future__ import annotations

import pytest

from tests.conftest import EXAMPLE_APP
from vibe_audit.agent import run_audit
from vibe_audit.chunker import tokens
from vibe_audit.schemas import AUDIT_IDS, Report, RunRequest


@pytest.fixture
def fixed_report(monkeypatch: pytest.MonkeyPatch) -> Report:
    """The example app's report with everything machine-specific pinned."""
    monkeypatch.setenv("VIBE_AUDIT_TOKENS", "estimate")
    tokens._encoder.cache_clear()
    ticks = iter([100.0, 101.25])
    report = run_audit(
        RunRequest(target=str(EXAMPLE_APP), audits=list(AUDIT_IDS)), clock=lambda: next(ticks)
    )
    tokens._encoder.cache_clear()
    stats = report.stats.model_copy(update={"root": "examples/docstore", "discovery": "git"})
    return report.model_copy(update={"stats": stats})
