"""Precision of the built-in rules on real code no one here wrote, from a committed triage.

    python benchmarks/precision.py                 # table; exit 1 on a gate or an unjudged finding
    python benchmarks/precision.py --stubs         # print triage entries to fill for unjudged ones
    python benchmarks/precision.py --write-precision   # refresh vibe_audit/rules/precision.json

Runs `vibe-audit run PKG --prompt all` (default settings: stable rules, test code skipped)
on every package of benchmarks/realworld.py and looks each finding up in
benchmarks/triage.toml, where a reviewer who read the code gave it a verdict:

    TP     a real defect, worth a reviewer's time at the reported severity
    FP     wrong: the code does not have the defect
    NOISE  true, but not worth reporting (or not at that severity)

Precision = TP / all judged findings. A finding is keyed by package, rule, severity, path and
the text of its first line (not the line number), so a change of severity needs a new verdict.
Gates (the issue's "Done when"): precision >= 85% over all findings and >= 90% over CRITICAL +
HIGH, no finding without a verdict, no finding in test code. The experimental rules
(--rules experimental) are measured too, from the same triage, and not gated.

Also checks the healthy-library bar: Django's SQLite backend (benchmarks/corpus.py) gets no
CRITICAL or HIGH finding and no audit score under 8/10.
"""

from __future__ import annotations

import argparse
import json
import sys
import tomllib
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from corpus import corpus as django_corpus  # noqa: E402
from realworld import corpus  # noqa: E402

from vibe_audit.agent.run import run_audit  # noqa: E402
from vibe_audit.chunker.testcode import is_test_path  # noqa: E402
from vibe_audit.rules.engine import load_rules  # noqa: E402
from vibe_audit.schemas import AUDIT_IDS, Finding, Report, RunRequest  # noqa: E402

TRIAGE = ROOT / "benchmarks" / "triage.toml"
PRECISION_FILE = ROOT / "vibe_audit" / "rules" / "precision.json"
VERDICTS = ("TP", "FP", "NOISE")
GATE_ALL, GATE_SEVERE, RULE_GATE = 0.85, 0.90, 0.80


@dataclass(frozen=True)
class Key:
    package: str
    rule: str
    severity: str
    path: str
    line: str


def key_of(package: str, finding: Finding) -> Key:
    first = finding.evidence[0].text.strip() if finding.evidence else ""
    return Key(package, finding.rule_id or "", finding.severity.value, finding.location.path, first)


def read_triage(path: Path = TRIAGE) -> dict[Key, tuple[str, str]]:
    data = tomllib.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    verdicts: dict[Key, tuple[str, str]] = {}
    for entry in data.get("finding", []):
        key = Key(entry["package"], entry["rule"], entry["severity"], entry["path"], entry["line"])
        if entry["verdict"] not in VERDICTS:
            raise SystemExit(f"{path}: verdict {entry['verdict']!r} is not one of {VERDICTS}")
        if not entry.get("reason", "").strip():
            raise SystemExit(f"{path}: {key} has no reason")
        verdicts[key] = (entry["verdict"], entry["reason"])
    return verdicts


def run(target: Path, rule_set: str) -> Report:
    report = run_audit(RunRequest(target=str(target), audits=list(AUDIT_IDS), rules=rule_set))  # type: ignore[arg-type]
    assert isinstance(report, Report)
    return report


def _toml(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)


def stub(key: Key, at: int) -> str:
    return (
        f"[[finding]]\npackage = {_toml(key.package)}\nrule = {_toml(key.rule)}\n"
        f"severity = {_toml(key.severity)}\npath = {_toml(key.path)}\nat = {at}\n"
        f'line = {_toml(key.line)}\nverdict = "?"\nreason = ""\n'
    )


