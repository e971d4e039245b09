"""Transaction boundaries in Python database code, for the rules that reason about what
commits together: the SQL statements a function executes (literal, ``text("...")`` or a
string constant of the file), its commits, the ``with`` blocks that commit on exit, and
which two statements can both run in one call.

Python's sqlite3 (legacy ``isolation_level`` handling) opens a transaction implicitly only
before INSERT / UPDATE / DELETE / REPLACE, and ``with conn:`` commits that transaction on
exit; DDL and PRAGMA statements open none (since Python 3.6 they do not commit one either).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

import tree_sitter

from vibe_audit.chunker.parsing import node_text
from vibe_audit.rules import syntax
from vibe_audit.rules.context import FileContext, RepoContext, resolved_call
from vibe_audit.rules.literals import string_constants
from vibe_audit.rules.sql import EXECUTE_METHODS, is_sqlite_file, sql_argument
from vibe_audit.rules.sqltext import SQL_COMMENT, sql_verb, statement

WRITE_VERBS = frozenset({"INSERT", "UPDATE", "DELETE", "REPLACE"})
_CONDITIONAL_PARENTS = frozenset({"if_statement", "match_statement", "try_statement"})
_LOOPS = frozenset({"for_statement", "while_statement"})
# ``with`` items that commit on exit: a sqlite3 connection (``with conn:``), SQLAlchemy's
# ``engine.begin()`` / ``session.begin()``, Django's ``transaction.atomic()``, a helper
# named ``transaction()``.
_TX_METHODS = frozenset({"begin", "begin_nested", "transaction", "atomic"})
_CONNECTION_NAME = re.compile(r"^_*(conn|connection|con|cx|cnx|db|database|db_conn|dbconn)$")


@dataclass(frozen=True)
class Statement:
    """One SQL statement a call executes."""

    call: tree_sitter.Node
    sql: str
    verb: str  # first keyword, upper-cased: INSERT, SELECT, ALTER, PRAGMA, BEGIN ...
    table: str  # DML target table (lower-cased), '' for other statements
    receiver: str  # the object the execute method is called on ('conn', 'self.db')


def constants_of(ctx: FileContext, function: tree_sitter.Node) -> dict[str, str]:
    """String constants of the module and of the function's own body."""
    return string_constants(ctx.root) | string_constants(function)


def receiver(call: tree_sitter.Node) -> str:
    """``conn`` of ``conn.execute(...)``, '' for a plain function call."""
    name = syntax.callee(call)
    return name.rsplit(".", 1)[0] if "." in name else ""


def statements(function: tree_sitter.Node, constants: dict[str, str]) -> list[Statement]:
    """SQL statements executed in the function's own body, in source order (one per call;
    ``executescript`` calls keep the whole script)."""
    found = []
    for call in syntax.body_nodes(function, "call"):
        if syntax.last_name(syntax.callee(call)) not in EXECUTE_METHODS:
            continue
        sql = sql_argument(call, constants)
        if not sql:
            continue
        parsed = statement(sql)
        found.append(
            Statement(call, sql, sql_verb(sql), parsed[1] if parsed else "", receiver(call))
        )
    return found


def is_write(stmt: Statement) -> bool:
    return stmt.verb in WRITE_VERBS and bool(stmt.table)


def commits(function: tree_sitter.Node) -> list[tree_sitter.Node]:
    """``x.commit()`` calls and ``execute("COMMIT")`` in the function's own body."""
    found = []
    for call in syntax.body_nodes(function, "call"):
        short = syntax.last_name(syntax.callee(call))
        if short == "commit":
            found.append(call)
        elif short in {"execute", "exec_driver_sql"}:
            args = syntax.positional_args(call)
            text = syntax.string_value(args[0]) if args else None
            if text and re.match(r"^\s*(COMMIT|END)\b", SQL_COMMENT.sub(" ", text), re.I):
                found.append(call)
    return found


