"""Two runs on one repository and one cache at once, and a review beside a full run:
no "database is locked", no lost cache entries."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

from tests.conftest import EXAMPLE_APP
from tests.fakes.servers import FakeModelServer


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(("VIBE_AUDIT", "GITHUB_"))}


def _git(root: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(root), "-c", "user.name=t", "-c", "user.email=t@e.x", *args],
                   check=True, capture_output=True)  # fmt: skip


def test_parallel_runs_share_the_cache_safely(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    shutil.copytree(EXAMPLE_APP, repo)
    _git(repo, "init", "-q")
    _git(repo, "add", ".")
    _git(repo, "commit", "-q", "-m", "base")
    (repo / "app" / "extra.py").write_text(
        "import sqlite3\n\n\ndef f():\n    return sqlite3.connect('x.db').execute('SELECT 1')\n"
    )
    _git(repo, "add", ".")
    _git(repo, "commit", "-q", "-m", "change")
    cache = tmp_path / "cache"
    with FakeModelServer(latency=0.05) as server:
        spec = f"openai-compat:{server.url}/v1#fake-model"
        common = ["--model", spec, "--cache-dir", str(cache), "--quiet"]
        commands = [
            ["run", str(repo), "--prompt", "all", "--concurrency", "4", *common],
            ["run", str(repo), "--prompt", "all", "--concurrency", "4", *common],
            ["review", "--path", str(repo), "--base", "HEAD~1", "--no-post", *common],
        ]
        processes = [
            subprocess.Popen([sys.executable, "-m", "vibe_audit", *c], env=_env(),
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for c in commands
        ]  # fmt: skip
        results = [p.communicate(timeout=300) for p in processes]
        distinct = len(set(server.answered))
    for process, (_out, err) in zip(processes, results, strict=True):
        assert process.returncode == 0, err
        assert "locked" not in err.lower()
    db = sqlite3.connect(cache / "responses.sqlite3")
    try:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert db.execute("SELECT COUNT(*) FROM answers").fetchone()[0] == distinct
    finally:
        db.close()
