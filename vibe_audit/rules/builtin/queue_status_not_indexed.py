"""Queue polled by status, and no index covers the status column.

What it finds:
    A queue query in the code that picks waiting rows by status and orders them
    (``SELECT ... FROM jobs WHERE status = 'pending' ... ORDER BY created_at``), on a table
    whose ``CREATE TABLE`` the repository declares with a ``status`` (or ``state``) column,
    while no ``CREATE INDEX`` on that table (in any language's strings or in .sql files)
    names the column, either as an indexed column or as a partial index's ``WHERE``, and
    the table definition has no inline index or key on it. Tables the repository does not
    declare (an ORM model, an external migration tool) are not judged. One finding per
    repository, at the first such query. Test files are not read.

Why it matters:
    Every poll of the queue reads the whole table: finished jobs accumulate, so the scan
    gets slower every day, and on SQLite the long read holds up checkpoints while on
    PostgreSQL it burns I/O on every worker's poll. Stuck-job sweeps (``WHERE status =
    'processing' AND started_at < ...``) read it the same way. A small partial index on the
    waiting rows keeps each poll proportional to the queue's depth, not its history.

Example:
    CREATE TABLE jobs (id INTEGER PRIMARY KEY, status TEXT NOT NULL, created_at TEXT);
    SELECT id FROM jobs WHERE status = 'pending' ORDER BY created_at LIMIT 1;

Use instead:
    CREATE INDEX jobs_pending ON jobs (created_at) WHERE status = 'pending';
    CREATE INDEX jobs_processing ON jobs (started_at) WHERE status = 'processing';
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

from vibe_audit.rules import ops_util, syntax
from vibe_audit.rules.base import Hit, Rule, RuleMeta
from vibe_audit.rules.context import RepoContext
from vibe_audit.schemas import Confidence, Severity

_QUEUE_QUERY = re.compile(
    r"(?is)\bFROM\s+[\"`]?(?P<table>\w+)[\"`]?(?:\s+(?:AS\s+)?\w+)?\s+WHERE\s+[^;]{0,200}?"
    r"\b(?P<column>status|state)[\"`]?\s*(=|IN\s*\()\s*'(?P<value>pending|queued|waiting|"
    r"ready|scheduled|new|created|todo)'[^;]{0,300}?\bORDER\s+BY\b"
)
_CREATE_TABLE = (
    r"(?is)\bCREATE\s+TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?(?:\w+\.)?[\"`]?{table}[\"`]?\s*\("
)


def _meta(language: str) -> RuleMeta:
    return RuleMeta(
        id=f"{ops_util.PREFIX[language]}queue-status-not-indexed",
        title="Queue polled by status with no index on the status column",
        severity=Severity.MONITOR,
        confidence=Confidence.MEDIUM,
        categories={"guardrails": "Queue Integrity"},
        checklist=["guardrails.9A"],
        problem=(
            "Workers poll `{table}` with `WHERE {column} = '{value}' ... ORDER BY`, and no "
            "index of `{table}` covers `{column}`: each poll reads the whole table."
        ),
        scenario=(
            "Finished rows accumulate in `{table}`: every poll, and every stuck-job sweep, "
            "reads all of them to find the few waiting ones, so polls slow down as the "
            "history grows and hold read locks for longer."
        ),
        impact=(
            "Queue latency and database load grow with the table's history rather than its "
            "backlog; on SQLite long reads also delay WAL checkpoints."
        ),
        how_to_verify=(
            "Run `EXPLAIN QUERY PLAN` (SQLite) or `EXPLAIN` (PostgreSQL) on the poll query: "
            "it reports a full read of `{table}` with no index used."
        ),
        fix=(
            "Add partial indexes for the queue's hot statuses, e.g.\n"
            "    CREATE INDEX {table}_{value} ON {table} (created_at) WHERE {column} = "
            "'{value}';\n"
            "and one on the in-progress status's start time for the stuck-job sweep."
        ),
        trade_off=(
            "Each index costs a little on every status change; partial indexes stay small "
            "because they hold only the rows in that status."
        ),
        effort_hours=(0.25, 0.5),
        languages=ops_util.LANGUAGES[language],
        experimental=True,
    )


def _sources(repo: RepoContext) -> list[str]:
    texts = [ctx.source.text for ctx in repo.files if not syntax.is_test_path(ctx.source.path)]
    return texts + [s.text for s in repo.other_sources if not syntax.is_test_path(s.path)]


def _indexed(texts: list[str], table: str, column: str) -> bool:
    """An index on ``table`` names ``column`` (columns or partial WHERE), or the table's
    definition declares an inline index or key on it."""
    on_table = re.compile(
        rf"(?is)\bCREATE\s+(?:UNIQUE\s+)?INDEX\b[^;]{{0,200}}?\bON\s+(?:\w+\.)?[\"`]?{table}"
        rf"[\"`]?\s*(?:USING\s+\w+\s*)?\((?P<rest>[^;]{{0,300}})"
    )
    inline = re.compile(rf"(?i)\b(INDEX|KEY)\b[^,;]{{0,80}}\(\s*[^)]*\b{column}\b")
    for text in texts:
        for found in on_table.finditer(text):
            if re.search(rf"(?i)\b{column}\b", found.group("rest")):
                return True
        table_definition = re.search(_CREATE_TABLE.format(table=table), text)
        if table_definition:
            body = text[table_definition.end() : table_definition.end() + 3000]
            if inline.search(body.split(";")[0]):
                return True
    return False


def _declared_with(texts: list[str], table: str, column: str) -> bool:
    pattern = re.compile(_CREATE_TABLE.format(table=table))
    for text in texts:
        found = pattern.search(text)
        if found:
            body = text[found.end() : found.end() + 3000].split(";")[0]
            if re.search(rf"(?i)(^|[(,\s\"`]){column}[\"`]?\s+\w", body):
                return True
    return False


def _check(language: str) -> Callable[[RepoContext], Iterator[Hit]]:
    def check_repo(repo: RepoContext) -> Iterator[Hit]:
        texts: list[str] | None = None
        for ctx in ops_util.code_files(repo, language):
            for found in _QUEUE_QUERY.finditer(ctx.source.text):
                texts = texts if texts is not None else _sources(repo)
                table, column = found.group("table"), found.group("column").lower()
                if not _declared_with(texts, table, column) or _indexed(texts, table, column):
                    continue
                line = ctx.source.text.count("\n", 0, found.start("column")) + 1
                yield Hit(
                    path=ctx.source.path,
                    start_line=line,
                    end_line=line,
                    details={"table": table, "column": column, "value": found.group("value")},
                )
                return

    return check_repo


RULES = [
    Rule(meta=_meta(language), doc=__doc__ or "", check_repo=_check(language))
    for language in ops_util.LANGUAGES
]
