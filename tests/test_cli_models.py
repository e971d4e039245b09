"""`vibe-audit run` with a model, through the CLI, against the local fake server."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import EXAMPLE_APP, one_file_per_directory
from tests.fakes.servers import FakeModelServer
from tests.test_cli import vibe


def test_dry_run_prints_jobs_tokens_and_cost_per_audit() -> None:
    with FakeModelServer() as server:
        result = vibe(
            "run", str(EXAMPLE_APP), "--model", "openai:gpt-4.1-mini", "--api-key", "test",
            "--base-url", f"{server.url}/v1", "--dry-run",
        )  # fmt: skip
        assert server.requests == []
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "plan for openai:gpt-4.1-mini (dry run: no model was called)"
    rows = {line.split()[0]: line.split() for line in lines[3:9]}
    assert set(rows) == {
        "concurrency",
        "checkpoint",
        "sqlite",
        "reliability",
        "guardrails",
        "total",
    }
    for audit in ("concurrency", "checkpoint", "sqlite", "reliability", "guardrails"):
        jobs, tokens, cost = int(rows[audit][1]), int(rows[audit][4]), float(rows[audit][5])
        assert jobs > 0 and tokens > 0 and cost > 0
    assert int(rows["total"][1]) == sum(int(rows[a][1]) for a in rows if a != "total")


def test_model_run_report_shows_requests_and_failures(tmp_path) -> None:
    with FakeModelServer(faults={1: "429"}, retry_after=0.1) as server:
        result = vibe(
            "run", str(EXAMPLE_APP), "--prompt", "sqlite", "--model",
            f"openai-compat:{server.url}/v1#fake", "--cache-dir", str(tmp_path), "--timeout", "5",
        )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "- Model requests: answered: " in result.stdout
    assert "retry: http 429: 1" in result.stdout
    assert "model requests" in result.stderr  # progress lines (stderr is not a terminal)
    with FakeModelServer(always={"500"}) as server:
        result = vibe(
            "run", str(EXAMPLE_APP), "--prompt", "sqlite", "--format", "json", "--no-cache",
            "--model", f"openai-compat:{server.url}/v1#fake", "--timeout", "5",
        )  # fmt: skip
    report = json.loads(result.stdout)
    assert report["stats"]["jobs"]["failed"] == len(report["stats"]["unreviewed_jobs"]) > 0


def test_dry_run_needs_no_key_and_interaction_context_can_be_turned_off(tmp_path: Path) -> None:
    target = one_file_per_directory(tmp_path / "app")  # the context shows other requests' code

    def total_tokens(*flags: str) -> int:
        result = vibe(
            "run", str(target), "--model", "openai:gpt-4.1-mini", "--dry-run",
            "--prompt", "concurrency", *flags,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr  # vibe() passes no API key
        total = next(line for line in result.stdout.splitlines() if line.startswith("total"))
        return int(total.split()[2])

    with_context, without = total_tokens(), total_tokens("--no-interaction-context")
    assert with_context > without  # the other readers/writers of the tables, in the requests
