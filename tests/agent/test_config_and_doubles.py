from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import EXAMPLE_APP
from tests.test_cli import one_line_error, vibe
from vibe_audit.agent import ModelOptions, run_audit
from vibe_audit.agent.config import load_config
from vibe_audit.agent.providers import ProviderSettings
from vibe_audit.agent.runner import RunnerSettings
from vibe_audit.errors import UserError
from vibe_audit.schemas import Report, RunRequest


def test_config_from_pyproject_and_dotfile(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[tool.vibe-audit]\nmodel = "ollama:qwen2.5-coder:14b"\nconcurrency = 3\n'
        '[tool.vibe-audit.pricing."openai:my-model"]\ninput = 1.0\noutput = 2.0\n'
    )
    config = load_config(tmp_path)
    assert config.model == "ollama:qwen2.5-coder:14b" and config.concurrency == 3
    assert config.pricing["openai:my-model"].output == 2.0
    (tmp_path / ".vibe-audit.toml").write_text('model = "static"\n')
    assert load_config(tmp_path).model == "static"  # the dotfile wins
    (tmp_path / ".vibe-audit.toml").write_text("concurrency = 0\n")
    with pytest.raises(UserError, match="concurrency"):
        load_config(tmp_path)


def test_flag_beats_config_beats_environment(tmp_path: Path) -> None:
    (tmp_path / "app.py").write_text("x = 1\n")
    (tmp_path / ".vibe-audit.toml").write_text('model = "gemini:from-config"\n')
    from_config = vibe("run", str(tmp_path), env={"VIBE_AUDIT_MODEL": "gemini:from-env"})
    assert "unknown model 'gemini:from-config'" in one_line_error(from_config.stderr)
    from_flag = vibe("run", str(tmp_path), "--model", "static", env={"VIBE_AUDIT_MODEL": "x:y"})
    assert from_flag.returncode == 0
    (tmp_path / ".vibe-audit.toml").unlink()
    from_env = vibe("run", str(tmp_path), env={"VIBE_AUDIT_MODEL": "gemini:from-env"})
    assert "unknown model 'gemini:from-env'" in one_line_error(from_env.stderr)


def test_oracle_test_double_answers_from_labels(tmp_path: Path) -> None:
    labels = [
        {"audit": "concurrency", "path": "app/main.py", "line": 52, "severity": "CRITICAL",
         "category": "Race Condition", "checklist_items": ["concurrency.3A"],
         "title": "Status check-then-act without a guard in the WHERE clause"},
    ]  # fmt: skip
    path = tmp_path / "labels.json"
    path.write_text(json.dumps(labels))  # vibe-audit: ignore[checkpoint-non-atomic-write]
    spec = f"oracle-test-double:{path}"
    options = ModelOptions(ProviderSettings(spec=spec), RunnerSettings(), None, {})
    report = run_audit(
        RunRequest(target=str(EXAMPLE_APP), audits=["concurrency"], model=spec), model=options
    )
    assert isinstance(report, Report)
    assert report.stats.provider == "oracle-test-double"
    (race,) = [f for f in report.findings if f.source == "model"]
    assert (race.location.path, race.location.start_line) == ("app/main.py", 52)
    assert "UPDATE documents SET status = 'pending'" in race.evidence[0].text