def _pct(tp: int, n: int) -> str:
    return f"{tp / n:.0%}" if n else "-"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--stubs", action="store_true", help="print entries for unjudged ones")
    parser.add_argument("--write-precision", action="store_true", help=f"write {PRECISION_FILE}")
    args = parser.parse_args()
    verdicts = read_triage()
    per_rule: dict[str, Counter[str]] = defaultdict(Counter)
    per_severity: dict[str, Counter[str]] = defaultdict(Counter)
    experimental: dict[str, Counter[str]] = defaultdict(Counter)
    unjudged: list[tuple[Key, int]] = []
    in_tests: list[str] = []
    files = 0
    stable_ids = {r.meta.id for r in load_rules().values() if not r.meta.experimental}
    for package, path in corpus():
        default = run(path, "stable")
        files += default.stats.files_audited
        for finding in default.findings:
            key = key_of(package.name, finding)
            where = f"{package.name}/{finding.location.path}:{finding.location.start_line}"
            if is_test_path(finding.location.path):
                in_tests.append(where)
            verdict = verdicts.get(key)
            if verdict is None:
                unjudged.append((key, finding.location.start_line))
                continue
            per_rule[key.rule][verdict[0]] += 1
            per_severity[key.severity][verdict[0]] += 1
        for finding in run(path, "experimental").findings:
            if finding.rule_id in stable_ids:
                continue
            verdict = verdicts.get(key_of(package.name, finding))
            experimental[finding.rule_id or ""][verdict[0] if verdict else "unjudged"] += 1
    print(f"real-world corpus: {len(corpus())} packages, {files} files audited (default settings)")
    print(f"\n{'rule':<40} {'findings':>8} {'TP':>4} {'FP':>4} {'NOISE':>5} {'precision':>9}")
    total: Counter[str] = Counter()
    for rule in sorted(per_rule):
        c = per_rule[rule]
        n = sum(c.values())
        total += c
        flag = "  < 80% gate" if n and c["TP"] / n < RULE_GATE else ""
        print(f"{rule:<40} {n:>8} {c['TP']:>4} {c['FP']:>4} {c['NOISE']:>5} "
              f"{_pct(c['TP'], n):>9}{flag}")  # fmt: skip
    n_all = sum(total.values())
    print(f"{'all (stable rules)':<40} {n_all:>8} {total['TP']:>4} {total['FP']:>4} "
          f"{total['NOISE']:>5} {_pct(total['TP'], n_all):>9}")  # fmt: skip
    print(f"\n{'severity':<10} {'findings':>8} {'TP':>4} {'precision':>9}")
    for severity in ("CRITICAL", "HIGH", "MEDIUM", "MONITOR"):
        c = per_severity.get(severity, Counter())
        n = sum(c.values())
        print(f"{severity:<10} {n:>8} {c['TP']:>4} {_pct(c['TP'], n):>9}")
    severe = per_severity.get("CRITICAL", Counter()) + per_severity.get("HIGH", Counter())
    n_severe = sum(severe.values())
    print(f"{'CRIT+HIGH':<10} {n_severe:>8} {severe['TP']:>4} {_pct(severe['TP'], n_severe):>9}")
    if experimental:
        print("\nexperimental rules (--rules experimental; not gated)")
        for rule in sorted(experimental):
            c = experimental[rule]
            judged = c["TP"] + c["FP"] + c["NOISE"]
            print(f"{rule:<40} {sum(c.values()):>8} findings, {c['TP']} TP of {judged} judged "
                  f"({_pct(c['TP'], judged)}), {c['unjudged']} unjudged")  # fmt: skip
    failures: list[str] = []
    if unjudged:
        failures.append(f"{len(unjudged)} finding(s) without a verdict in {TRIAGE.name}")
        for key, at in unjudged:
            print(f"unjudged: {key.package}/{key.path}:{at} {key.rule} {key.severity} {key.line!r}")
            if args.stubs:
                print(stub(key, at))
    if in_tests:
        failures.append(f"{len(in_tests)} finding(s) in test code: {', '.join(in_tests[:5])}")
    if n_all and total["TP"] / n_all < GATE_ALL:
        failures.append(f"precision {_pct(total['TP'], n_all)} < {GATE_ALL:.0%}")
    if n_severe and severe["TP"] / n_severe < GATE_SEVERE:
        failures.append(
            f"CRITICAL+HIGH precision {_pct(severe['TP'], n_severe)} < {GATE_SEVERE:.0%}"
        )
    failures += healthy_library()
    if args.write_precision:
        write_precision(per_rule, experimental)
    for failure in failures:
        print(f"FAIL: {failure}")
    if not failures:
        print(f"\nok: precision {_pct(total['TP'], n_all)} (>= {GATE_ALL:.0%}), "
              f"CRITICAL+HIGH {_pct(severe['TP'], n_severe)} (>= {GATE_SEVERE:.0%}), "
              "every finding judged")  # fmt: skip
    return 1 if failures else 0


def healthy_library() -> list[str]:
    """Django's SQLite backend: no CRITICAL/HIGH finding, every score >= 8/10."""
    backend = django_corpus() / "django" / "db" / "backends" / "sqlite3"
    report = run(backend, "stable")
    severe = [f for f in report.findings if f.severity.value in ("CRITICAL", "HIGH")]
    scores = {s.audit: s.score for s in report.sections}
    print(f"\nDjango 5.2.19 db/backends/sqlite3: {len(report.findings)} finding(s), "
          f"{len(severe)} CRITICAL/HIGH, scores {scores}")  # fmt: skip
    failures = [f"Django SQLite backend: {f.severity.value} {f.rule_id} at "
                f"{f.location.path}:{f.location.start_line}" for f in severe]  # fmt: skip
    failures += [
        f"Django SQLite backend: {a} scored {s}/10"
        for a, s in scores.items()
        if s is not None and s < 8
    ]
    return failures


def write_precision(
    per_rule: dict[str, Counter[str]], experimental: dict[str, Counter[str]]
) -> None:
    data: dict[str, dict[str, int]] = {}
    for rule, c in {**per_rule, **experimental}.items():
        data[rule] = {"findings": c["TP"] + c["FP"] + c["NOISE"], "tp": c["TP"]}
    PRECISION_FILE.write_text(json.dumps(dict(sorted(data.items())), indent=1) + "\n")
    print(f"wrote {PRECISION_FILE.relative_to(ROOT)}")


if __name__ == "__main__":
    sys.exit(main())
