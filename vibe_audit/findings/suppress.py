"""Suppressions: inline ignore comments and a baseline file.

Inline: a comment ``vibe-audit: ignore[<rule-id or fingerprint>, ...]`` on a finding's
first line or on the line just above it suppresses that finding; ``vibe-audit: ignore``
with no brackets suppresses every finding there.

Baseline: a JSON file of known findings' fingerprints (written by --write-baseline). With
--baseline, only findings whose fingerprint is not in it are reported. Fingerprints survive
unrelated edits, so a baseline stays valid as the code around a finding moves.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from pydantic import BaseModel, ConfigDict, ValidationError

from vibe_audit.errors import UserError
from vibe_audit.schemas.models import Finding

_INLINE = re.compile(r"vibe-audit:\s*ignore(?:\[([^\]]*)\])?", re.IGNORECASE)
BASELINE_VERSION = 1


class BaselineEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")

    fingerprint: str
    rule_id: str | None
    path: str
    title: str


class Baseline(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: int = BASELINE_VERSION
    findings: list[BaselineEntry]


def _inline_ignores(finding: Finding, lines: list[str]) -> bool:
    start = finding.location.start_line
    for number in (start, start - 1):
        if not 1 <= number <= len(lines):
            continue
        match = _INLINE.search(lines[number - 1])
        if match is None:
            continue
        if match.group(1) is None:
            return True
        names = {n.strip() for n in match.group(1).split(",")}
        if finding.rule_id in names or finding.fingerprint in names:
            return True
    return False


def suppress(
    findings: list[Finding], lines_by_path: dict[str, list[str]], baseline: set[str]
) -> tuple[list[Finding], dict[str, int]]:
    """The findings left after inline ignores and the baseline, and the counts removed."""
    kept: list[Finding] = []
    counts = {"inline": 0, "baseline": 0}
    for finding in findings:
        if _inline_ignores(finding, lines_by_path.get(finding.location.path, [])):
            counts["inline"] += 1
        elif finding.fingerprint in baseline:
            counts["baseline"] += 1
        else:
            kept.append(finding)
    return kept, counts


def read_baseline(path: Path) -> set[str]:
    try:
        data = Baseline.model_validate(json.loads(path.read_text(encoding="utf-8")))
    except OSError as exc:
        raise UserError(f"--baseline {path}: {exc.strerror or exc}") from exc
    except (ValueError, ValidationError) as exc:
        raise UserError(f"--baseline {path}: not a vibe-audit baseline file") from exc
    return {entry.fingerprint for entry in data.findings}


def baseline_text(findings: list[Finding]) -> str:
    entries = [
        BaselineEntry(
            fingerprint=f.fingerprint, rule_id=f.rule_id, path=f.location.path, title=f.title
        )
        for f in sorted(findings, key=lambda f: (f.location.path, f.fingerprint))
    ]
    return Baseline(findings=entries).model_dump_json(indent=2) + "\n"
