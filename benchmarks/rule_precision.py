"""Precision and recall of the built-in rules, per audit, on labeled code.

    python benchmarks/rule_precision.py [LABELED_DIR ...] [--min-precision 0.9]

A labeled directory holds code plus a LABELS.toml or DEFECTS.md (formats:
vibe_audit/evals/labels.py).
Default: every examples/*/ and vibe_audit/evals/corpora/*/ that has one. Precision counts a
finding as true when it lies on a labeled defect; recall counts labeled defects that some
rule finding hits, including defects no rule claims (so recall shows what only a model can
add). Exits 1 when an audit's precision is below --min-precision.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from vibe_audit.chunker import DiscoveryOptions, discover  # noqa: E402
from vibe_audit.evals.labels import LABEL_FILES, Labels, Place, label_file, read_labels  # noqa: E402
from vibe_audit.evals.metrics import Scores, score_run  # noqa: E402
from vibe_audit.index import indexed  # noqa: E402
from vibe_audit.rules.engine import run_rules  # noqa: E402
from vibe_audit.schemas import AUDIT_IDS, Finding  # noqa: E402


def labeled_dirs() -> list[Path]:
    roots = [ROOT / "examples", ROOT / "vibe_audit" / "evals" / "corpora"]
    return sorted(p for r in roots if r.is_dir() for p in r.iterdir() if label_file(p))


def evaluate(directories: list[Path]) -> Scores:
    """The rules' findings over all the directories, scored against their labels (a finding
    is true when it overlaps a labeled defect that accepts the finding's audit)."""
    all_labels = Labels(defects=[], correct=[])
    all_findings: list[Finding] = []
    for directory in directories:
        labels = read_labels(directory)
        found = discover(directory, DiscoveryOptions(exclude=LABEL_FILES))
        findings = run_rules(indexed(found.files), list(AUDIT_IDS))
        prefix = f"{directory.name}/"
        for finding in findings:
            finding.location.path = prefix + finding.location.path
        all_findings.extend(findings)
        all_labels.defects.extend(
            replace(d, places=tuple(Place(prefix + p.path, p.start, p.end) for p in d.places))
            for d in labels.defects
        )
    return score_run(all_labels, all_findings, list(AUDIT_IDS))


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.0%}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[1])
    parser.add_argument("dirs", nargs="*", type=Path)
    parser.add_argument("--min-precision", type=float, default=0.9)
    args = parser.parse_args()
    directories = args.dirs or labeled_dirs()
    scores = evaluate(directories)
    print(f"labeled code: {', '.join(str(d) for d in directories)}")
    print(f"{'audit':<12} {'findings':>8} {'true':>5} {'precision':>9} {'labeled':>8} "
          f"{'found':>6} {'recall':>7}")  # fmt: skip
    failed = False
    for audit, s in scores.per_audit.items():
        print(f"{audit:<12} {s.findings:>8} {s.true_positives:>5} {_pct(s.precision):>9} "
              f"{s.labels:>8} {s.found:>6} {_pct(s.recall):>7}")  # fmt: skip
        failed |= s.precision is not None and s.precision < args.min_precision
    for line in scores.false_positives:
        print(f"false positive: {line}")
    for audit, lines in scores.wrong_audit.items():
        for line in lines:
            print(f"false positive for {audit} (the label does not accept it): {line}")
    print(
        "FAIL: precision below target" if failed else f"ok: precision >= {args.min_precision:.0%}"
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
