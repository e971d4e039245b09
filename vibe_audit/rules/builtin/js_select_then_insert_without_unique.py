"""Duplicate check done with a SELECT, then an INSERT, on columns no UNIQUE constraint
covers (JS/TS).

What it finds:
    A JavaScript / TypeScript function that runs ``SELECT ... FROM t WHERE col = ?`` and,
    after an ``if`` on the result, ``INSERT INTO t (..., col, ...)`` (no ``ON CONFLICT`` /
    ``OR IGNORE`` / ``OR REPLACE`` / ``ON DUPLICATE KEY``), where table ``t`` is created in
    the repository (a schema string in JS/TS or a ``.sql`` migration) and none of the
    looked-up columns is a primary key, UNIQUE, or covered by a unique index. Not matched:
    a function that locks first (``FOR UPDATE``, ``BEGIN IMMEDIATE`` / ``EXCLUSIVE``, an
    advisory lock), and a synchronous driver (better-sqlite3, node:sqlite, bun:sqlite)
    running both statements inside a transaction with no ``await`` between them, where the
    second writer gets SQLITE_BUSY instead of a duplicate.

    Severity from evidence: HIGH when the event loop can run another call of the function
    between the SELECT and the INSERT (an ``await`` or a callback between them), MEDIUM
    for a synchronous driver outside a transaction, where only another process can slip in.

Why it matters:
    "Look it up, insert it if missing" is not atomic. Two requests (or workers) for the
    same key both run the SELECT before either inserts, both find nothing, and both insert:
    two rows for one key, and with no UNIQUE constraint the database accepts both. Later
    lookups see either row, counts double, and a queue gets the same job twice.

Example:
    const existing = await db.get("SELECT id FROM users WHERE email = ?", email);
    if (!existing) {
      await db.run("INSERT INTO users (email, name) VALUES (?, ?)", email, name);
    }

Use instead:
    // schema: CREATE UNIQUE INDEX users_email ON users (email);
    await db.run(
      "INSERT INTO users (email, name) VALUES (?, ?) ON CONFLICT (email) DO NOTHING",
      email, name);
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import replace

import tree_sitter

from vibe_audit.chunker.parsing import node_text
from vibe_audit.rules import js, sqltext, syntax
from vibe_audit.rules import js_sqlite_util as util
from vibe_audit.rules.base import Hit, Rule, RuleMeta, node_hit
from vibe_audit.rules.context import FileContext, RepoContext
from vibe_audit.rules.sqltext import Table, create_tables
from vibe_audit.schemas import Confidence, Severity

META = RuleMeta(
    id="js-select-then-insert-without-unique",
    title="SELECT-then-INSERT duplicate check with no UNIQUE constraint behind it",
    severity=Severity.HIGH,
    confidence=Confidence.MEDIUM,
    categories={"concurrency": "Idempotency", "guardrails": "Constraints"},
    checklist=["concurrency.5B", "guardrails.3B"],
    problem=(
        "{function} looks for an existing {table} row by {columns} with a SELECT and "
        "inserts one if none is found, but {table}.{columns} has no UNIQUE constraint or "
        "unique index: the check and the insert are not atomic, and nothing in the database "
        "rejects a second row."
    ),
    scenario=(
        "Two concurrent calls of {function} with the same {columns} both run the SELECT "
        "before either INSERT commits ({boundary}), both find nothing, and both insert: "
        "{table} now has two rows for one {columns}."
    ),
    impact=(
        "Duplicate rows for what the code treats as one key: double processing, doubled "
        "counts, and lookups that return either copy."
    ),
    how_to_verify=(
        "Call {function} twice at once with the same {columns} (Promise.all, or two "
        "processes), then `SELECT {columns}, COUNT(*) FROM {table} GROUP BY {columns} "
        "HAVING COUNT(*) > 1`."
    ),
    fix=(
        "Let the database decide: add `CREATE UNIQUE INDEX ... ON {table} ({columns})` and "
        "insert with `ON CONFLICT ({columns}) DO NOTHING` (then read the row back), or catch "
        "the unique-constraint error. Deduplicate existing rows before adding the index."
    ),
    trade_off=(
        "A unique index costs a little on every insert; existing duplicates must be merged first."
    ),
    effort_hours=(0.5, 2.0),
    # 1 finding on 17 packages outside the corpus, FP (a synchronous driver with no await between)
    experimental=True,
    needs_concurrency=True,
    languages=js.JS_LANGUAGES,
)

_UPSERT = re.compile(r"ON\s+CONFLICT|INSERT\s+OR\s+(IGNORE|REPLACE)|ON\s+DUPLICATE\s+KEY", re.I)
_LOOKUP = re.compile(r"[\"`\[]?(\w+)[\"`\]]?\s*=\s*(?:\?\d*|:\w+|@\w+|\$\w+|\$\{[^}]*\})")
_INSERT_COLUMNS = re.compile(
    r"INSERT\s+(?:OR\s+\w+\s+)?INTO\s+[\w.\"`\[\]${}]+\s*\(([^)]*)\)", re.I
)
_UNIQUE_INDEX = re.compile(
    r"CREATE\s+UNIQUE\s+INDEX\s+.*?\bON\s+(?:\w+\.)?[\"`\[]?(\w+)[\"`\]]?\s*\(([^)]*)\)",
    re.I | re.S,
)
_ADD_UNIQUE = re.compile(
    r"ALTER\s+TABLE\s+(?:\w+\.)?[\"`\[]?(\w+)[\"`\]]?[^;]*?\b(?:UNIQUE|PRIMARY\s+KEY)\s*\(([^)]*)\)",
    re.I | re.S,
)
_KEY_CONSTRAINT = re.compile(r"(?:UNIQUE|PRIMARY\s+KEY)\s*\(([^)]*)\)", re.I)
_LOCKS = re.compile(
    r"FOR\s+(NO\s+KEY\s+)?UPDATE|BEGIN\s+(IMMEDIATE|EXCLUSIVE)|pg_advisory|GET_LOCK\(", re.I
)


def check_repo(repo: RepoContext) -> Iterator[Hit]:
    files = [
        ctx
        for ctx in repo.in_language(*js.JS_LANGUAGES)
        if not syntax.is_test_path(ctx.source.path)
    ]
    if not any(util.drivers_used(ctx) for ctx in files):
        return
    schema: tuple[dict[str, Table], dict[str, list[set[str]]]] | None = None
    wrappers: frozenset[str] | None = None
    names: util.TransactionNames | None = None
    for ctx in files:
        text = ctx.source.text.upper()
        if "INSERT" not in text or "SELECT" not in text:
            continue
        if wrappers is None:
            wrappers = util.sql_wrappers(files)
        for found in _candidates(ctx, wrappers):
            function, select, insert, columns, runs = found
            if schema is None:
                schema = _schema(repo, files)
            tables, unique = schema
            table = tables.get(insert.table)
            if table is None or _covered(table, columns, unique.get(insert.table, [])):
                continue
            boundary = _boundary(function, select, insert)
            if names is None:
                names = util.transaction_names(files)
            if boundary is None and util.in_transaction(insert, runs, names):
                continue  # synchronous, inside one transaction: a second writer gets BUSY
            hit = node_hit(
                ctx,
                select.call,
                until=insert.call,
                named_by=function,
                details={
                    "function": _describe(function),
                    "table": insert.table,
                    "columns": ", ".join(sorted(columns)),
                    "boundary": boundary or "each from its own process",
                },
            )
            if boundary is None:
                hit = replace(
                    hit,
                    severity=Severity.MEDIUM,
                    severity_reason=(
                        "MEDIUM: the driver is synchronous and nothing is awaited between "
                        "the SELECT and the INSERT, so only another process can insert the "
                        "same key in between."
                    ),
                )
            yield hit


def _candidates(
    ctx: FileContext, wrappers: frozenset[str]
) -> Iterator[tuple[tree_sitter.Node, util.SqlRun, util.SqlRun, set[str], list[util.SqlRun]]]:
    constants = util.string_constants(ctx.root)
    prepared = util.prepared_statements(ctx.root, constants)
    for function in syntax.of_type(ctx.root, *js.JS_FUNCTION_TYPES):
        runs = list(util.sql_runs(function, constants, prepared, own=False, wrappers=wrappers))
        if len(runs) < 2 or _LOCKS.search(node_text(function)):
            continue
        found = _check_then_insert(function, runs)
        if found is not None:
            yield function, found[0], found[1], found[2], runs


def _check_then_insert(
    function: tree_sitter.Node, runs: list[util.SqlRun]
) -> tuple[util.SqlRun, util.SqlRun, set[str]] | None:
    """A SELECT of table t by equality on some columns, an ``if`` after it, then an INSERT
    into t that writes those columns (the innermost function holding both)."""
    ifs = [n.start_byte for n in syntax.of_type(function, "if_statement", "ternary_expression")]
    for index, select in enumerate(runs):
        if select.verb != "SELECT" or not select.table:
            continue
        where = sqltext.where_clause(select.sql)
        looked_up = {m.group(1).lower() for m in _LOOKUP.finditer(where)}
        if not looked_up or re.search(r"\bOR\b", where, re.I):
            continue
        for insert in runs[index + 1 :]:
            if insert.verb != "INSERT" or insert.table != select.table:
                continue
            if _UPSERT.search(insert.sql):
                return None
            written = _INSERT_COLUMNS.search(insert.sql)
            if written is None:
                continue
            names = {c.strip().strip('"`[]').lower() for c in written.group(1).split(",")}
            between = any(select.call.end_byte < b < insert.call.start_byte for b in ifs)
            if looked_up <= names and between and _innermost(function, select, insert):
                return select, insert, looked_up
    return None


def _innermost(function: tree_sitter.Node, a: util.SqlRun, b: util.SqlRun) -> bool:
    """``function`` is the innermost function holding both calls (each pair once)."""
    inner = js.enclosing_function(a.call)
    while inner is not None and not (inner.start_byte <= b.call.start_byte < inner.end_byte):
        inner = js.enclosing_function(inner)
    return inner == function


def _boundary(function: tree_sitter.Node, select: util.SqlRun, insert: util.SqlRun) -> str | None:
    """How another call can run between the SELECT and the INSERT, else None."""
    for node in syntax.of_type(function, "await_expression"):
        if select.call.start_byte <= node.end_byte <= insert.call.start_byte:
            return "the event loop runs the other call while this one awaits"
    inner = js.enclosing_function(insert.call)
    while inner is not None and inner.start_byte > select.call.end_byte:
        call = syntax.enclosing(inner, "call_expression")
        if call is not None and (
            call.start_byte <= select.call.start_byte or js.js_callee(call).endswith(".then")
        ):
            return "the SELECT answers through a callback"
        inner = js.enclosing_function(inner)
    return None


def _schema(
    repo: RepoContext, files: list[FileContext]
) -> tuple[dict[str, Table], dict[str, list[set[str]]]]:
    """The tables created in the JS/TS strings and .sql files, and the column sets of the
    unique indexes and unique constraints added to them, by lower-cased table name."""
    texts = [
        text
        for ctx in files
        if "CREATE" in ctx.source.text.upper()
        for _, text in js.strings(ctx.root)
        if re.search(r"\bCREATE\b", text, re.I)
    ]
    texts += [s.text for s in repo.other_sources if s.path.endswith(".sql")]
    tables: dict[str, Table] = {}
    unique: dict[str, list[set[str]]] = {}
    for text in texts:
        for table in create_tables(text + ";"):
            if not table.temporary:
                tables[table.name.rsplit(".", 1)[-1].strip('"`[]').lower()] = table
        for pattern in (_UNIQUE_INDEX, _ADD_UNIQUE):
            for match in pattern.finditer(text):
                columns = {
                    c.strip().split()[0].strip('"`[]').lower()
                    for c in match.group(2).split(",")
                    if c.strip()
                }
                unique.setdefault(match.group(1).lower(), []).append(columns)
    return tables, unique


def _covered(table: Table, columns: set[str], indexes: list[set[str]]) -> bool:
    keys = list(indexes)
    for column in table.columns:
        if re.search(r"\bUNIQUE\b|\bPRIMARY\s+KEY\b", column.definition, re.I):
            keys.append({column.name.lower()})
    for constraint in table.constraints:
        match = _KEY_CONSTRAINT.search(constraint)
        if match:
            keys.append({c.strip().strip('"`[]').lower() for c in match.group(1).split(",")})
    return any(key and key <= columns for key in keys)


def _describe(function: tree_sitter.Node) -> str:
    name = js.js_function_name(function)
    if name != "<anonymous>":
        return f"{name}()"
    call = syntax.enclosing(function, "call_expression")
    return f"the {js.js_callee(call)}() callback" if call is not None else "This function"


RULE = Rule(meta=META, doc=__doc__ or "", check_repo=check_repo)
