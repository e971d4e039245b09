"""The rule engine vs bandit, wall time, on the chunker benchmark's corpus (Django + SQLAlchemy).

    python benchmarks/rules.py [--repeat 3]

Both tools read the same directory in one process each, run --repeat times, best kept:
  vibe-audit  `vibe-audit run CORPUS --prompt all --format json` end to end (discovery, secret
              redaction, slicing, every built-in rule, report), no model;
  rules only  the same discovery + parse + every rule (no slicing, no report), for reference;
  bandit      `bandit -r CORPUS -f json` (bandit installed once into .bench/bandit).
Target: vibe-audit end to end <= bandit (ratio <= 1.0). Prints the times, finding counts,
the ratio and the machine.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.corpus import corpus, python_files  # noqa: E402

BANDIT = ROOT / ".bench" / "bandit"
BANDIT_VERSION = "bandit==1.9.4"
TARGET_RATIO = 1.0


def bandit_env() -> dict[str, str]:
    marker = BANDIT / ".installed"
    if not marker.exists() or marker.read_text(encoding="utf-8").strip() != BANDIT_VERSION:
        BANDIT.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [sys.executable, "-m", "pip", "install", "--quiet", "--upgrade", "--target",
             str(BANDIT), BANDIT_VERSION],
            check=True,
        )  # fmt: skip
        marker.write_text(BANDIT_VERSION + "\n", encoding="utf-8")
    return {**os.environ, "PYTHONPATH": str(BANDIT)}


def _timed(command: list[str], env: dict[str, str] | None = None) -> tuple[float, str]:
    started = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    seconds = time.perf_counter() - started
    if result.returncode not in (0, 1):
        raise SystemExit(f"{command[:3]} failed ({result.returncode}): {result.stderr[-500:]}")
    return seconds, result.stdout


def run_vibe(root: Path) -> tuple[float, int]:
    command = [sys.executable, "-m", "vibe_audit", "run", str(root), "--prompt", "all",
               "--format", "json", "--quiet", "--no-cache"]  # fmt: skip
    env = {k: v for k, v in os.environ.items() if not k.startswith("VIBE_AUDIT")}
    seconds, out = _timed(command, env)
    return seconds, len(json.loads(out)["findings"])


def run_rules_only(root: Path) -> tuple[float, int]:
    code = (
        "import json,sys,time;from pathlib import Path;"
        "from vibe_audit.chunker import discover;"
        "from vibe_audit.index import indexed;"
        "from vibe_audit.rules.engine import run_rules;from vibe_audit.schemas import AUDIT_IDS;"
        "t=time.perf_counter();f=run_rules(indexed(discover(Path(sys.argv[1])).files),"
        "list(AUDIT_IDS));print(json.dumps([time.perf_counter()-t,len(f)]))"
    )
    _, out = _timed([sys.executable, "-c", code, str(root)])
    seconds, count = json.loads(out)
    return float(seconds), int(count)


def run_bandit(root: Path, env: dict[str, str]) -> tuple[float, int]:
    command = [sys.executable, "-m", "bandit", "-r", str(root), "-f", "json", "-q"]
    seconds, out = _timed(command, env)
    return seconds, len(json.loads(out)["results"])


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    root = corpus()
    env = bandit_env()
    files = python_files(root)
    print(f"corpus: {len(files)} Python files ({root})")
    print(f"machine: {platform.machine()}, {len(os.sched_getaffinity(0))} cores, "
          f"Python {platform.python_version()}")  # fmt: skip
    best: dict[str, tuple[float, int]] = {}
    for _ in range(args.repeat):
        for name, run in (
            ("vibe-audit", lambda: run_vibe(root)),
            ("rules only", lambda: run_rules_only(root)),
            ("bandit", lambda: run_bandit(root, env)),
        ):
            seconds, count = run()
            if name not in best or seconds < best[name][0]:
                best[name] = (seconds, count)
    for name, (seconds, count) in best.items():
        print(f"{name:>10}: {seconds:6.2f} s (best of {args.repeat}), {count} findings")
    ratio = best["vibe-audit"][0] / best["bandit"][0]
    verdict = "OK" if ratio <= TARGET_RATIO else "SLOWER THAN BANDIT"
    print(f"ratio vibe-audit/bandit: {ratio:.2f} (target <= {TARGET_RATIO}) {verdict}")
    print(f"ratio rules-only/bandit: {best['rules only'][0] / best['bandit'][0]:.2f}")
    return 0 if ratio <= TARGET_RATIO else 1


if __name__ == "__main__":
    sys.exit(main())
