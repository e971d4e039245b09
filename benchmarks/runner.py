"""200 jobs against a fake model server with 1 s latency, at concurrency 16.

    python benchmarks/runner.py [--jobs 200] [--concurrency 16] [--latency 1.0]

Uses the real runner and the real OpenAI SDK (openai-compat provider) over loopback HTTP
against tests/fakes/servers.py (a test double) running in its own process. The ideal wall time is
ceil(jobs / concurrency) x latency; target: measured <= 1.15 x ideal. Prints the ratio.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from vibe_audit.agent.planner import PlanInputs, plan  # noqa: E402
from vibe_audit.agent.providers import ProviderSettings, get_provider, is_model  # noqa: E402
from vibe_audit.agent.runner import Runner, RunnerSettings  # noqa: E402
from vibe_audit.chunker import discover, slice_file  # noqa: E402
from vibe_audit.schemas import Job  # noqa: E402

TARGET = 1.15
EXAMPLE = ROOT / "examples" / "docstore"


def _jobs(count: int, spec: str) -> list[Job]:
    """``count`` distinct jobs built from the example app's real requests."""
    chunks = [c for s in discover(EXAMPLE).files for c in slice_file(s)]
    inputs = PlanInputs(
        spec=spec, provider_name="openai-compat", model="fake", price=(0.0, 0.0), chunks=chunks,
        audits=["sqlite"], max_tokens_out=1024,
    )  # fmt: skip
    base = plan(inputs).jobs
    return [
        base[n % len(base)].model_copy(update={"id": f"job-{n}", "cache_key": f"key-{n}"})
        for n in range(count)
    ]


async def _run(spec: str, jobs: list[Job], concurrency: int) -> float:
    provider = get_provider(spec, ProviderSettings(spec=spec, timeout_s=30))
    assert is_model(provider)
    runner = Runner(provider, (0.0, 0.0), RunnerSettings(concurrency=concurrency, timeout_s=30))
    started = time.perf_counter()
    try:
        result = await runner.run(jobs)
    finally:
        await provider.aclose()
    elapsed = time.perf_counter() - started
    assert all(o.status == "answered" for o in result.outcomes), result.events
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--latency", type=float, default=1.0)
    args = parser.parse_args()
    # The fake server runs in its own process, so it does not share the client's GIL.
    server = subprocess.Popen(
        [sys.executable, "-m", "tests.fakes.servers", "--latency", str(args.latency)],
        cwd=ROOT, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert server.stdout is not None
        url = server.stdout.readline().strip()
        spec = f"openai-compat:{url}/v1#fake"
        jobs = _jobs(args.jobs, spec)
        elapsed = asyncio.run(_run(spec, jobs, args.concurrency))
        with urllib.request.urlopen(f"{url}/stats", timeout=10) as response:
            served = json.load(response)["requests"]
    finally:
        server.terminate()
        server.wait(timeout=10)
    ideal = math.ceil(args.jobs / args.concurrency) * args.latency
    ratio = elapsed / ideal
    print(f"machine: {len(os.sched_getaffinity(0))} cores")
    print(f"{args.jobs} jobs, concurrency {args.concurrency}, latency {args.latency:g} s: "
          f"{served} requests served")  # fmt: skip
    print(f"wall time {elapsed:.2f} s, ideal {ideal:.2f} s")
    verdict = "OK" if ratio <= TARGET else "OVER TARGET"
    print(f"ratio measured/ideal: {ratio:.3f} (target <= {TARGET}) {verdict}")
    return 0 if ratio <= TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
