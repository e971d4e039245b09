from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import EXAMPLE_APP
from tests.test_cli import one_line_error, vibe
from vibe_audit.agent import ModelOptions, run_audit
from vibe_audit.agent.config import BACKOFF_ENV, FileConfig, load_config, retry_backoff
from vibe_audit.agent.providers import ProviderSettings
from vibe_audit.agent.runner import RunnerSettings
from vibe_audit.commands.run import model_options
from vibe_audit.errors import EXIT_USAGE, UserError
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


def test_retry_backoff_from_config_then_environment(tmp_path: Path) -> None:
    def runner(env: dict[str, str]) -> RunnerSettings:
        with pytest.MonkeyPatch.context() as patch:
            patch.delenv(BACKOFF_ENV, raising=False)
            for key, value in env.items():
                patch.setenv(key, value)
            _, options, _ = model_options(tmp_path, audits=["sqlite"], say=lambda _m: None)
        return options.runner

    defaults = RunnerSettings()
    assert (runner({}).backoff_base_s, runner({}).backoff_max_s) == (1.0, 30.0)
    assert runner({}) == defaults
    assert runner({BACKOFF_ENV: "0.01"}).backoff_base_s == 0.01
    (tmp_path / ".vibe-audit.toml").write_text("retry_backoff = 0.5\nretry_backoff_max = 2\n")
    from_config = runner({BACKOFF_ENV: "0.01"})  # the config wins over the environment
    assert (from_config.backoff_base_s, from_config.backoff_max_s) == (0.5, 2.0)
    (tmp_path / ".vibe-audit.toml").write_text("retry_backoff = -1\n")
    with pytest.raises(UserError, match="retry_backoff"):
        runner({})
    (tmp_path / ".vibe-audit.toml").unlink()
    for bad in ("soon", "-1", "nan", "inf"):
        assert retry_backoff(FileConfig(), {BACKOFF_ENV: "0"}) == (0.0, None)
        with pytest.raises(UserError, match=f"\\${BACKOFF_ENV}={bad}: expected seconds"):
            retry_backoff(FileConfig(), {BACKOFF_ENV: bad})
    bad_env = vibe("run", str(tmp_path), env={BACKOFF_ENV: "soon"})
    assert bad_env.returncode == EXIT_USAGE
    assert f"${BACKOFF_ENV}=soon" in one_line_error(bad_env.stderr)


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
