"""Chunking vs bare tree-sitter parsing of the same files, on Django + SQLAlchemy.

    python benchmarks/chunker.py [--repeat 3]

Each phase runs in a fresh interpreter (so peak memory is its own), --repeat times, and the
best wall time is kept:
  bare   read every .py file of the corpus and parse it with tree-sitter-python;
  chunk  vibe-audit's discovery (walk, skip rules, secret redaction) + slicing (with the
         token estimate) of the same files.
Target: chunk <= 2.0 x bare. Prints both times, the ratio and each phase's peak RSS, and
the time of the separate exact token recount (tiktoken, when its encoding is cached).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.corpus import corpus, python_files

TARGET_RATIO = 2.0


def _bare(root: Path) -> dict[str, float]:
    import tree_sitter
    import tree_sitter_python

    parser = tree_sitter.Parser(tree_sitter.Language(tree_sitter_python.language()))
    started = time.perf_counter()
    nodes = 0
    for path in python_files(root):
        nodes += parser.parse(path.read_bytes()).root_node.child_count
    return {"seconds": time.perf_counter() - started, "units": nodes}


def _chunk(root: Path) -> dict[str, float]:
    from vibe_audit.chunker import DiscoveryOptions, discover, recount, slice_file

    started = time.perf_counter()
    found = discover(root, DiscoveryOptions(include=("*.py",), use_git=False))
    chunks = [c for source in found.files for c in slice_file(source)]
    sliced = time.perf_counter()
    recount(chunks)  # exact counts with tiktoken when its encoding is cached; else a no-op
    return {
        "seconds": sliced - started,
        "recount_seconds": time.perf_counter() - sliced,
        "units": len(chunks),
    }


def _phase(name: str) -> None:
    result = {"bare": _bare, "chunk": _chunk}[name](corpus())
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(result))


def _run(name: str) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, __file__, "--phase", name], capture_output=True, text=True, check=True
    ).stdout
    return dict(json.loads(out.strip().splitlines()[-1]))


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--phase", choices=["bare", "chunk"])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    if args.phase:
        _phase(args.phase)
        return 0
    root = corpus()
    files = python_files(root)
    lines = sum(len(p.read_bytes().splitlines()) for p in files)
    from vibe_audit.chunker import token_counter

    runs: dict[str, list[dict[str, float]]] = {"bare": [], "chunk": []}
    for _ in range(args.repeat):
        for name in runs:
            runs[name].append(_run(name))
    best = {name: min(r, key=lambda x: x["seconds"]) for name, r in runs.items()}
    ratio = best["chunk"]["seconds"] / best["bare"]["seconds"]
    print(f"corpus: {len(files)} files, {lines} lines ({root})")
    print(f"machine: {platform.machine()}, {len(os.sched_getaffinity(0))} cores")
    print(f"token counter: {token_counter()}")
    for name in ("bare", "chunk"):
        b = best[name]
        seconds, rss = b["seconds"], b["peak_rss_mb"]
        print(f"{name:>5}: {seconds:.2f} s (best of {args.repeat}), peak RSS {rss:.0f} MB")
    print(f"chunks: {int(best['chunk']['units'])}")
    print(
        f"token recount ({token_counter()}) after slicing: "
        f"{best['chunk']['recount_seconds']:.2f} s (not part of the ratio)"
    )
    verdict = "OK" if ratio <= TARGET_RATIO else "OVER TARGET"
    print(f"ratio chunk/bare: {ratio:.2f} (target <= {TARGET_RATIO}) {verdict}")
    return 0 if ratio <= TARGET_RATIO else 1


if __name__ == "__main__":
    sys.exit(main())
