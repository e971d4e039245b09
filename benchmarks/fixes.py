"""The rules' patches on real code no one here wrote: proposed, verified, offered.

    python benchmarks/fixes.py              # table; exit 1 when a proposed SAFE patch fails
    python benchmarks/fixes.py --show 10    # also print up to 10 offered patches as diffs

Runs the default rules on every package of benchmarks/realworld.py (as `vibe-audit run`
does: test code skipped, suppressions honoured), verifies every patch a rule proposes
(vibe_audit.fixes.verify: it applies, the file parses, nothing else changes, the rule no
longer fires there) and counts them per rule. The gate: every SAFE patch proposed on this
corpus verifies; an UNSAFE one may fail (it is then not offered, and says why).
"""

from __future__ import annotations

import argparse
import difflib
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from realworld import corpus  # noqa: E402

from vibe_audit.agent.run import run_audit  # noqa: E402
from vibe_audit.fixes import patched_files  # noqa: E402
from vibe_audit.schemas import AUDIT_IDS, Finding, PatchSafety, Report, RunRequest  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--show", type=int, default=0, help="print this many offered patches")
    args = parser.parse_args(argv)
    counts: Counter[tuple[str, str, str]] = Counter()
    failed: list[str] = []
    shown = 0
    for package, path in corpus():
        request = RunRequest(target=str(path), audits=list(AUDIT_IDS))
        report = run_audit(request, patch_limit=10_000)
        assert isinstance(report, Report)
        for finding in report.findings:
            patch = finding.patch
            if patch is None:
                continue
            state = "offered" if patch.offered else "refused"
            counts[(finding.rule_id or "", patch.safety.value, state)] += 1
            if not patch.offered and patch.safety is PatchSafety.SAFE:
                failed.append(f"{package.name}/{_where(finding)}: {patch.reason}")
            if patch.offered and shown < args.show:
                shown += 1
                print(_diff(Path(report.stats.root), finding, package.name))
    rules = sorted({rule for rule, _, _ in counts})
    print(f"{'rule':<40} {'safe offered':>12} {'safe refused':>12} {'unsafe offered':>14} "
          f"{'unsafe refused':>14}")  # fmt: skip
    for rule in rules:
        row = [counts[(rule, s, o)] for s in ("safe", "unsafe") for o in ("offered", "refused")]
        print(f"{rule:<40} {row[0]:>12} {row[1]:>12} {row[2]:>14} {row[3]:>14}")
    for line in failed:
        print(f"SAFE patch refused: {line}")
    total = sum(counts.values())
    offered = sum(n for (_, _, o), n in counts.items() if o == "offered")
    print(f"{total} patch(es) proposed, {offered} verified and offered, {len(failed)} safe refused")
    return 1 if failed else 0


def _where(finding: Finding) -> str:
    return f"{finding.location.path}:{finding.location.start_line} {finding.rule_id}"


def _diff(root: Path, finding: Finding, package: str) -> str:
    name = finding.location.path
    old = (root / name).read_text(encoding="utf-8")
    changed, _ = patched_files([finding], {name: old}, unsafe=True)
    new = changed.get(name, old)
    assert finding.patch is not None
    head = f"# {package}: {_where(finding)} ({finding.patch.safety.value}): "
    body = difflib.unified_diff(
        old.splitlines(keepends=True), new.splitlines(keepends=True), f"a/{name}", f"b/{name}"
    )
    return head + finding.patch.description + "\n" + "".join(body)


if __name__ == "__main__":
    raise SystemExit(main())
