"""Bad input: one line on stderr, a documented exit code, never a traceback."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import write_files
from tests.test_cli import vibe
from vibe_audit.cli import cli
from vibe_audit.errors import EXIT_CLEAN, EXIT_RUN, EXIT_USAGE

Setup = Callable[[Path], list[str]]


def empty_repo(root: Path) -> list[str]:
    (root / "repo").mkdir()
    return ["run", str(root / "repo")]


def binary_only(root: Path) -> list[str]:
    write_files(root, {"repo/blob.py": b"\x00\x01\x02", "repo/image.png": b"\x89PNG\x00"})
    return ["run", str(root / "repo")]


def fifty_megabytes(root: Path) -> list[str]:
    write_files(root, {"repo/huge.py": "x = 1\n" * 9_000_000})
    return ["run", str(root / "repo")]


def symlink_loop_only(root: Path) -> list[str]:
    (root / "repo").mkdir()
    (root / "repo" / "a.py").symlink_to(root / "repo" / "b.py")
    (root / "repo" / "b.py").symlink_to(root / "repo" / "a.py")
    return ["run", str(root / "repo")]


def missing_path(root: Path) -> list[str]:
    return ["run", str(root / "nope")]


def unknown_prompt(root: Path) -> list[str]:
    write_files(root, {"repo/a.py": "x = 1\n"})
    return ["run", str(root / "repo"), "--prompt", "security"]


def bad_model_spec(root: Path) -> list[str]:
    write_files(root, {"repo/a.py": "x = 1\n"})
    return ["run", str(root / "repo"), "--model", "openai-compat:not-a-url"]


def missing_key(root: Path) -> list[str]:
    write_files(root, {"repo/a.py": "x = 1\n"})
    return ["run", str(root / "repo"), "--model", "anthropic:claude-sonnet-4-5"]


def malformed_config(root: Path) -> list[str]:
    write_files(root, {"repo/a.py": "x = 1\n", "repo/.vibe-audit.toml": "model = [unclosed\n"})
    return ["run", str(root / "repo")]


def wrong_config_key(root: Path) -> list[str]:
    write_files(root, {"repo/a.py": "x = 1\n", "repo/.vibe-audit.toml": "modle = 'static'\n"})
    return ["run", str(root / "repo")]


def malformed_baseline(root: Path) -> list[str]:
    write_files(root, {"repo/a.py": "x = 1\n", "baseline.json": '{"findings": 3}'})
    return ["run", str(root / "repo"), "--baseline", str(root / "baseline.json")]


def unwritable_out(root: Path) -> list[str]:
    write_files(root, {"repo/a.py": "x = 1\n"})
    return ["run", str(root / "repo"), "--out", str(root / "no" / "such" / "dir" / "r.md")]


def out_is_a_directory(root: Path) -> list[str]:
    write_files(root, {"repo/a.py": "x = 1\n"})
    return ["run", str(root / "repo"), "--out", str(root)]


def bad_format(root: Path) -> list[str]:
    return ["run", str(root), "--format", "pdf"]


def bad_fail_on(root: Path) -> list[str]:
    return ["run", str(root), "--fail-on", "SEVERE"]


def negative_budget(root: Path) -> list[str]:
    return ["run", str(root), "--max-cost", "-1"]


def review_without_base(root: Path) -> list[str]:
    return ["review", "--path", str(root)]


def review_outside_git(root: Path) -> list[str]:
    return ["review", "--path", str(root), "--base", "HEAD~1"]


def path_is_a_file_for_review(root: Path) -> list[str]:
    write_files(root, {"a.py": "x = 1\n"})
    return ["review", "--path", str(root / "a.py"), "--base", "main"]


CASES: dict[str, tuple[Setup, int, str]] = {
    "empty repo": (empty_repo, EXIT_USAGE, "nothing to audit"),
    "binary-only repo": (binary_only, EXIT_USAGE, "binary: 1"),
    "50 MB file": (fifty_megabytes, EXIT_USAGE, "oversized: 1"),
    "symlink loop": (symlink_loop_only, EXIT_USAGE, "symlink loop: 2"),
    "missing path": (missing_path, EXIT_USAGE, "path not found"),
    "unknown prompt id": (unknown_prompt, EXIT_USAGE, "unknown prompt id 'security'"),
    "bad model spec": (bad_model_spec, EXIT_USAGE, "openai-compat:<base-url>#<model>"),
    "missing key": (missing_key, EXIT_USAGE, "anthropic: no API key"),
    "malformed config": (malformed_config, EXIT_USAGE, "invalid TOML"),
    "unknown config key": (wrong_config_key, EXIT_USAGE, "modle"),
    "malformed baseline": (malformed_baseline, EXIT_USAGE, "not a vibe-audit baseline file"),
    "unwritable --out": (unwritable_out, EXIT_USAGE, "--out"),
    "--out is a directory": (out_is_a_directory, EXIT_USAGE, "--out"),
    "bad --format": (bad_format, EXIT_USAGE, "--format"),
    "bad --fail-on": (bad_fail_on, EXIT_USAGE, "--fail-on"),
    "negative --max-cost": (negative_budget, EXIT_USAGE, "--max-cost"),
    "review without --base": (review_without_base, EXIT_USAGE, "needs --base"),
    "review outside a git repo": (review_outside_git, EXIT_USAGE, "git:"),
    "review --path is a file": (path_is_a_file_for_review, EXIT_USAGE, "git:"),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_bad_input_is_one_line_and_a_documented_code(name: str, tmp_path: Path) -> None:
    setup, code, message = CASES[name]
    result = vibe(*setup(tmp_path))
    assert result.returncode == code, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("vibe-audit: error")]
    assert "Traceback" not in result.stderr
    assert len(errors) == 1, result.stderr
    assert message in errors[0]
    assert result.stderr.rstrip().splitlines()[-1] == errors[0]  # nothing after the error


@pytest.mark.parametrize(
    "files",
    [{"latin.py": b"name = '\xe9t\xe9'\n"}, {"ok.py": "x = 1\n", "big.py": "x = 1\n" * 9_000_000}],
    ids=["non-UTF-8 file", "50 MB file beside code"],
)
def test_odd_but_valid_input_runs(files: dict[str, bytes | str], tmp_path: Path) -> None:
    write_files(tmp_path, files)
    result = vibe("run", str(tmp_path), "--quiet")
    assert result.returncode == EXIT_CLEAN, result.stderr
    assert "Traceback" not in result.stderr


def test_unreadable_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    write_files(tmp_path, {"secret/a.py": "x = 1\n", "b.py": "y = 2\n"})
    real_scandir = os.scandir

    def scandir(path: object) -> object:
        if str(path).endswith("secret"):
            raise PermissionError(13, "Permission denied", str(path))
        return real_scandir(path)  # type: ignore[arg-type]

    # Tests run as root, where mode 000 does not stop reads: simulate the OS refusal.
    monkeypatch.setattr(os, "scandir", scandir)
    assert cli(["run", str(tmp_path), "--format", "json", "--quiet"]) == EXIT_CLEAN
    skipped = json.loads(capsys.readouterr().out)["stats"]["skipped"]
    assert {"path": "secret/", "reason": "unreadable directory"} in skipped


def test_report_write_failure_is_exit_3(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_files(tmp_path, {"a.py": "x = 1\n"})

    def full_disk(*_args: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", full_disk)
    assert cli(["run", str(tmp_path), "--out", str(tmp_path / "r.md"), "--quiet"]) == EXIT_RUN
