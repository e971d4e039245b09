"""A self-hosted vLLM server behind the OpenAI-compatible provider, played by the local fake
model server (a test double): the spec README documents, schema-forced answers, many
concurrent requests bounded by --concurrency, and no per-token cost."""

from __future__ import annotations

import json
from pathlib import Path

from tests.agent.test_providers_runner import audit
from tests.fakes.servers import FakeModelServer
from vibe_audit.agent.runner import RunnerSettings
from vibe_audit.schemas import Report

VLLM_MODEL = "Qwen/Qwen2.5-Coder-32B-Instruct"  # vLLM serves models under their HF names
LATENCY = 0.3


def _most_in_flight(arrivals: list[float]) -> int:
    """Every request takes at least LATENCY, so requests that arrived less than LATENCY
    apart were all being served at the same time: a lower bound of the true concurrency."""
    ordered = sorted(arrivals)
    return max(sum(1 for t in ordered if now - LATENCY < t <= now) for now in ordered)


def _many_services(root: Path, count: int = 30) -> Path:
    """``count`` small modules, each one file in its own directory and so at least one
    request per audit."""
    for n in range(count):
        (root / f"store_{n}").mkdir()
        (root / f"store_{n}" / "store.py").write_text(
            "import sqlite3\n\n\n"
            f"def save_{n}(path: str, value: str) -> None:\n"
            "    conn = sqlite3.connect(path)\n"
            "    conn.execute('INSERT INTO items (value) VALUES (?)', (value,))\n"
            "    conn.commit()\n",
            encoding="utf-8",
        )
    return root


def test_many_concurrent_requests_to_a_vllm_server(tmp_path: Path) -> None:
    target = _many_services(tmp_path)
    with FakeModelServer(latency=LATENCY) as server:
        spec = f"openai-compat:{server.url}/v1#{VLLM_MODEL}"
        runner = RunnerSettings(concurrency=12, timeout_s=10.0)
        report = audit(spec, server, ["sqlite", "reliability"], runner=runner, target=target)
    assert isinstance(report, Report)
    sent = len(server.requests)
    assert sent >= 40 and report.stats.jobs == {"answered": sent}
    # Parallel, never above --concurrency. Counted by the server: how many requests were in
    # their latency wait at once (arrival times alone undercount on a loaded machine, where
    # the client's sends spread out); no answer is sent during the wait, so a client slot
    # cannot have a second request there.
    assert 6 <= server.most_waiting <= 12, server.most_waiting
    assert _most_in_flight([t for t, _, _ in server.requests]) <= 12
    bodies = [json.loads(b) for b in server.bodies]
    assert {b["model"] for b in bodies} == {VLLM_MODEL}
    assert all(b["response_format"]["type"] == "json_schema" for b in bodies)
    assert report.stats.cost_usd == 0.0  # a self-hosted server has no per-token price
    assert report.stats.provider == "openai-compat"
    assert any(f.source == "model" for f in report.findings)
