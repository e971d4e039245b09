"""`vibe-audit fix`: the example app's patch applies with git, its findings are gone and no
new one appears, the app still compiles; --apply keeps file modes; usage mistakes are one
line with exit 2."""

from __future__ import annotations

import json
import py_compile
import shutil
import stat
import subprocess
import sys
from pathlib import Path

from tests.conftest import EXAMPLE_APP
from tests.test_cli import vibe
from vibe_audit.errors import EXIT_CLEAN, EXIT_USAGE


def _copy(tmp_path: Path) -> Path:
    root = tmp_path / "docstore"
    shutil.copytree(EXAMPLE_APP, root)
    return root


def _findings(root: Path) -> list[dict[str, object]]:
    result = vibe("run", str(root), "--format", "json", "--quiet")
    findings: list[dict[str, object]] = json.loads(result.stdout)["findings"]
    return findings


def _key(finding: dict[str, object]) -> tuple[object, ...]:
    location = finding["location"]
    assert isinstance(location, dict)
    return (finding["rule_id"], location["path"], finding["title"])


def test_the_example_app_patch_applies_and_its_findings_are_gone(tmp_path: Path) -> None:
    root = _copy(tmp_path)
    before = _findings(root)
    patched = {_key(f) for f in before if isinstance(f.get("patch"), dict)}
    assert patched, "the example app has findings with a patch"
    safe_only = vibe("fix", str(root), "--diff")
    assert safe_only.returncode == EXIT_CLEAN, safe_only.stderr
    assert "checkpoints.py" not in safe_only.stdout  # its patch needs review: --unsafe
    assert "checkpoint-non-atomic-write: unsafe (needs review)" in safe_only.stderr
    result = vibe("fix", str(root), "--diff", "--unsafe")
    assert result.returncode == EXIT_CLEAN, result.stderr
    assert result.stdout.startswith("--- a/app/")
    assert "printed" in result.stderr and "patch(es)" in result.stderr
    applied = subprocess.run(
        ["git", "apply", "-p1", "-"], cwd=root, input=result.stdout, text=True,
        capture_output=True, check=False,
    )  # fmt: skip
    assert applied.returncode == 0, applied.stderr
    after = _findings(root)
    assert not patched & {_key(f) for f in after}  # every patched finding is gone
    assert {_key(f) for f in after} <= {_key(f) for f in before}  # and none is new
    for source in (root / "app").glob("*.py"):
        py_compile.compile(str(source), doraise=True)
    # The patched app still imports (app.main needs FastAPI, not a test dependency: compiled
    # above; the modules it imports are imported here).
    imported = subprocess.run(
        [sys.executable, "-c", "import app.db, app.checkpoints, app.worker, app.labelstudio"],
        cwd=root, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert imported.returncode == 0, imported.stderr
    again = vibe("fix", str(root), "--diff", "--unsafe")
    assert again.returncode == EXIT_CLEAN and again.stdout == ""


def test_apply_writes_the_patched_files_and_keeps_their_mode(tmp_path: Path) -> None:
    root = _copy(tmp_path)
    worker = root / "app" / "worker.py"
    worker.chmod(0o600)
    result = vibe("fix", str(root), "--apply", "--rule", "http-call-without-timeout")
    assert result.returncode == EXIT_CLEAN, result.stderr
    assert result.stdout == ""
    assert "applied 2 patch(es)" in result.stderr
    assert "timeout=(3.05, 30)" in worker.read_text(encoding="utf-8")
    assert stat.S_IMODE(worker.stat().st_mode) == 0o600
    assert not list((root / "app").glob(".*.py.*"))  # no temp file left behind


def test_usage_mistakes_are_one_line_with_exit_2(tmp_path: Path) -> None:
    root = _copy(tmp_path)
    for args, words in (
        (("--diff", "--apply"), "--diff and --apply: choose one"),
        (("--rule", "no-such-rule"), "unknown rule 'no-such-rule'"),
        (("--prompt", "sqlit"), "unknown prompt id 'sqlit'"),
    ):
        result = vibe("fix", str(root), *args)
        assert result.returncode == EXIT_USAGE, (args, result.stderr)
        assert words in result.stderr and result.stderr.count("\n") == 1, result.stderr
    missing = vibe("fix", str(tmp_path / "nowhere"))
    assert missing.returncode == EXIT_USAGE and missing.stderr.count("\n") == 1


def test_no_patch_over_a_line_whose_secret_the_audit_redacted(tmp_path: Path) -> None:
    """The rules read redacted text: a patch rewriting a line that held a secret would write
    the redaction over it, so that finding gets no patch, and says why; a secret on another
    line does not stop the patch of a call elsewhere."""
    root = tmp_path / "svc"
    root.mkdir()
    (root / "client.py").write_text(
        "import requests\n\n"
        'TOKEN_URL = "https://admin:Zq7vLp2xWm9tRk4s@auth.internal.example/token"\n\n\n'
        "def fetch():\n"
        '    return requests.get("https://admin:Zq7vLp2xWm9tRk4s@api.internal.example/v1")\n\n\n'
        "def token():\n    return requests.post(TOKEN_URL)\n",
        encoding="utf-8",
    )
    by_line = {
        f["location"]["start_line"]: f["patch"]  # type: ignore[index]
        for f in _findings(root)
        if f["rule_id"] == "http-call-without-timeout"
    }
    assert set(by_line) == {7, 11}
    assert by_line[7]["verified"] is False and "redacted (a secret)" in by_line[7]["reason"]
    assert by_line[11]["reason"] is None
    result = vibe("fix", str(root), "--diff")
    assert result.returncode == EXIT_CLEAN, result.stderr
    assert "+    return requests.post(TOKEN_URL, timeout=(3.05, 30))" in result.stdout
    assert "Zq7vLp2xWm9tRk4s" not in result.stdout and "REDACTED" not in result.stdout
    assert "not offered: client.py:7 http-call-without-timeout" in result.stderr
