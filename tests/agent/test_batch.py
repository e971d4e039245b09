"""--batch against local fake OpenAI Batch and Anthropic Message Batches endpoints (real HTTP,
the official SDKs; tests/fakes/batches.py is a test double, never a real model): submission,
polling, a restart while a batch is pending, faults, the budget, and results merged exactly as
a live run merges them."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import EXAMPLE_APP
from tests.fakes.batches import FakeBatchServer
from tests.fakes.servers import FakeModelServer
from vibe_audit.cli import cli
from vibe_audit.errors import EXIT_PENDING, EXIT_USAGE

MODELS = {"openai": "openai:gpt-4.1-mini", "anthropic": "anthropic:claude-haiku-4-5"}


def _args(kind: str, server: FakeModelServer, cache: Path, out: Path, *extra: str) -> list[str]:
    base = server.url + ("/v1" if kind == "openai" else "")
    return ["run", str(EXAMPLE_APP), "--prompt", "all", "--model", MODELS[kind],
            "--base-url", base, "--api-key", "test-key", "--cache-dir", str(cache),
            "--format", "json", "--out", str(out), "--quiet", *extra]  # fmt: skip


def _batch(*extra: str) -> tuple[str, ...]:
    return ("--batch", "--batch-poll", "0.02", *extra)


def _report(path: Path) -> dict[str, Any]:
    return dict(json.loads(path.read_text(encoding="utf-8")))


def _findings(report: dict[str, Any]) -> list[tuple[str, str, int]]:
    return sorted(
        (f["fingerprint"], f["location"]["path"], f["location"]["start_line"])
        for f in report["findings"]
    )


def _batch_rows(cache: Path) -> list[tuple[str, str | None, str]]:
    db = sqlite3.connect(cache / "responses.sqlite3")
    try:
        rows = db.execute("SELECT batch_id, ended_at, state FROM batches ORDER BY submitted_at")
        return [(str(r[0]), r[1], str(r[2])) for r in rows]
    finally:
        db.close()


@pytest.fixture(autouse=True)
def _no_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("VIBE_AUDIT"):
            monkeypatch.delenv(name)


@pytest.mark.parametrize("kind", ["openai", "anthropic"])
def test_batch_run_merges_exactly_like_a_live_run(kind: str, tmp_path: Path) -> None:
    with FakeModelServer() as live:
        assert cli(_args(kind, live, tmp_path / "live-cache", tmp_path / "live.json")) == 0
    with FakeBatchServer(polls_to_end=3) as server:
        out = tmp_path / "batch.json"
        assert cli(_args(kind, server, tmp_path / "cache", out, *_batch())) == 0
        assert len(server.created) == 1  # one batch for the whole run
        # Polled until it ended (the 3rd retrieve), then once more to read its results.
        assert server.polls == 4
        assert server.requests == []  # nothing went to the live route
    expected, report = _report(tmp_path / "live.json"), _report(out)
    assert _findings(report) == _findings(expected)
    assert [f["title"] for f in report["findings"]] == [f["title"] for f in expected["findings"]]
    total = sum(expected["stats"]["jobs"].values())
    assert report["stats"]["unreviewed_jobs"] == []
    assert report["stats"]["jobs"] == {"answered": total}
    assert report["stats"]["model_events"] == {"batch: submitted": 1}
    # The batch price is half the list price, on (near enough) the same tokens.
    live_cost, batch_cost = expected["stats"]["cost_usd"], report["stats"]["cost_usd"]
    assert batch_cost == pytest.approx(live_cost / 2, rel=0.05)
    assert _batch_rows(tmp_path / "cache")[0][2] in ("completed", "ended")
    # Answers are cached like live ones: the same command again sends nothing.
    with FakeBatchServer() as server:
        again = tmp_path / "again.json"
        assert cli(_args(kind, server, tmp_path / "cache", again, *_batch())) == 0
        assert server.created == [] and server.requests == []
    assert _report(again)["stats"]["jobs"] == {"cached": total}


@pytest.mark.parametrize("kind", ["openai", "anthropic"])
def test_failed_expired_and_rejected_batch_requests_are_sent_again_live(
    kind: str, tmp_path: Path
) -> None:
    with FakeModelServer() as live:
        assert cli(_args(kind, live, tmp_path / "live-cache", tmp_path / "live.json")) == 0
    faults = {2: "error", 3: "schema", 5: "missing"}
    with FakeBatchServer(polls_to_end=1, line_faults=faults, end_state="expired") as server:
        out = tmp_path / "batch.json"
        assert cli(_args(kind, server, tmp_path / "cache", out, *_batch())) == 0
        # the errored and the missing; the unknown category or id is repaired in place
        assert len(server.requests) == 2
    report = _report(out)
    assert _findings(report) == _findings(_report(tmp_path / "live.json"))
    events = report["stats"]["model_events"]
    assert events["batch: sent again live"] == 2
    assert "repair: schema" not in events
    assert any(k.startswith("answer repaired: ") for k in events), events
    assert events["batch: request errored"] == 1 and events["batch: request not answered"] == 1
    assert report["stats"]["unreviewed_jobs"] == []


@pytest.mark.parametrize("kind", ["openai", "anthropic"])
def test_a_run_killed_while_its_batch_is_pending_resumes_it(kind: str, tmp_path: Path) -> None:
    cache, out = tmp_path / "cache", tmp_path / "report.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith("VIBE_AUDIT")}
    with FakeBatchServer(hold=True) as server:
        args = _args(kind, server, cache, out, *_batch())
        first = subprocess.Popen(
            [sys.executable, "-m", "vibe_audit", *args],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 60
        while server.polls < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=30)
        assert first.returncode == -signal.SIGKILL
        assert len(server.created) == 1
        rows = _batch_rows(cache)
        assert [(r[0], r[1]) for r in rows] == [(server.created[0], None)]  # kept, pending

        server.release()  # the provider finishes it while nothing is watching
        assert cli(args) == 0
        assert len(server.created) == 1  # resumed, not submitted again
        assert server.requests == []
    report = _report(out)
    assert report["stats"]["model_events"]["batch: resumed"] == 1
    assert "batch: submitted" not in report["stats"]["model_events"]
    assert set(report["stats"]["jobs"]) == {"answered"}
    assert _batch_rows(cache)[0][1] is not None  # collected
    assert any(f["title"].startswith("Scripted finding") for f in report["findings"])


def test_batch_wait_exits_5_and_the_same_command_collects(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cache, out = tmp_path / "cache", tmp_path / "report.json"
    with FakeBatchServer(hold=True) as server:
        args = _args("openai", server, cache, out, *_batch("--batch-wait", "0.2"))
        assert cli(args) == EXIT_PENDING
        assert "still running after --batch-wait" in capsys.readouterr().err
        assert not out.exists()
        server.release()
        assert cli(args) == 0
        assert len(server.created) == 1
    assert set(_report(out)["stats"]["jobs"]) == {"answered"}


def test_poll_errors_retry_and_a_lost_batch_goes_live(tmp_path: Path) -> None:
    with FakeBatchServer(polls_to_end=2, poll_faults={1: "500"}) as server:
        out = tmp_path / "a.json"
        assert cli(_args("openai", server, tmp_path / "c1", out, *_batch())) == 0
        assert server.requests == [] and len(server.created) == 1
    assert _report(out)["stats"]["model_events"]["batch: poll retried"] == 1
    with FakeBatchServer(poll_faults={1: "404"}) as server:
        out = tmp_path / "b.json"
        assert cli(_args("openai", server, tmp_path / "c2", out, *_batch())) == 0
        jobs = len(server.batches[server.created[0]]["lines"])
        assert len(server.requests) == jobs  # every request of the lost batch, live
    assert set(_report(out)["stats"]["jobs"]) == {"answered"}
    assert _batch_rows(tmp_path / "c2")[0][2].startswith("lost")


def test_max_cost_covers_batches(tmp_path: Path) -> None:
    with FakeBatchServer() as server:
        out = tmp_path / "r.json"
        assert (
            cli(_args("openai", server, tmp_path / "c", out, *_batch("--max-cost", "0.006"))) == 0
        )
        submitted = len(server.batches[server.created[0]]["lines"])
    report = _report(out)
    jobs = report["stats"]["jobs"]
    assert jobs["skipped (budget)"] > 0 and jobs["answered"] == submitted
    assert report["stats"]["cost_usd"] <= 0.006


def test_batch_refuses_what_it_cannot_do(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    common = ["run", str(EXAMPLE_APP), "--batch"]
    assert cli(common) == EXIT_USAGE
    assert cli([*common, "--model", "ollama:llama3"]) == EXIT_USAGE
    assert "has no batch API" in capsys.readouterr().err
    no_cache = [*common, "--model", "openai:gpt-4.1-mini", "--api-key", "k", "--no-cache"]
    assert cli(no_cache) == EXIT_USAGE
    assert "drop --no-cache" in capsys.readouterr().err


def test_dry_run_prices_a_batch_at_half(capsys: pytest.CaptureFixture[str]) -> None:
    common = ["run", str(EXAMPLE_APP), "--model", "openai:gpt-4.1-mini", "--dry-run", "--quiet"]
    assert cli(common) == 0
    live = capsys.readouterr().out
    assert cli([*common, "--batch"]) == 0
    batch = capsys.readouterr().out

    def total(text: str) -> float:
        line = next(line for line in text.splitlines() if line.startswith("total"))
        return float(line.split()[-1])

    assert total(batch) == pytest.approx(total(live) / 2, abs=1e-4)
    assert "batch price" in batch


@pytest.mark.parametrize("kind", ["openai", "anthropic"])
def test_a_rate_limited_submit_is_retried_once_created(kind: str, tmp_path: Path) -> None:
    with FakeBatchServer(submit_faults={1: "429"}, retry_after=0.05) as server:
        out = tmp_path / "r.json"
        assert cli(_args(kind, server, tmp_path / "c", out, *_batch())) == 0
        assert server.creates == 2 and len(server.created) == 1
    events = _report(out)["stats"]["model_events"]
    assert events["batch: submit retried (http 429)"] == 1


def test_a_refused_poll_stops_the_run_and_keeps_the_batch(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A 401 on retrieve (say, a rotated key) is not a lost batch: the run stops (exit 3) and
    the batch stays pending, so the next run with a good key collects it, unpaid twice."""
    cache = tmp_path / "c"
    with FakeBatchServer(poll_faults={2: "401"}) as server:
        args = _args("openai", server, cache, tmp_path / "r.json", *_batch())
        assert cli(args) == 3
        assert "HTTP 401" in capsys.readouterr().err
        assert [r[1] for r in _batch_rows(cache)] == [None]
        assert cli(args) == 0
        assert len(server.created) == 1 and server.requests == []


def test_a_batch_collected_but_not_marked_is_closed_without_paying_again(tmp_path: Path) -> None:
    """A run killed after caching a batch's answers but before marking it ended: the next
    run answers from the cache, closes the batch record and spends nothing."""
    cache = tmp_path / "c"
    with FakeBatchServer() as server:
        args = _args("openai", server, cache, tmp_path / "r.json", *_batch())
        assert cli(args) == 0
        db = sqlite3.connect(cache / "responses.sqlite3")
        with db:
            db.execute("UPDATE batches SET ended_at = NULL, state = 'submitted'")
        db.close()
        polls = server.polls
        assert cli(args) == 0
        assert len(server.created) == 1 and server.polls == polls
    report = _report(tmp_path / "r.json")
    assert set(report["stats"]["jobs"]) == {"cached"} and report["stats"]["cost_usd"] == 0
    assert [r[2] for r in _batch_rows(cache)] == ["collected"]
