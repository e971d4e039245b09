"""The command line: output, and each documented exit code (README "Exit codes")."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

from tests.conftest import EXAMPLE_APP
from vibe_audit.agent.config import BACKOFF_ENV
from vibe_audit.cli import cli
from vibe_audit.commands import run as run_module
from vibe_audit.errors import EXIT_CLEAN, EXIT_FINDINGS, EXIT_RUN, EXIT_USAGE

# A failing fake server is retried with backoff: 10 ms before the first retry, not 1 s, so the
# tests of exit 3 (--strict) and exit 4 (--require-coverage) do not spend their time sleeping.
FAST_RETRIES = {BACKOFF_ENV: "0.01"}


def vibe(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    secret = ("OPENAI_API_KEY", "ANTHROPIC_API_KEY")
    full_env = {
        k: v for k, v in os.environ.items() if not k.startswith("VIBE_AUDIT") and k not in secret
    }
    full_env.update(FAST_RETRIES)
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "vibe_audit", *args],
        capture_output=True,
        text=True,
        env=full_env,
        timeout=120,
        check=False,
    )


ERROR_LINE = re.compile(r"vibe-audit: (internal )?error")


def one_line_error(stderr: str) -> str:
    errors = [
        line for line in stderr.splitlines() if re.match(r"vibe-audit: (internal )?error", line)
    ]
    assert len(errors) == 1, stderr
    assert "Traceback" not in stderr
    return errors[0]


def test_main_job_prints_a_markdown_report_with_findings_and_says_no_model() -> None:
    result = vibe("run", str(EXAMPLE_APP), "--prompt", "all")
    assert result.returncode == EXIT_CLEAN, result.stderr
    assert "no model configured; using the built-in rule engine" in result.stderr
    out = result.stdout
    assert out.startswith("# vibe-audit report\n")
    assert "[SEVERITY: CRITICAL; sqlite: MEDIUM] Checkpoint JSON written in place" in out
    assert "[SEVERITY: HIGH; concurrency: MEDIUM] SQLite used without WAL journal mode" in out
    for title in (
        "Data Integrity & Concurrency Audit",
        "Checkpoint & State Integrity Audit",
        "SQLite Concurrency & WAL Audit",
        "Reliability & Resilience Audit",
        "Database Guardrails for Concurrent Processing",
    ):
        assert f"## {title}: " in out


def test_json_report_validates_against_the_printed_schema() -> None:
    schema = json.loads(vibe("schema").stdout)
    result = vibe("run", str(EXAMPLE_APP), "--prompt", "all", "--format", "json")
    assert result.returncode == EXIT_CLEAN, result.stderr
    report = json.loads(result.stdout)
    jsonschema.validate(report, schema)
    assert report["findings"], "the example app has defects"
    assert {s["audit"] for s in report["sections"]} == {
        "concurrency", "checkpoint", "sqlite", "reliability", "guardrails",
    }  # fmt: skip
    broken = dict(report, findings=[dict(report["findings"][0], severity="SEVERE")])
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, schema)


def test_unknown_prompt_exits_2_with_one_line() -> None:
    result = vibe("run", ".", "--prompt", "nosuch")
    assert result.returncode == EXIT_USAGE
    assert "unknown prompt id 'nosuch'" in one_line_error(result.stderr)
    assert result.stdout == ""


def test_missing_path_exits_2_with_one_line(tmp_path: Path) -> None:
    result = vibe("run", str(tmp_path / "missing"))
    assert result.returncode == EXIT_USAGE
    assert "path not found" in one_line_error(result.stderr)


def test_bad_option_value_exits_2_with_one_line() -> None:
    result = vibe("run", ".", "--format", "xml")
    assert result.returncode == EXIT_USAGE
    assert "--format" in one_line_error(result.stderr)


def test_out_into_missing_folder_exits_2_before_doing_work(tmp_path: Path) -> None:
    result = vibe("run", str(EXAMPLE_APP), "--out", str(tmp_path / "no" / "report.md"))
    assert result.returncode == EXIT_USAGE
    assert "--out" in one_line_error(result.stderr)
    assert "found" not in result.stderr  # failed before discovery


def test_fail_on_exits_1_when_a_finding_is_at_or_above(tmp_path: Path) -> None:
    assert vibe("run", str(EXAMPLE_APP), "--fail-on", "high").returncode == EXIT_FINDINGS
    (tmp_path / "clean.py").write_text("def add(a, b):\n    return a + b\n")
    assert vibe("run", str(tmp_path), "--fail-on", "MONITOR").returncode == EXIT_CLEAN


def test_out_writes_the_report_file(tmp_path: Path) -> None:
    out = tmp_path / "report.json"
    result = vibe("run", str(EXAMPLE_APP), "--format", "json", "--out", str(out))
    assert result.returncode == EXIT_CLEAN
    assert result.stdout == ""
    assert json.loads(out.read_text())["schema_version"] == "1.3"
    assert [p.name for p in tmp_path.iterdir()] == ["report.json"]  # no temp file left


def test_internal_failure_exits_3_with_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def explode(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("tree-sitter\nexploded")

    monkeypatch.delenv("VIBE_AUDIT_RAISE_ERRORS", raising=False)
    monkeypatch.setattr(run_module, "run_audit", explode)
    assert cli(["run", str(EXAMPLE_APP)]) == EXIT_RUN
    line = one_line_error(capsys.readouterr().err)
    assert "internal error: RuntimeError: tree-sitter exploded" in line
    monkeypatch.setenv("VIBE_AUDIT_RAISE_ERRORS", "1")
    with pytest.raises(RuntimeError):
        cli(["run", str(EXAMPLE_APP)])


def test_report_write_failure_exits_3_and_keeps_the_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def refuse(_src: str, _dst: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(run_module.os, "replace", refuse)
    assert cli(["run", str(EXAMPLE_APP), "--out", str(tmp_path / "r.md")]) == EXIT_RUN
    captured = capsys.readouterr()
    assert "No space left on device" in one_line_error(captured.err)
    assert captured.out.startswith("# vibe-audit report")  # the work is not lost
    assert list(tmp_path.iterdir()) == []  # temp file cleaned up


def test_unreadable_file_exits_2_with_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "locked.py"
    target.write_text("x = 1\n")

    def deny(self: Path) -> bytes:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(Path, "read_bytes", deny)  # root ignores chmod 000: simulate it
    assert cli(["run", str(target)]) == EXIT_USAGE
    assert "cannot read" in one_line_error(capsys.readouterr().err)


def test_unknown_model_and_missing_key_are_usage_errors() -> None:
    result = vibe("run", str(EXAMPLE_APP), env={"VIBE_AUDIT_MODEL": "gemini:pro"})
    assert result.returncode == EXIT_USAGE
    assert "unknown model 'gemini:pro'" in one_line_error(result.stderr)
    result = vibe("run", str(EXAMPLE_APP), "--model", "openai:gpt-4.1-mini")
    assert result.returncode == EXIT_USAGE
    assert "openai: no API key" in one_line_error(result.stderr)


def test_no_arguments_prints_help_and_exits_2() -> None:
    result = vibe()
    assert result.returncode == EXIT_USAGE
    assert "run" in result.stdout and "schema" in result.stdout
