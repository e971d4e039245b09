"""A run killed mid-way (SIGKILL) and started again re-uses every answer it had received."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from tests.conftest import one_file_per_directory
from tests.fakes.servers import FakeModelServer


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "vibe_audit", *args]


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("VIBE_AUDIT")}


def _cached(cache_dir: Path) -> int:
    db = sqlite3.connect(cache_dir / "responses.sqlite3")
    try:
        return int(db.execute("SELECT COUNT(*) FROM answers").fetchone()[0])
    finally:
        db.close()


def test_killed_run_resumes_from_the_cache(tmp_path: Path) -> None:
    cache_dir = tmp_path / "cache"
    target = one_file_per_directory(tmp_path / "target")
    with FakeModelServer(latency=0.15) as server:
        spec = f"openai-compat:{server.url}/v1#fake-model"
        common = ["run", str(target), "--prompt", "all", "--model", spec,
                  "--cache-dir", str(cache_dir), "--concurrency", "2", "--quiet"]  # fmt: skip
        quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
        first = subprocess.Popen(_cli(*common), env=_env(), **quiet)  # type: ignore[call-overload]
        deadline = time.monotonic() + 60
        while len(server.requests) < 8 and time.monotonic() < deadline:
            time.sleep(0.02)
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=30)
        assert first.returncode == -signal.SIGKILL
        received = _cached(cache_dir)
        # Counted once the server is quiet: a request the killed run wrote just before it
        # died may reach the server's handler later on a loaded machine.
        sent_before_kill = server.wait_quiet()
        assert 0 < received <= sent_before_kill

        second = subprocess.run(
            _cli(*common, "--format", "json"),
            env=_env(),
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert second.returncode == 0, second.stderr
        report = json.loads(second.stdout)
        jobs = report["stats"]["jobs"]
        total = sum(jobs.values())
        # Every answer received before the kill is used, never asked for again: each request
        # sent after it added one answer (a job may hold two: its answer and the one to its
        # re-ask when the first came back empty on code the rules flag).
        assert 0 < jobs["cached"] <= received
        assert len(server.requests) - sent_before_kill == _cached(cache_dir) - received
        assert total <= _cached(cache_dir) <= 2 * total


def test_ctrl_c_is_one_line_exit_130_and_the_answers_stay_cached(tmp_path: Path) -> None:
    cache_dir = tmp_path / "cache"
    target = one_file_per_directory(tmp_path / "target")
    with FakeModelServer(latency=0.5) as server:
        spec = f"openai-compat:{server.url}/v1#fake-model"
        args = ["run", str(target), "--prompt", "all", "--model", spec,
                "--cache-dir", str(cache_dir), "--concurrency", "1", "--quiet"]  # fmt: skip
        # SIGINT back to its default in the child: a CI job started in the background
        # inherits it ignored, and Python then installs no Ctrl-C handler at all.
        run = subprocess.Popen(
            _cli(*args),
            env=_env(),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        )
        deadline = time.monotonic() + 60
        while len(server.answered) < 3 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert run.poll() is None, "the run ended before it could be interrupted"
        run.send_signal(signal.SIGINT)
        _, err = run.communicate(timeout=30)
    assert run.returncode == 130, err
    assert "Traceback" not in err
    assert err.strip().splitlines()[-1].startswith("vibe-audit: interrupted:")
    # With one request in flight, answers 1 and 2 were cached before request 3 was sent;
    # the 3rd may still have been on its way from the socket to the cache when interrupted.
    assert _cached(cache_dir) >= 2
