"""Duplicate check done with a SELECT, then an INSERT, on columns no UNIQUE constraint covers.

What it finds:
    A function that runs ``SELECT ... FROM t WHERE col = ?`` and, after an ``if`` on the
    result, ``INSERT INTO t (..., col, ...)`` (no ``ON CONFLICT`` / ``OR IGNORE`` /
    ``OR REPLACE``), where table ``t`` is declared in the repository and none of the looked-up
    columns is a primary key, UNIQUE, or covered by a unique index. Not reported when the
    function holds a lock (``with ...lock:``) or opens the transaction with ``BEGIN
    IMMEDIATE`` / ``EXCLUSIVE``. A repository-level rule: the schema is usually elsewhere.

Why it matters:
    "Look it up, insert it if missing" is not atomic. Two requests (or workers) for the same
    key both run the SELECT before either inserts, both find nothing, and both insert: two
    rows for one key, and with no UNIQUE constraint the database accepts both. Later lookups
    see either row, counts double, and deleting one leaves the other.

Example:
    row = conn.execute("SELECT id FROM users WHERE email = ?", (email,)).fetchone()
    if row is not None:
        return row["id"]
    conn.execute("INSERT INTO users (email, name) VALUES (?, ?)", (email, name))

Use instead:
    CREATE UNIQUE INDEX users_email ON users (email);
    conn.execute("INSERT INTO users (email, name) VALUES (?, ?) ON CONFLICT (email) DO NOTHING",
                 (email, name))
    row = conn.execute("SELECT id FROM users WHERE email = ?", (email,)).fetchone()
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import tree_sitter

from vibe_audit.chunker.parsing import node_text
from vibe_audit.rules import syntax
from vibe_audit.rules.base import Hit, Rule, RuleMeta, node_hit
from vibe_audit.rules.context import RepoContext
from vibe_audit.rules.sql import SqlCall, declared_tables, sql_calls
from vibe_audit.rules.sqltext import LOCKS_ROWS, Table, where_clause
from vibe_audit.schemas import Confidence, Severity

META = RuleMeta(
    id="select-then-insert-without-unique",
    title="SELECT-then-INSERT duplicate check with no UNIQUE constraint behind it",
    severity=Severity.HIGH,
    confidence=Confidence.MEDIUM,
    categories={"concurrency": "Idempotency", "guardrails": "Constraints"},
    checklist=["concurrency.5A", "concurrency.5B", "guardrails.3B"],
    problem=(
        "{function}() looks for an existing {table} row by {columns} with a SELECT and "
        "inserts one if none is found, but {table}.{columns} has no UNIQUE constraint or "
        "unique index: the check and the insert are not atomic, and nothing in the database "
        "rejects a second row."
    ),
    scenario=(
        "Two concurrent calls of {function}() with the same {columns} both run the SELECT "
        "before either INSERT commits, both find nothing, and both insert: {table} now has "
        "two rows for one {columns}."
    ),
    impact=(
        "Duplicate rows for what the code treats as one key: double processing, doubled "
        "counts, and lookups that return either copy."
    ),
    how_to_verify=(
        "Run {function}() twice concurrently with the same {columns} (two threads, or a "
        "sleep between its SELECT and INSERT), then `SELECT {columns}, COUNT(*) FROM {table} "
        "GROUP BY {columns} HAVING COUNT(*) > 1`."
    ),
    fix=(
        "Let the database decide: add `CREATE UNIQUE INDEX ... ON {table} ({columns})` and "
        "insert with `ON CONFLICT ({columns}) DO NOTHING` (then read the row back), or catch "
        "the IntegrityError. Deduplicate existing rows before adding the index."
    ),
    trade_off=(
        "A unique index costs a little on every insert; existing duplicates must be merged first."
    ),
    effort_hours=(0.5, 2.0),
    needs_concurrency=True,
)

_UPSERT = re.compile(r"ON\s+CONFLICT|INSERT\s+OR\s+(IGNORE|REPLACE)|ON\s+DUPLICATE\s+KEY", re.I)
_LOOKUP = re.compile(r"[\"`\[]?(\w+)[\"`\]]?\s*=\s*(?:\?|:\w+|%s|%\(\w+\)s|\$\d+)")
_INSERT_COLUMNS = re.compile(r"INSERT\s+(?:OR\s+\w+\s+)?INTO\s+[\w.\"`\[\]]+\s*\(([^)]*)\)", re.I)
_UNIQUE_INDEX = re.compile(
    r"CREATE\s+UNIQUE\s+INDEX\s+.*?\bON\s+[\"`\[]?(\w+)[\"`\]]?\s*\(([^)]*)\)", re.I | re.S
)
_KEY_CONSTRAINT = re.compile(r"(?:UNIQUE|PRIMARY\s+KEY)\s*\(([^)]*)\)", re.I)


def check_repo(repo: RepoContext) -> Iterator[Hit]:
    tables: dict[str, Table] | None = None
    unique: dict[str, list[set[str]]] | None = None
    for ctx in repo.in_language("python"):
        text = ctx.source.text.upper()
        if "INSERT" not in text or "SELECT" not in text:
            continue
        for function in syntax.functions(ctx.root):
            calls = sql_calls(function)
            found = _check_then_insert(function, calls)
            if found is None:
                continue
            select, insert, columns = found
            if LOCKS_ROWS.search(node_text(function)) or _under_lock(function):
                continue
            if tables is None or unique is None:
                tables, unique = declared_tables(repo), _unique_keys(repo)
            table = tables.get(insert.table)
            if table is None or _covered(table, columns, unique.get(insert.table, [])):
                continue
            yield node_hit(
                ctx,
                select.call,
                until=insert.call,
                named_by=function,
                details={
                    "function": syntax.function_name(function),
                    "table": insert.table,
                    "columns": ", ".join(sorted(columns)),
                },
            )


def _check_then_insert(
    function: tree_sitter.Node, calls: list[SqlCall]
) -> tuple[SqlCall, SqlCall, set[str]] | None:
    """A SELECT of table t by equality on some columns, an ``if`` after it, then an INSERT
    into t that writes those columns."""
    ifs = [n.start_byte for n in syntax.body_nodes(function, "if_statement")]
    for index, select in enumerate(calls):
        if select.verb != "SELECT":
            continue
        where = where_clause(select.sql)
        looked_up = {m.group(1).lower() for m in _LOOKUP.finditer(where)}
        if not looked_up or re.search(r"\bOR\b", where, re.I):
            continue
        for insert in calls[index + 1 :]:
            if insert.verb != "INSERT" or insert.table != select.table:
                continue
            if _UPSERT.search(insert.sql):
                return None
            written = _INSERT_COLUMNS.search(insert.sql)
            if written is None:
                continue
            names = {c.strip().strip('"`[]').lower() for c in written.group(1).split(",")}
            between = any(select.call.end_byte < b < insert.call.start_byte for b in ifs)
            if looked_up <= names and between:
                return select, insert, looked_up
    return None


def _under_lock(function: tree_sitter.Node) -> bool:
    for statement in syntax.body_nodes(function, "with_statement"):
        header = node_text(statement).split(":", 1)[0].lower()
        if "lock" in header or "transaction" in header or "atomic" in header:
            return True
    return False


def _unique_keys(repo: RepoContext) -> dict[str, list[set[str]]]:
    """Column sets of the unique indexes declared anywhere, by lower-cased table name."""
    keys: dict[str, list[set[str]]] = {}
    texts = [ctx.source.text for ctx in repo.in_language("python")]
    texts += [s.text for s in repo.other_sources if s.path.endswith(".sql")]
    for text in texts:
        for match in _UNIQUE_INDEX.finditer(text):
            columns = {
                c.strip().split()[0].strip('"`[]').lower()
                for c in match.group(2).split(",")
                if c.strip()
            }
            keys.setdefault(match.group(1).lower(), []).append(columns)
    return keys


def _covered(table: Table, columns: set[str], indexes: list[set[str]]) -> bool:
    """Some unique key of the table lies within the looked-up columns (so a duplicate of
    those columns would be rejected)."""
    keys = list(indexes)
    for column in table.columns:
        if re.search(r"\bUNIQUE\b|\bPRIMARY\s+KEY\b", column.definition, re.I):
            keys.append({column.name.lower()})
    for constraint in table.constraints:
        match = _KEY_CONSTRAINT.search(constraint)
        if match:
            keys.append({c.strip().strip('"`[]').lower() for c in match.group(1).split(",")})
    return any(key and key <= columns for key in keys)


RULE = Rule(meta=META, doc=__doc__ or "", check_repo=check_repo)
