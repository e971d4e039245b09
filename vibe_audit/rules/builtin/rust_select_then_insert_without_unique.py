"""Duplicate check done with a SELECT, then an INSERT, on columns no UNIQUE constraint covers
(Rust: rusqlite, sqlx).

What it finds:
    A non-test Rust function that runs ``SELECT ... FROM t WHERE col = ?1`` (a string literal
    or a file ``const``) and, after an ``if`` / ``match`` / ``let ... else`` on the result,
    ``INSERT INTO t (..., col, ...)`` with no ``ON CONFLICT`` / ``OR IGNORE`` /
    ``OR REPLACE``, where table ``t`` is declared in the repository (a Rust string or a
    ``.sql`` migration) and none of the looked-up columns is a primary key, UNIQUE, or
    covered by a unique index. Not reported when the function holds a mutex guard
    (``conn.lock()``: one connection shared by the process), takes a row lock
    (``FOR UPDATE``), or, on SQLite, opens a transaction (``transaction()``, ``BEGIN``,
    sqlx ``begin()``): SQLite serializes writers, so the second transaction fails instead
    of inserting a duplicate. A repository-level rule: the schema is usually elsewhere.

Why it matters:
    "Look it up, insert it if missing" is not atomic. Two requests (or workers) for the same
    key both run the SELECT before either inserts, both find nothing, and both insert: two
    rows for one key, and with no UNIQUE constraint the database accepts both. Later lookups
    see either row, counts double, and deleting one leaves the other.

Example:
    let existing: Option<i64> = conn
        .query_row("SELECT id FROM users WHERE email = ?1", [email], |r| r.get(0))
        .optional()?;
    if let Some(id) = existing {
        return Ok(id);
    }
    conn.execute("INSERT INTO users (email, name) VALUES (?1, ?2)", (email, name))?;

Use instead:
    CREATE UNIQUE INDEX users_email ON users (email);

    conn.execute(
        "INSERT INTO users (email, name) VALUES (?1, ?2) ON CONFLICT (email) DO NOTHING",
        (email, name),
    )?;
    let id: i64 = conn.query_row("SELECT id FROM users WHERE email = ?1", [email], |r| r.get(0))?;
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import tree_sitter

from vibe_audit.chunker.parsing import node_text
from vibe_audit.rules import rust, syntax
from vibe_audit.rules.base import Hit, Rule, node_hit
from vibe_audit.rules.builtin import select_then_insert_without_unique as sibling
from vibe_audit.rules.context import FileContext, RepoContext
from vibe_audit.rules.sqltext import (
    BEGIN,
    FROM_TABLE,
    ROW_LOCK,
    Table,
    create_tables,
    sql_verb,
    statement,
    where_clause,
)

# select-then-insert-without-unique's rule, with only what differs here.
META = sibling.META.model_copy(
    update={
        "id": "rust-select-then-insert-without-unique",
        "title": "SELECT-then-INSERT duplicate check with no UNIQUE constraint behind it (Rust)",
        "how_to_verify": (
            "Run {function}() twice concurrently with the same {columns} (two tasks, or a "
            "sleep between its SELECT and INSERT), then `SELECT {columns}, COUNT(*) FROM {table} "
            "GROUP BY {columns} HAVING COUNT(*) > 1`."
        ),
        "fix": (
            "Let the database decide: add `CREATE UNIQUE INDEX ... ON {table} ({columns})` in a "
            "migration and insert with `ON CONFLICT ({columns}) DO NOTHING` (then read the row "
            "back), or treat the unique-violation error as 'already there'. Deduplicate "
            "existing rows before adding the index."
        ),
        "languages": ["rust"],
    }
)

_SQL_CRATE = re.compile(r"\b(rusqlite|sqlx|tokio_rusqlite|r2d2_sqlite|deadpool_sqlite|libsql)\b")
_UPSERT = re.compile(r"ON\s+CONFLICT|INSERT\s+OR\s+(IGNORE|REPLACE)|ON\s+DUPLICATE\s+KEY", re.I)
_LOOKUP = re.compile(r"[\"`\[]?(\w+)[\"`\]]?\s*=\s*(?:\?\d*|:\w+|\$\d+|@\w+)")
_INSERT_COLUMNS = re.compile(r"INSERT\s+(?:OR\s+\w+\s+)?INTO\s+[\w.\"`\[\]]+\s*\(([^)]*)\)", re.I)
_UNIQUE_INDEX = re.compile(
    r"CREATE\s+UNIQUE\s+INDEX\s+.*?\bON\s+(?:\w+\.)?[\"`\[]?(\w+)[\"`\]]?\s*\(([^)]*)\)",
    re.I | re.S,
)
_KEY_CONSTRAINT = re.compile(r"(?:UNIQUE|PRIMARY\s+KEY)\s*\(([^)]*)\)", re.I)
_TRANSACTIONS = frozenset(
    {"transaction", "unchecked_transaction", "transaction_with_behavior", "savepoint",
     "begin", "begin_with", "try_begin"}
)  # fmt: skip
_OTHER_DATABASE = re.compile(r"\bPg\w+|\bPostgres\b|\bMySql\w*|\btokio_postgres\b")
_BRANCHES = frozenset({"if_expression", "match_expression", "let_else_clause", "else_clause"})


def check_repo(repo: RepoContext) -> Iterator[Hit]:
    files = [
        ctx
        for ctx in repo.in_language("rust")
        if not syntax.is_test_path(ctx.source.path) and _SQL_CRATE.search(ctx.source.text)
    ]
    tables: dict[str, Table] | None = None
    unique: dict[str, list[set[str]]] | None = None
    for ctx in files:
        upper = ctx.source.text.upper()
        if "INSERT" not in upper or "SELECT" not in upper:
            continue
        sqlite = "sqlite" in ctx.source.text.lower()
        constants = rust.string_constants(ctx.root)
        for function in rust.rust_functions(ctx.root):
            found = _check_then_insert(function, constants)
            if found is None or rust.is_rust_test(function, ctx.source.path):
                continue
            select, insert, table_name, columns = found
            on_sqlite = sqlite and not _OTHER_DATABASE.search(node_text(function))
            if _guarded(function, constants, on_sqlite):
                continue
            if tables is None or unique is None:
                tables, unique = _schema(repo, files)
            table = tables.get(table_name)
            if table is None or _covered(table, columns, unique.get(table_name, [])):
                continue
            yield node_hit(
                ctx,
                select,
                until=insert,
                named_by=function,
                details={
                    "function": rust.rust_function_name(function),
                    "table": table_name,
                    "columns": ", ".join(sorted(columns)),
                },
            )


def _check_then_insert(
    function: tree_sitter.Node, constants: dict[str, str]
) -> tuple[tree_sitter.Node, tree_sitter.Node, str, set[str]] | None:
    """A SELECT of table t by equality on some columns, a branch after it, then an INSERT
    into t that writes those columns."""
    statements = rust.function_sql(function, constants)
    if not statements:
        return None
    branches = [
        n.start_byte
        for n in rust.rust_body_nodes(function)
        if n.type in _BRANCHES or (n.type == "let_declaration" and "else" in _let_tail(n))
    ]
    for index, (node, sql) in enumerate(statements):
        if sql_verb(sql) != "SELECT":
            continue
        table = FROM_TABLE.search(sql)
        where = where_clause(sql)
        looked_up = {m.group(1).lower() for m in _LOOKUP.finditer(where)}
        if table is None or not looked_up or re.search(r"\bOR\b", where, re.I):
            continue
        name = table.group(1).strip('"`').rsplit(".", 1)[-1].lower()
        for later, later_sql in statements[index + 1 :]:
            target = statement(later_sql)
            if sql_verb(later_sql) != "INSERT" or target is None or target[1].lower() != name:
                continue
            if _UPSERT.search(later_sql):
                return None
            written = _INSERT_COLUMNS.search(later_sql)
            if written is None:
                continue
            names = {c.strip().strip('"`[]').lower() for c in written.group(1).split(",")}
            between = any(node.end_byte < b < later.start_byte for b in branches)
            if looked_up <= names and between:
                return node, later, name, looked_up
    return None


def _let_tail(declaration: tree_sitter.Node) -> str:
    return " ".join(c.type for c in declaration.children)


def _guarded(function: tree_sitter.Node, constants: dict[str, str], sqlite: bool) -> bool:
    """The function holds a mutex guard, locks rows, or (SQLite) runs in a transaction."""
    if any(not rust.call_arguments(c) for c in rust.rust_method_calls(function, "lock", "write")):
        return True  # a Mutex / RwLock guard
    statements = rust.function_sql(function, constants)
    if any(ROW_LOCK.search(sql) for _, sql in statements):
        return True
    if not sqlite:
        return False
    if next(rust.rust_method_calls(function, *_TRANSACTIONS), None) is not None:
        return True
    return any(BEGIN.match(rust.rust_string(n) or "") for n in rust.rust_body_nodes(function))


def _schema(
    repo: RepoContext, files: list[FileContext]
) -> tuple[dict[str, Table], dict[str, list[set[str]]]]:
    """Declared tables and unique indexes, from the Rust strings and the .sql files."""
    texts: list[str] = []
    for ctx in files:
        if "CREATE" not in ctx.source.text.upper():
            continue
        for node in syntax.of_type(ctx.root, "string_literal", "raw_string_literal"):
            text = rust.rust_string(node)
            if text and re.search(r"\bCREATE\b", text, re.I):
                texts.append(text)
    texts += [s.text for s in repo.other_sources if s.path.endswith(".sql")]
    tables: dict[str, Table] = {}
    unique: dict[str, list[set[str]]] = {}
    for text in texts:
        for table in create_tables(text + ";"):
            if not table.temporary:
                tables[table.name.rsplit(".", 1)[-1].strip('"`[]').lower()] = table
        for match in _UNIQUE_INDEX.finditer(text):
            columns = {
                c.strip().split()[0].strip('"`[]').lower()
                for c in match.group(2).split(",")
                if c.strip()
            }
            unique.setdefault(match.group(1).lower(), []).append(columns)
    return tables, unique


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
