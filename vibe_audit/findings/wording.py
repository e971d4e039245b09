"""Report wording from the audited repository's own facts.

The audit templates' testing strategy, verification commands and monitoring are the
documents' own lines, adapted by two kinds of markup that ``tailor`` resolves from
``RepoWords``, the facts a run knows about the repository:

- a language tag, ``[python] ...`` or ``[typescript|javascript] ...``: the line is shown
  (without its tag) only when the repository has code in one of those languages, so a Rust
  repository is not told to run Python and a backend is not told to write browser tests;
- placeholders, ``{database}``, ``{state_files}``, ``{status_table}``...: filled from the
  repository's SQLite database files, the state files it writes, its tables. A placeholder
  belongs to one group of facts (``GROUPS``); the line is repeated once per fact of each
  group it uses (at most ``MAX_LINES`` times), and dropped when the repository has no such
  subject (``{database}`` without SQLite). A subject the index cannot name gets a generic
  ``<...>`` value (``GENERIC``).

Without facts (``words=None``) tagged lines are left out and placeholders get the generic
values.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field

if TYPE_CHECKING:
    from vibe_audit.rules.context import RepoContext

MAX_LINES = 3
_PLACEHOLDER = re.compile(r"\{(\w+)\}")
_TAG = re.compile(r"^\[([a-z]+(?:\|[a-z]+)*)\]\s+")

_LANGUAGE_ALIASES = {"tsx": "typescript", "jsx": "javascript"}

# Placeholder group -> its placeholder names.
GROUPS: dict[str, tuple[str, ...]] = {
    "database": ("database",),
    "state": ("state_dir", "state_files"),
    "status_table": ("status_table", "status_column"),
    "reference": ("child_table", "child_column", "parent_table", "parent_column"),
}
# The row each group yields when the facts are unknown.
GENERIC: dict[str, dict[str, str]] = {
    "database": {"database": "<database file>"},
    "state": {"state_dir": "<state dir>", "state_files": "<state dir>/*.json"},
    "status_table": {"status_table": "<table with a status column>", "status_column": "status"},
    "reference": {
        "child_table": "<child table>",
        "child_column": "<parent>_id",
        "parent_table": "<parent table>",
        "parent_column": "id",
    },
}


class RepoWords(BaseModel):
    """What a report may say about the audited repository, from its own code."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    languages: list[str] = Field(default_factory=list, description="Language ids, by use.")
    sqlite: bool = Field(default=False, description="The code uses SQLite.")
    databases: list[str] = Field(
        default_factory=list, description="SQLite database files the code names literally."
    )
    state_files: list[str] = Field(
        default_factory=list,
        description="Patterns of the JSON state files the code writes ('<NAME>' = computed).",
    )
    status_tables: list[tuple[str, str]] = Field(
        default_factory=list, description="(table, column) of tables with a status or state."
    )
    references: list[tuple[str, str, str, str]] = Field(
        default_factory=list,
        description="Foreign keys: (child table, child column, parent table, parent column).",
    )


def tailor(lines: Iterable[str], words: RepoWords | None) -> list[str]:
    """``lines`` with their placeholders filled from ``words`` (see the module doc)."""
    rows = _rows(words)
    languages = {_LANGUAGE_ALIASES.get(x, x) for x in words.languages} if words else set()
    out: list[str] = []
    for tagged in lines:
        tag = _TAG.match(tagged)
        if tag and not languages & set(tag.group(1).split("|")):
            continue
        line = tagged[tag.end() :] if tag else tagged
        names = set(_PLACEHOLDER.findall(line))
        combos: list[dict[str, str]] = [{}]
        for group, keys in GROUPS.items():
            used = names & set(keys)
            if not used:
                continue
            fits = [row for row in rows[group] if used <= row.keys()]
            combos = [combo | row for combo in combos for row in fits][:MAX_LINES]
        for combo in combos:
            filled = _fill(line, combo)
            if filled not in out:
                out.append(filled)
    return out


def _fill(line: str, values: dict[str, str]) -> str:
    return _PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), line)


