"""Labeled defects, and how findings are scored against them.

Two label formats. The eval corpora (vibe_audit/evals/corpora/<service>/LABELS.toml):

    [[defect]]
    id = "scanflow-01"
    path = "app/db.py"
    lines = [26, 28]                       # inclusive
    categories = { sqlite = "WAL Config", concurrency = "SQLite" }   # acceptable audits
    severity = "HIGH"
    title = "..."
    explanation = "..."
    also = [{ path = "app/repository.py", lines = [77, 79] }]   # optional: more places
    [[decoy]]                              # correct code that looks risky
    id = "scanflow-d01"
    path = "app/checkpoints.py"
    lines = [30, 38]
    why = "..."

A label with places in more than one file is a cross-file defect (a status checked in one
file and written without a guard in another): the oracle test double answers it only when
every place is visible in the request, in its code or in its interaction context.

And the example apps' markdown DEFECTS.md: a table of deliberate defects

    | # | file:line | defect | audits | rule |
    | 3 | app/db.py:26 | ... | sqlite, concurrency | `sqlite-wal-not-enabled` |

where the location cell lists one or more places (``app/main.py:28, :40-45, :49``; text in
parentheses is ignored) and the rule cell names the built-in rule expected to find it, or
"—"; then a "## Deliberately correct patterns" table of places nothing may flag.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from vibe_audit.schemas import AUDIT_IDS, AuditId, Finding

CORRECT_HEADING = "## Deliberately correct patterns"
_ROW = re.compile(r"^\| (\d+) \| ([^|]+) \|[^|]*\| ([a-z, ]+) \| ([^|]+) \|$", re.M)
_PLACE = re.compile(r"(?:([\w/.-]+))?:(\d+)(?:-(\d+))?")
_CORRECT = re.compile(r"^\| ([\w/.-]+):(\d+)(?:-(\d+))? \|", re.M)


class LabelError(ValueError):
    """A label file that cannot be read as labels."""


# A finding matches a labeled place in the same file when their line ranges overlap, each
# side widened by this many lines (a model's or a rule's anchor line may sit on the call
# rather than on the argument the label marks).
LINE_TOLERANCE = 3
# A finding spanning more lines than this is matched by its first line only, so one finding
# over a whole function cannot claim every label inside it.
MAX_MATCH_SPAN = 15


@dataclass(frozen=True)
class Place:
    path: str
    start: int
    end: int

    def holds(self, path: str, line: int) -> bool:
        return path == self.path and self.start <= line <= self.end

    def overlaps(self, path: str, start: int, end: int) -> bool:
        if end - start + 1 > MAX_MATCH_SPAN:
            end = start
        return (
            path == self.path
            and start <= self.end + LINE_TOLERANCE
            and end >= self.start - LINE_TOLERANCE
        )


@dataclass(frozen=True)
class Defect:
    id: str
    places: tuple[Place, ...]
    audits: tuple[AuditId, ...]
    rule: str | None
    categories: dict[str, str] = field(default_factory=dict)  # audit -> category
    severity: str | None = None
    title: str = ""

    @property
    def cross_file(self) -> bool:
        return len({p.path for p in self.places}) > 1

    def matches(self, finding: Finding) -> bool:
        where = finding.location
        return any(p.overlaps(where.path, where.start_line, where.end_line) for p in self.places)


@dataclass(frozen=True)
class Labels:
    defects: list[Defect]
    correct: list[Place]


LABEL_FILES = ("LABELS.toml", "DEFECTS.md")


def label_file(directory: Path) -> Path | None:
    """The label file of a labeled directory, or None."""
    return next((directory / n for n in LABEL_FILES if (directory / n).is_file()), None)


def read_labels(path: Path) -> Labels:
    """Labels from a LABELS.toml or DEFECTS.md (or a directory holding one)."""
    if path.is_dir():
        found = label_file(path)
        if found is None:
            raise LabelError(f"{path}: no {' or '.join(LABEL_FILES)}")
        path = found
    if path.suffix == ".toml":
        return _read_toml(path)
    text = path.read_text(encoding="utf-8")
    defects_part, _, correct_part = text.partition(CORRECT_HEADING)
    defects = [_defect(m, path) for m in _ROW.finditer(defects_part)]
    if not defects:
        raise LabelError(f"{path}: no defect rows")
    correct = [
        Place(p, int(start), int(end or start)) for p, start, end in _CORRECT.findall(correct_part)
    ]
    return Labels(defects, correct)


def _defect(match: re.Match[str], source: Path) -> Defect:
    number, where, audits, rule = match.groups()
    where = re.sub(r"\([^)]*\)", "", where)
    places: list[Place] = []
    current = ""
    for path, start, end in _PLACE.findall(where):
        current = path or current
        if not current:
            raise LabelError(f"{source}: defect {number}: a place without a file: {where!r}")
        places.append(Place(current, int(start), int(end or start)))
    names = [a.strip() for a in audits.split(",")]
    unknown = [a for a in names if a not in AUDIT_IDS]
    if unknown:
        raise LabelError(f"{source}: defect {number}: unknown audits {unknown}")
    rule_id = rule.strip().strip("`")
    return Defect(
        number,
        tuple(places),
        tuple(a for a in AUDIT_IDS if a in names),
        rule_id if re.fullmatch(r"[a-z0-9-]+", rule_id) else None,
    )


def _read_toml(path: Path) -> Labels:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        defects = []
        for item in data.get("defect", []):
            start, end = item["lines"]
            categories = dict(item["categories"])
            unknown = [a for a in categories if a not in AUDIT_IDS]
            if unknown or not categories:
                raise LabelError(f"{path}: {item['id']}: bad audits {unknown or 'none'}")
            defects.append(
                Defect(
                    id=item["id"],
                    places=(
                        Place(item["path"], int(start), int(end)),
                        *(
                            Place(extra["path"], int(extra["lines"][0]), int(extra["lines"][1]))
                            for extra in item.get("also", [])
                        ),
                    ),
                    audits=tuple(a for a in AUDIT_IDS if a in categories),
                    rule=item.get("rule"),
                    categories=categories,
                    severity=item["severity"],
                    title=item["title"],
                )
            )
        correct = [
            Place(d["path"], int(d["lines"][0]), int(d["lines"][1])) for d in data.get("decoy", [])
        ]
    except (KeyError, TypeError, ValueError) as exc:
        if isinstance(exc, LabelError):
            raise
        raise LabelError(f"{path}: malformed label: {exc}") from exc
    if not defects:
        raise LabelError(f"{path}: no [[defect]] entries")
    return Labels(defects, correct)
