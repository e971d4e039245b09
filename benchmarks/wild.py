"""Issue 20's Done-when bar, measured: the eval suite's labeled corpora audited by the
wild-model test double (tests/fakes/wild.py; never a model), clean and with each fault alone
in ``--rate`` of its answers.

    python benchmarks/wild.py [--rate 0.3] [--seed 20] [--faults extra_key,fenced] [--http]
                              [--json out.json]

Runs `vibe-audit eval`'s engine (vibe_audit.evals.suite.run_eval: the same pipeline and
scorer) offline; ``--http`` puts the double behind the fake OpenAI-compatible server so the
real openai-compat provider parses it. Prints per fault: recall (and its change from the
clean run), precision, findings, duplicates (findings repeating a labeled defect or a
restated rule hint; rule/model pairs among them), and the losses the run stats count
(dropped findings by reason, repairs, failed requests, empty answers), then whether the bar
holds: recall within 2 points of clean, duplicates <= 2% of findings, no loss uncounted.
About 15 s in process on 2 cores (about 30 s more with --http).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.fakes.wild import CLEAN, FAULTS, RATE, SEED  # noqa: E402
from tests.fakes.wild_eval import FaultRun, measure  # noqa: E402

RECALL_POINTS = 0.02
DUPLICATE_SHARE = 0.02


def verdict(run: FaultRun, clean: FaultRun) -> str:
    """'ok', or what breaks the bar."""
    broken = []
    low = run.recall is not None and clean.recall is not None
    if low and run.recall < clean.recall - RECALL_POINTS:  # type: ignore[operator]
        broken.append("recall")
    if run.duplicate_share > DUPLICATE_SHARE:
        broken.append("duplicates")
    if run.silent:
        broken.append(f"{len(run.silent)} silent")
    return "ok" if not broken else "FAIL: " + ", ".join(broken)


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def table(runs: dict[str, FaultRun], title: str) -> str:
    clean = runs[CLEAN]
    out = [
        title,
        f"{'fault':<19}{'hit':>7} {'recall':>6} {'delta':>6} {'prec':>6} {'found':>5} "
        f"{'dups':>4} {'dup%':>5} {'r/m':>3} {'rep':>4} {'fail':>4} {'empty':>5} "
        f"{'drop':>4}  bar / dropped by reason / model events",
    ]
    for fault, run in runs.items():
        delta = (
            f"{run.recall - clean.recall:+.3f}"
            if run.recall is not None and clean.recall is not None
            else "-"
        )
        hit = f"{run.injected}/{run.applicable}" if fault != CLEAN else "-"
        out.append(
            f"{fault:<19}{hit:>7} {_pct(run.recall):>6} {delta:>6} {_pct(run.precision):>6} "
            f"{run.findings:>5} {run.duplicates:>4} {run.duplicate_share:>5.1%} "
            f"{run.rule_model_pairs:>3} {run.repairs:>4} {run.failed:>4} {run.empty:>5} "
            f"{run.dropped_total:>4}  {verdict(run, clean) if fault != CLEAN else 'clean'}"
        )
        if run.dropped:
            out.append(f"{'':<21}dropped: {run.dropped}")
        if run.events:
            out.append(f"{'':<21}events: {run.events}")
        if run.silent:
            out.append(f"{'':<21}uncounted losses: {run.silent}")
        if run.duplicate_examples:
            out.append(f"{'':<21}duplicates e.g.: {run.duplicate_examples[:3]}")
    return "\n".join(out)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=float, default=RATE)
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--faults", default=",".join(FAULTS), help="comma-separated")
    parser.add_argument("--http", action="store_true", help="also behind the fake server")
    parser.add_argument("--json", type=Path, help="write the figures here")
    args = parser.parse_args()
    faults = [f for f in args.faults.split(",") if f]
    unknown = sorted(set(faults) - set(FAULTS))
    if unknown:
        parser.error(f"unknown fault(s) {unknown}; one of {sorted(FAULTS)}")
    machine = (
        f"{platform.machine()}, {os.cpu_count()} core(s), "
        f"{platform.python_implementation()} {platform.python_version()}"
    )
    print(f"wild-model test double (not a model), rate {args.rate:g}, seed {args.seed}")
    print(f"machine: {machine}")
    figures: dict[str, object] = {"rate": args.rate, "seed": args.seed, "machine": machine}
    modes = [("in-process", False)] + ([("http", True)] if args.http else [])
    for mode, http in modes:
        # 'shuffled' reorders answers in process (no clock); the server answers in order
        faults_here = [f for f in faults if f != "shuffled"] if http else faults
        started = time.perf_counter()
        runs = measure(faults_here, rate=args.rate, seed=args.seed, http=http)
        wall = time.perf_counter() - started
        print()
        print(table(runs, f"{mode}: {len(runs)} eval runs in {wall:.1f} s"))
        figures[mode] = {
            "wall_s": round(wall, 1),
            "runs": {f: {**r.summary(), "bar": verdict(r, runs[CLEAN])} for f, r in runs.items()},
        }
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
        print(f"\nfigures written to {args.json}")
    print(
        "\nhit: damaged answers / answers that could carry the fault; dups: findings "
        "repeating a labeled defect or a restated rule hint; r/m: rule/model pairs among "
        "them; rep: repairs (repair calls and in-place repairs); fail: failed or skipped "
        "requests; empty: answers recorded empty; drop: findings dropped in verification"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
