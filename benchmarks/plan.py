"""Planned tokens and cost of a model run over Django + SQLAlchemy with --prompt all.

    python benchmarks/plan.py [--model openai:gpt-4.1-mini] [--triage openai:gpt-4.1-nano]

Nothing is sent: this is the planner of `vibe-audit run --dry-run`. Prints, for the chunker
benchmark's corpus:
  naive    every file through every audit prompt, whole (system prompt + file), no routing;
  live     the routed, packed plan of a normal run (system, context pack, interaction
           context, hints and code per request);
  batch    the same requests through the provider's batch API (--batch): same tokens, at
           the batch price (half the list price);
  triaged  a --triage pass over the same routed chunks at the triage model's price, plus a
           main pass between its bounds: only rule-flagged chunks (the triage model flags
           nothing) and everything (it flags everything);
with input tokens, requests and the worst-case cost (each answer using all of
--max-output-tokens, what --max-cost reserves). Target: live <= 35% of naive in tokens.

Measured (2 cores, estimated token counts, 1,165 files, 15,917 chunks): naive 5,825
requests, 34.1M tokens; live 829 requests, 10.3M tokens: 30% of naive (one-file packs of
3,000 tokens and one context pack for all audits were 2,994 requests, 19.9M tokens, 59%).
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.corpus import corpus
from vibe_audit.agent.batch import BATCH_DISCOUNT
from vibe_audit.agent.context_pack import context_packs
from vibe_audit.agent.planner import PlanInputs, builtin_prices, cache_price_for, plan
from vibe_audit.agent.providers.static import StaticProvider
from vibe_audit.chunker import DiscoveryOptions, discover, slice_file
from vibe_audit.chunker.tokens import count_tokens_batch, token_counter
from vibe_audit.index import indexed
from vibe_audit.prompts import get_audit
from vibe_audit.prompts.render import render_system
from vibe_audit.schemas import AUDIT_IDS, Plan

TARGET = 0.35
MAX_OUT = 4096


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="openai:gpt-4.1-mini")
    parser.add_argument("--triage", default="openai:gpt-4.1-nano")
    args = parser.parse_args()
    prices = builtin_prices()
    for spec in (args.model, args.triage):
        if spec not in prices:
            raise SystemExit(f"{spec}: no price in vibe_audit/agent/pricing.toml")
    root = corpus()
    started = time.perf_counter()
    found = discover(root, DiscoveryOptions())
    chunks = [c for source in found.files for c in slice_file(source)]
    repo = indexed(found.files)
    audits = list(AUDIT_IDS)
    static = StaticProvider().audit(repo, audits)
    pack = context_packs(repo.facts, audits)

    def planned(spec: str, triaged: set[tuple[str, str]] | None = None) -> Plan:
        provider, model = spec.split(":", 1)
        return plan(
            PlanInputs(
                spec=spec, provider_name=provider, model=model, price=prices[spec],
                chunks=chunks, audits=audits, max_tokens_out=MAX_OUT,
                rule_findings=static.findings, repo_context=pack,
                cache_price=cache_price_for(spec, False), resources=repo.resources,
                triaged=triaged,  # type: ignore[arg-type]
            )
        )  # fmt: skip

    live = planned(args.model)
    triage_pass = planned(args.triage)
    rules_only = planned(args.model, triaged=set())
    systems = count_tokens_batch([render_system(get_audit(a)) for a in audits])
    files = count_tokens_batch([s.text for s in found.files])
    naive_tokens = sum(system + size for system in systems for size in files)
    naive_requests = len(files) * len(audits)
    price_in, price_out = prices[args.model]
    naive_cost = (naive_tokens * price_in + naive_requests * MAX_OUT * price_out) / 1e6
    elapsed = time.perf_counter() - started

    def tokens(p: Plan) -> int:
        return sum(j.tokens_in for j in p.jobs)

    def cost(p: Plan) -> float:
        return sum(j.cost_usd for j in p.jobs)

    print(f"corpus: {len(found.files)} files, {len(chunks)} chunks ({root})")
    print(f"machine: {platform.machine()}, {os_cpus()} cores, Python {platform.python_version()}")
    print(f"tokens counted by {token_counter()}; worst-case cost assumes {MAX_OUT} output tokens")
    print(f"{'plan':<34} {'requests':>9} {'tokens in':>12} {'of naive':>9} {'max cost $':>11}")
    rows = [
        (f"naive ({args.model})", naive_requests, naive_tokens, naive_cost),
        (f"live ({args.model})", len(live.jobs), tokens(live), cost(live)),
        (f"batch ({args.model})", len(live.jobs), tokens(live), cost(live) * BATCH_DISCOUNT),
        (f"triage pass ({args.triage})", len(triage_pass.jobs), tokens(triage_pass),
         cost(triage_pass)),
        ("  + main pass, rule-flagged only", len(rules_only.jobs), tokens(rules_only),
         cost(rules_only)),
        ("  + main pass, everything flagged", len(live.jobs), tokens(live), cost(live)),
    ]  # fmt: skip
    for name, requests, count, usd in rows:
        print(f"{name:<34} {requests:>9} {count:>12,} {count / naive_tokens:>8.0%} {usd:>11.2f}")
    low, high = cost(triage_pass) + cost(rules_only), cost(triage_pass) + cost(live)
    print(f"triaged run: {low:.2f}-{high:.2f} USD (live: {cost(live):.2f} USD)")
    ratio = tokens(live) / naive_tokens
    verdict = "OK" if ratio <= TARGET else "ABOVE TARGET"
    print(f"live / naive tokens: {ratio:.2f} (target <= {TARGET}) {verdict}; {elapsed:.0f} s")
    return 0


def os_cpus() -> int:
    import os

    return os.cpu_count() or 0


if __name__ == "__main__":
    sys.exit(main())
