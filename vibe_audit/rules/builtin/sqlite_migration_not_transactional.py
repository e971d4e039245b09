"""Schema migration run as separately committed statements.

What it finds:
    A Python function that changes a SQLite schema in two or more steps, at least one of
    them an ``ALTER``, a ``DROP`` without ``IF EXISTS`` or a ``PRAGMA user_version = ...``
    bump, where nothing makes the steps one transaction:

    - ``executescript(script)`` on a script (a literal, a string constant, or the loop
      variable over a module-level list of them) that holds the steps and no ``BEGIN``:
      ``executescript`` first commits whatever is pending and then runs each statement of
      the script in autocommit mode, also inside ``with conn:``;
    - separate ``execute()`` calls, with no ``BEGIN`` / ``SAVEPOINT`` statement, no
      ``.begin()`` / ``transaction()`` / ``atomic()`` call in the function, and no
      INSERT / UPDATE / DELETE before the first step (which would open Python sqlite3's
      implicit transaction). ``with conn:`` alone does not count: Python's sqlite3 (legacy
      ``isolation_level`` handling, the default) opens no transaction for DDL or PRAGMA, so
      each statement commits on its own.

    Files that use sqlite3 / aiosqlite (or call a repository function that opens a
    sqlite3 connection), and SQLAlchemy ``text("...")`` DDL in a repository
    whose database URL is SQLite (not in a file that names another database).
    ``CREATE ... IF NOT EXISTS`` and ``DROP ... IF EXISTS`` (re-runnable) are not steps; a
    connection opened with ``autocommit=False`` (Python 3.12, transactional DDL) silences
    the file. Migrations that guard each step on its own (``if "col" not in columns:
    ALTER ...``, or each ALTER in its own ``try``) are re-runnable and not matched.

Why it matters:
    A migration that stops midway (the process is killed during a deploy, a statement fails
    on data it did not expect, the disk fills up) leaves the schema half-changed: a column
    added while ``user_version`` still says the old version, so the next start runs the
    ALTER again and fails with "duplicate column name", or a table dropped before its
    replacement was renamed into place, so its rows are gone. SQLite supports
    transactional DDL; the migration only has to ask for it.

Example:
    def migrate(conn):
        conn.execute("ALTER TABLE jobs ADD COLUMN attempts INTEGER DEFAULT 0")
        conn.execute("ALTER TABLE jobs ADD COLUMN last_error TEXT")
        conn.execute("PRAGMA user_version = 3")

Use instead:
    def migrate(conn):
        conn.executescript(
            '''
            BEGIN;
            ALTER TABLE jobs ADD COLUMN attempts INTEGER DEFAULT 0;
            ALTER TABLE jobs ADD COLUMN last_error TEXT;
            PRAGMA user_version = 3;
            COMMIT;
            '''
        )
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator
from dataclasses import dataclass

import tree_sitter

from vibe_audit.chunker.parsing import node_text
from vibe_audit.rules import pytxn_util as tx
from vibe_audit.rules import syntax
from vibe_audit.rules.base import Hit, Rule, RuleMeta, node_hit
from vibe_audit.rules.context import FileContext, RepoContext
from vibe_audit.rules.literals import literal_text, string_constants
from vibe_audit.rules.sql import is_sqlite_file
from vibe_audit.rules.sqltext import SQL_COMMENT
from vibe_audit.schemas import Confidence, Severity

META = RuleMeta(
    id="sqlite-migration-not-transactional",
    title="Schema migration runs as separately committed statements",
    severity=Severity.MEDIUM,
    confidence=Confidence.MEDIUM,
    categories={"concurrency": "Transaction"},
    checklist=["concurrency.1D"],
    problem=(
        "{function}() changes the schema in {count} steps ({steps}) that each commit on "
        "their own: {why}."
    ),
    scenario=(
        "The process stops or a statement fails after the first step: the schema is "
        "half-migrated ({first} applied, the rest not), and the next start either repeats "
        "the applied step and fails, or runs against a schema that matches no version."
    ),
    impact=(
        "An application that no longer starts until someone repairs the database by hand; "
        "with a DROP before its replacement is in place, lost rows."
    ),
    how_to_verify=(
        "Make the second step fail (raise right before it, or point it at a missing "
        "table), run {function}() on a copy of the database, then inspect the schema "
        "(`.schema`, `PRAGMA user_version`): the first step is applied."
    ),
    fix=(
        "Run all steps, and the user_version bump, in one explicit transaction: "
        "`executescript('BEGIN; ...; COMMIT;')`, or `conn.execute('BEGIN')` ... "
        "`conn.commit()` on a connection opened with `isolation_level=None` "
        "(or `autocommit=False` on Python 3.12+)."
    ),
    trade_off=(
        "The migration holds the write lock until it commits; fine at startup, but a "
        "long data backfill inside it blocks other writers meanwhile."
    ),
    effort_hours=(0.25, 1.0),
)

_DML = frozenset({"INSERT", "UPDATE", "DELETE", "REPLACE"})
_TX_METHODS = frozenset({"begin", "begin_nested", "transaction", "atomic"})
_SQLITE_URL = re.compile(r"sqlite(\+\w+)?://", re.I)
_OTHER_DATABASE = re.compile(r"postgres|psycopg|asyncpg|mysql|mssql|pyodbc|oracle", re.I)
_AUTOCOMMIT_FALSE = re.compile(r"autocommit\s*=\s*False")


@dataclass(frozen=True)
class _Step:
    kind: str  # ALTER, DROP, CREATE, VERSION, DML
    text: str


def check_repo(repo: RepoContext) -> Iterator[Hit]:
    sqlite_repo = any(_SQLITE_URL.search(ctx.source.text) for ctx in repo.in_language("python"))
    for ctx in tx.database_files(repo):
        text = ctx.source.text
        if not re.search(r"\b(ALTER|DROP|user_version)\b", text, re.I):
            continue
        if _AUTOCOMMIT_FALSE.search(text):
            continue
        # sqlite3 / aiosqlite, or a call of the repository's own sqlite3 connection helper
        sqlite_file = is_sqlite_file(ctx) or "sqlalchemy" not in ctx.imports
        if not (sqlite_file or (sqlite_repo and not _OTHER_DATABASE.search(text))):
            continue
        lists = _module_lists(ctx)
        for function in syntax.functions(ctx.root):
            hit = _check_function(ctx, function, lists, sqlite_file)
            if hit is not None:
                yield hit


def _check_function(
    ctx: FileContext,
    function: tree_sitter.Node,
    lists: dict[str, list[str]],
    sqlite_file: bool,
) -> Hit | None:
    if any(
        syntax.last_name(syntax.callee(c)) in _TX_METHODS
        for c in syntax.body_nodes(function, "call")
    ):
        return None
    constants = tx.constants_of(ctx, function)
    calls: list[tuple[tree_sitter.Node, list[_Step]]] = []
    dml_seen = False
    for call in syntax.body_nodes(function, "call"):
        short = syntax.last_name(syntax.callee(call))
        if short not in {"execute", "executescript", "exec_driver_sql"}:
            continue
        if not sqlite_file and "text(" not in node_text(call):
            continue  # SQLAlchemy: only text("...") DDL of a SQLite repository
        scripts = _scripts(call, function, constants, lists)
        if not scripts:
            continue
        steps: list[_Step] = []
        for script in scripts:
            parts = _statements(script)
            if any(p.upper().startswith(("BEGIN", "SAVEPOINT")) for p in parts):
                return None
            steps.extend(s for s in map(_step, parts) if s is not None)
        if short == "executescript":
            dml_seen = False  # executescript commits what is pending first
        elif all(s.kind == "DML" for s in steps) and steps:
            if not calls:
                dml_seen = True  # the implicit transaction is open before the first step
            continue
        schema = [s for s in steps if s.kind != "DML"]
        if schema:
            if dml_seen and short != "executescript":
                return None
            calls.append((call, steps))
    steps = [s for _, found in calls for s in found]
    schema = [s for s in steps if s.kind != "DML"]
    if len(schema) < 2 or not any(s.kind in {"ALTER", "DROP", "VERSION"} for s in schema):
        return None
    if _each_step_guarded(calls, function):
        return None
    first_call, last_call = calls[0][0], calls[-1][0]
    scripted = any(syntax.last_name(syntax.callee(c)) == "executescript" for c, _ in calls)
    hit = node_hit(
        ctx,
        first_call,
        until=last_call,
        named_by=function,
        details={
            "function": syntax.function_name(function),
            "count": str(len(schema)),
            "steps": "; ".join(s.text for s in schema[:4]) + ("; ..." if len(schema) > 4 else ""),
            "first": schema[0].text,
            "why": (
                "executescript() commits what is pending, then runs a script without BEGIN "
                "statement by statement in autocommit mode"
                if scripted
                else "Python's sqlite3 opens no implicit transaction for DDL or PRAGMA "
                "statements, and the function begins none"
            ),
        },
    )
    if any(s.kind == "DROP" and re.match(r"DROP\s+TABLE", s.text, re.I) for s in schema):
        hit = dataclasses.replace(
            hit,
            severity=Severity.HIGH,
            severity_reason="a table is dropped outside a transaction: after a failure "
            "past the DROP the table is gone (with its rows, unless they were copied first) "
            "and a rerun of the migration fails",
        )
    return hit


def _each_step_guarded(
    calls: list[tuple[tree_sitter.Node, list[_Step]]], function: tree_sitter.Node
) -> bool:
    """Every call that changes the schema makes one change under its own ``if`` or ``try``
    (``if "col" not in columns: ALTER ...``, ``try: ALTER ... except: pass``): a rerun
    after a failure applies exactly the missing steps."""
    nodes = [call for call, steps in calls if any(s.kind != "DML" for s in steps)]
    for call, steps in calls:
        if sum(s.kind != "DML" for s in steps) > 1:
            return False
        guard = syntax.enclosing(call, "if_statement", "try_statement")
        if guard is None or not tx.inside(guard, function):
            return False
        if any(other.id != call.id and tx.inside(other, guard) for other in nodes):
            return False
    return True


def _scripts(
    call: tree_sitter.Node,
    function: tree_sitter.Node,
    constants: dict[str, str],
    lists: dict[str, list[str]],
) -> list[str]:
    """The SQL texts the call runs: its literal or constant argument, or every element of
    the module-level list its argument iterates over (``for script in MIGRATIONS[v:]``)."""
    args = syntax.positional_args(call)
    if not args:
        return []
    first = args[0]
    if first.type == "call" and syntax.last_name(syntax.callee(first)) == "text":
        inner = syntax.positional_args(first)
        first = inner[0] if inner else first
    if first.type in {"string", "concatenated_string"}:
        text = literal_text(first)
        return [text] if text else []
    if first.type != "identifier":
        return []
    name = node_text(first)
    if name in constants:
        return [constants[name]]
    loop = syntax.enclosing(call, "for_statement")
    while loop is not None and tx.inside(loop, function):
        left, right = loop.child_by_field_name("left"), loop.child_by_field_name("right")
        if left is not None and right is not None and node_text(left) == name:
            return _iterated(right, constants, lists)
        loop = syntax.enclosing(loop, "for_statement")
    return []


def _iterated(
    node: tree_sitter.Node, constants: dict[str, str], lists: dict[str, list[str]]
) -> list[str]:
    if node.type == "subscript":
        value = node.child_by_field_name("value")
        node = value if value is not None else node
    if node.type == "identifier":
        return lists.get(node_text(node), [])
    if node.type in {"list", "tuple"}:
        return _elements(node, constants)
    return []


def _module_lists(ctx: FileContext) -> dict[str, list[str]]:
    """Module-level names bound to a list / tuple of SQL strings (literals or constants)."""
    constants = string_constants(ctx.root)
    found: dict[str, list[str]] = {}
    for statement in ctx.root.named_children:
        if statement.type != "expression_statement":
            continue
        for assignment in statement.named_children:
            left = assignment.child_by_field_name("left")
            right = assignment.child_by_field_name("right")
            if (
                assignment.type == "assignment"
                and left is not None
                and right is not None
                and left.type == "identifier"
                and right.type in {"list", "tuple"}
            ):
                texts = _elements(right, constants)
                if texts:
                    found[node_text(left)] = texts
    return found


def _elements(node: tree_sitter.Node, constants: dict[str, str]) -> list[str]:
    texts = []
    for element in node.named_children:
        if element.type in {"string", "concatenated_string"}:
            texts.append(literal_text(element) or "")
        elif element.type == "identifier" and node_text(element) in constants:
            texts.append(constants[node_text(element)])
    return texts


def _statements(script: str) -> list[str]:
    """The script's statements (split at ';'), comments removed, upper-case-insensitive."""
    cleaned = SQL_COMMENT.sub(" ", script)
    return [" ".join(part.split()) for part in cleaned.split(";") if part.strip()]


def _step(sql: str) -> _Step | None:
    """What one statement does to the schema, or None (a read, a re-runnable DDL)."""
    upper = sql.upper()
    short = sql if len(sql) <= 60 else sql[:57] + "..."
    if upper.startswith("ALTER "):
        return _Step("ALTER", short)
    if upper.startswith("DROP "):
        return None if re.match(r"DROP\s+\w+\s+IF\s+EXISTS", upper) else _Step("DROP", short)
    if upper.startswith("CREATE "):
        return None if re.search(r"\bIF\s+NOT\s+EXISTS\b", upper) else _Step("CREATE", short)
    if re.match(r"PRAGMA\s+(\w+\.)?user_version\s*=", upper, re.I):
        return _Step("VERSION", short)
    if upper.split(" ", 1)[0] in _DML:
        return _Step("DML", short)
    return None


RULE = Rule(meta=META, doc=__doc__ or "", check_repo=check_repo)
