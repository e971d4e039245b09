"""Twenty runs killed with SIGKILL, then one run to the end: no answer that was delivered is
paid for again (beyond the one in flight at each kill), the final report equals an
uninterrupted run's, and neither the cache nor the report is corrupt. Half the kills come while
the server holds one of the run's requests unanswered, so they surely land in flight (the
server's count of requests whose client died waiting shows that they did); the other half
at random moments (start-up, a request, a cache write, the report)."""

from __future__ import annotations

import collections
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from tests.conftest import EXAMPLE_APP
from tests.fakes.servers import FakeModelServer

KILLS = 20


def _run(spec: str, cache: Path, out: Path) -> list[str]:
    return [sys.executable, "-m", "vibe_audit", "run", str(EXAMPLE_APP), "--prompt", "all",
            "--model", spec, "--cache-dir", str(cache), "--concurrency", "1", "--quiet",
            "--format", "json", "--out", str(out)]  # fmt: skip


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("VIBE_AUDIT")}


def _findings(path: Path) -> list[dict[str, object]]:
    report = json.loads(path.read_text())
    return [{k: v for k, v in f.items()} for f in report["findings"]]


def test_twenty_kills_then_resume(tmp_path: Path) -> None:
    rng = random.Random(20261122)
    with FakeModelServer(latency=0.03) as reference_server:
        spec = f"openai-compat:{reference_server.url}/v1#fake-model"
        done = subprocess.run(_run(spec, tmp_path / "ref-cache", tmp_path / "ref.json"),
                              env=_env(), capture_output=True, text=True, timeout=300)  # fmt: skip
        assert done.returncode == 0, done.stderr
        total_jobs = len(reference_server.requests)
        reference_prompts = set(reference_server.answered)

    cache, out = tmp_path / "cache", tmp_path / "report.json"
    in_flight = 0  # kills made while the server held one of the run's requests unanswered
    with FakeModelServer(latency=0.03) as server:
        spec = f"openai-compat:{server.url}/v1#fake-model"
        for kill in range(KILLS):
            sent = server.wait_quiet(0.1)  # what the previous run sent has all arrived
            process = subprocess.Popen(
                _run(spec, cache, out),
                env=_env(),
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            if kill < KILLS // 2:
                # Surely while a request is in flight: the server holds the run's 1st or 2nd
                # request (the 2nd only while two jobs are left, so one is always left).
                left = total_jobs - len(set(server.answered))
                held = server.hold_request(sent + (rng.randint(1, 2) if left >= 2 else 1))
                deadline = time.monotonic() + 120
                while not held.wait(0.05) and process.poll() is None:
                    assert time.monotonic() < deadline, "the run sent no request"
                in_flight += held.is_set()
            else:  # at a random moment: starting, asking, caching, writing the report
                time.sleep(rng.uniform(0.2, 1.6))
            process.send_signal(signal.SIGKILL)
            process.wait(timeout=30)
            server.release_hold()
            if out.exists():  # written atomically or not at all
                json.loads(out.read_text())
        server.wait_quiet()
        abandoned = server.abandoned
        final = subprocess.run(_run(spec, cache, out), env=_env(), capture_output=True,
                               text=True, timeout=300)  # fmt: skip
        assert final.returncode == 0, final.stderr
        answered_twice = [user for user, n in collections.Counter(server.answered).items() if n > 1]
    # The kills landed while requests were in flight: each held request's client died
    # waiting for it, and the server saw it go; with one request at a time, no kill
    # abandons more than one, and the uninterrupted run abandons none.
    assert in_flight == KILLS // 2, f"{KILLS // 2 - in_flight} run(s) ended before the hold"
    assert in_flight <= abandoned <= KILLS
    assert server.abandoned == abandoned
    # Spec strings differ (the port), so compare what the model said, not the engine line.
    mine, reference = _findings(out), _findings(tmp_path / "ref.json")
    for finding in (*mine, *reference):
        finding.pop("model", None)
    assert mine == reference
    # An answer is paid twice only when the run died between receiving and caching it:
    # with one request in flight, at most one per kill.
    assert len(answered_twice) <= KILLS
    extra = sorted(set(server.answered) - reference_prompts)
    assert not extra, "prompts no uninterrupted run sends:\n" + "\n---\n".join(extra)[:3000]
    assert len(set(server.answered)) == total_jobs
    db = sqlite3.connect(cache / "responses.sqlite3")
    try:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert db.execute("SELECT COUNT(*) FROM answers").fetchone()[0] == total_jobs
    finally:
        db.close()