def transaction_blocks(function: tree_sitter.Node) -> list[tree_sitter.Node]:
    """``with`` statements of the function whose context manager commits on exit."""
    return [w for w in syntax.body_nodes(function, "with_statement") if commits_on_exit(w)]


def with_items(with_statement: tree_sitter.Node) -> list[tree_sitter.Node]:
    """The context-manager expressions of a ``with`` statement (without ``as`` targets)."""
    items = []
    for clause in with_statement.named_children:
        if clause.type != "with_clause":
            continue
        for item in clause.named_children:
            value = item.child_by_field_name("value") or (
                item.named_children[0] if item.named_children else None
            )
            if value is not None and value.type == "as_pattern":
                value = value.named_children[0] if value.named_children else None
            if value is not None:
                items.append(value)
    return items


def commits_on_exit(with_statement: tree_sitter.Node) -> bool:
    for item in with_items(with_statement):
        if item.type == "await":
            item = item.named_children[0] if item.named_children else item
        if item.type == "call":
            name = syntax.callee(item)
            if name == "sqlite3.connect" or syntax.last_name(name) in _TX_METHODS:
                return True
        elif item.type in {"identifier", "attribute"} and _CONNECTION_NAME.match(
            syntax.last_name(node_text(item)).lower()
        ):
            return True
    return False


def inside(node: tree_sitter.Node, container: tree_sitter.Node) -> bool:
    return container.start_byte <= node.start_byte and node.end_byte <= container.end_byte


def exclusive(a: tree_sitter.Node, b: tree_sitter.Node) -> bool:
    """``a`` and ``b`` sit in different branches of one if / match, or one in a ``try``
    body and the other in its ``except`` handler: one call does not run both in order."""
    ancestors: dict[int, tree_sitter.Node] = {}
    child, current = a, a.parent
    while current is not None:
        ancestors[current.id] = child
        child, current = current, current.parent
    child, current = b, b.parent
    while current is not None and current.id not in ancestors:
        child, current = current, current.parent
    if current is None or current.type not in _CONDITIONAL_PARENTS:
        return False
    under_a, under_b = ancestors[current.id], child
    if under_a.id == under_b.id:
        return False
    if current.type == "try_statement":
        kinds = {under_a.type, under_b.type}
        return "except_clause" in kinds or "except_group_clause" in kinds
    condition = current.child_by_field_name("condition") or current.child_by_field_name("subject")
    return condition is None or condition.id not in {under_a.id, under_b.id}


def in_loop_without(
    node: tree_sitter.Node, other: tree_sitter.Node, function: tree_sitter.Node
) -> bool:
    """``node`` sits in a loop (of the function) that does not contain ``other``."""
    current = node.parent
    while current is not None and current.id != function.id:
        if current.type in _LOOPS and not inside(other, current):
            return True
        current = current.parent
    return False


def database_files(repo: RepoContext) -> Iterator[FileContext]:
    """Python files that use sqlite3 / aiosqlite / SQLAlchemy, or call a repository function
    that opens a sqlite3 connection."""
    seeds = repo.facts.sync_db_functions
    for ctx in repo.in_language("python"):
        if syntax.is_test_path(ctx.source.path):
            continue
        uses_database = is_sqlite_file(ctx) or "sqlalchemy" in ctx.imports
        if uses_database or (seeds and ctx.local_names & seeds and _calls_any(ctx, seeds)):
            yield ctx


def _calls_any(ctx: FileContext, seeds: set[str]) -> bool:
    return any(
        resolved_call(syntax.callee(call), ctx) in seeds
        for call in syntax.of_type(ctx.root, "call")
    )


def function_label(function: tree_sitter.Node) -> str:
    return syntax.qualified_name(function) or syntax.function_name(function)


def short_sql(sql: str, limit: int = 70) -> str:
    text = " ".join(SQL_COMMENT.sub(" ", sql).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."
