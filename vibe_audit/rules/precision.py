"""Each rule's measured precision on the real-world corpus (benchmarks/precision.py).

precision.json is written by ``python benchmarks/precision.py --write-precision`` from the
committed triage (benchmarks/triage.toml): for each rule, the findings it reported on the
pinned packages of benchmarks/realworld.py and how many a reviewer judged true positives.
A rule with no entry reported nothing there: its precision is not measured.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path

PRECISION_FILE = Path(__file__).with_name("precision.json")
GATE = 0.80  # a stable rule below this is narrowed, demoted or made experimental


@dataclass(frozen=True)
class Measured:
    findings: int
    true_positives: int

    @property
    def precision(self) -> float | None:
        return self.true_positives / self.findings if self.findings else None

    def label(self) -> str:
        value = self.precision
        if value is None:
            return "-"
        return f"{value:.0%} ({self.true_positives}/{self.findings})"


@cache
def measured() -> dict[str, Measured]:
    if not PRECISION_FILE.exists():
        return {}
    data = json.loads(PRECISION_FILE.read_text(encoding="utf-8"))
    return {rule: Measured(v["findings"], v["tp"]) for rule, v in data.items()}


def label(rule_id: str) -> str:
    """'100% (5/5)', or 'not measured' when the rule reported nothing on the corpus."""
    found = measured().get(rule_id)
    return found.label() if found is not None else "no findings"