def _rows(words: RepoWords | None) -> dict[str, list[dict[str, str]]]:
    if words is None:
        return {group: [row] for group, row in GENERIC.items()}
    return {
        "database": [{"database": d} for d in words.databases]
        or ([GENERIC["database"]] if words.sqlite else []),
        "state": [
            {"state_dir": _fixed_prefix(pattern), "state_files": pattern}
            for pattern in words.state_files
        ]
        or [GENERIC["state"]],
        "status_table": [{"status_table": t, "status_column": c} for t, c in words.status_tables]
        or [GENERIC["status_table"]],
        "reference": [
            dict(zip(GROUPS["reference"], reference, strict=True)) for reference in words.references
        ]
        or [GENERIC["reference"]],
    }


def _fixed_prefix(pattern: str) -> str:
    """The directory part of a path pattern before its first wildcard ('.' if none)."""
    parts = pattern.split("/")[:-1]
    fixed = []
    for part in parts:
        if "*" in part:
            break
        fixed.append(part)
    return "/".join(fixed) or "."


# --- facts from the code ------------------------------------------------------------------

_DB_FILE = re.compile(r"""["']([\w./-]*\w\.(?:db|sqlite3?|db3))["']""")
_CREATE = re.compile(r"\bCREATE\s+TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?[\"`\[]?(\w+)", re.I)
_REFERENCE = re.compile(
    r"(?:^|[(,])\s*[\"`\[]?(\w+)[\"`\]]?\s+[^,()]*?\bREFERENCES\s+[\"`\[]?(\w+)[\"`\]]?"
    r"\s*\(\s*[\"`\[]?(\w+)",
    re.I,
)
_STATUS_WORD = re.compile(r"\b(\w*_)?(status|state)\b", re.I)
_COMPUTED = re.compile(r"\{([^{}]*)\}")
_TEST_PATH = re.compile(r"(^|/)(tests?|testing|__tests__)/|(^|/)test_[^/]*$|_test\.\w+$")


def repo_words(repo: RepoContext) -> RepoWords:
    """The repository's words: its languages, databases, state files and tables."""
    files = [c.source for c in repo.files if not _TEST_PATH.search(c.source.path)]
    texts = [s.text for s in files] + [s.text for s in repo.other_sources]
    languages = [lang for lang, _ in _by_use(s.language for s in files)]
    sqlite = bool(repo.facts.connect_sites) or any("sqlite" in t.lower() for t in texts)
    databases = [name for name, _ in _by_use(m for t in texts for m in _DB_FILE.findall(t))]
    resources = repo.resources
    state_files = [
        _COMPUTED.sub(r"<\1>", r.name)
        for r in resources.of_kind("file-path")
        if r.writers and r.name.endswith(".json")
    ] or [
        _COMPUTED.sub(r"<\1>", r.name).removesuffix("/*") + "/*.json"
        for r in resources.of_kind("checkpoint-dir")
        if r.writers
    ]
    status_tables = [
        (r.name, found[0].group(0))
        for r in resources.of_kind("sql-table")
        if (found := [m for a in r.accesses for line in a.text if (m := _STATUS_WORD.search(line))])
    ]
    return RepoWords(
        languages=languages,
        sqlite=sqlite,
        databases=databases[:MAX_LINES] if sqlite else [],
        state_files=state_files[:MAX_LINES],
        status_tables=status_tables[:MAX_LINES],
        references=_references(texts)[:MAX_LINES],
    )


def _by_use(values: Iterable[str]) -> list[tuple[str, int]]:
    counts: dict[str, int] = {}
    for value in values:
        counts[value] = counts.get(value, 0) + 1
    return sorted(counts.items(), key=lambda kv: -kv[1])


def _references(texts: list[str]) -> list[tuple[str, str, str, str]]:
    """(child table, column, parent table, parent column) of each REFERENCES clause in a
    CREATE TABLE statement."""
    found: list[tuple[str, str, str, str]] = []
    for text in texts:
        creates = list(_CREATE.finditer(text))
        for i, create in enumerate(creates):
            end = creates[i + 1].start() if i + 1 < len(creates) else len(text)
            body = text[create.end() : min(end, create.end() + 4000)]
            for column, parent, parent_column in _REFERENCE.findall(body):
                row = (create.group(1), column, parent, parent_column)
                if row not in found:
                    found.append(row)
    return found
