"""Database errors caught and silently discarded.

What it finds:
    A ``try`` whose body writes: commits, or executes SQL that changes data (INSERT, UPDATE,
    DELETE, REPLACE, executemany / executescript), with a handler that catches every error
    (bare ``except``, ``Exception``, ``BaseException``) or a database error
    (``sqlite3.Error``, ``OperationalError``, ``DatabaseError``) and does nothing
    (``pass``, ``...``, ``continue``); or a handler of a database error
    (``OperationalError``, ``sqlite3.Error``, ...) that only logs, around an UPDATE that sets
    a status or state column (the row stays in its old state, with a log line only). A
    probe (a SELECT, a PRAGMA, a CREATE VIRTUAL TABLE to test for FTS5) whose failure means
    "not supported" is not a write and not reported, nor is a cache's code (a module or
    function named ``*cache*``): a lost cache write costs a recomputation, not data.

Why it matters:
    "database is locked" is the normal failure of SQLite under concurrency. Swallowing it
    means the write is lost while the caller believes it happened: the status never
    changes, the job is stuck, and nothing is logged.

Example:
    try:
        conn.execute("UPDATE jobs SET status=? WHERE id=?", (status, job_id))
        conn.commit()
    except Exception:
        pass

Use instead:
    for attempt in range(5):
        try:
            with conn:
                conn.execute("UPDATE jobs SET status=? WHERE id=?", (status, job_id))
            break
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or attempt == 4:
                raise
            time.sleep(0.05 * 2**attempt + random.random() * 0.05)
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import tree_sitter

from vibe_audit.chunker.parsing import node_text
from vibe_audit.rules import literals, syntax
from vibe_audit.rules.base import Hit, Rule, RuleMeta, node_hit
from vibe_audit.rules.context import FileContext
from vibe_audit.rules.sql import sql_argument
from vibe_audit.rules.sqltext import parse_update, sets_status
from vibe_audit.schemas import Confidence, Severity

META = RuleMeta(
    id="sqlite-swallowed-db-error",
    title="Database error swallowed (except ...: pass around a write)",
    severity=Severity.HIGH,
    confidence=Confidence.HIGH,
    categories={"sqlite": "Error Handling", "reliability": "Error Handling"},
    checklist=["sqlite.7A", "sqlite.7B", "reliability.7.3", "reliability.2.3", "reliability.obs.1"],
    problem=(
        "The handler at this line catches {caught} around SQL writes and {handling}. A "
        "'database is locked' error loses the write, and the open transaction is neither "
        "committed nor rolled back."
    ),
    scenario=(
        "Two writers reach this code ({where}) at once; one gets 'database is locked', the "
        "error is swallowed, and the row it meant to change keeps its old values with "
        "{logged}."
    ),
    impact=(
        "Silent data loss and rows stuck in an old state under concurrent writes; the "
        "failure is invisible in logs and metrics."
    ),
    how_to_verify=(
        "Hold a write lock from another connection (`BEGIN IMMEDIATE` in the sqlite3 shell) "
        "and run this path: it returns normally and the row is unchanged."
    ),
    fix=(
        "Catch sqlite3.OperationalError only, retry 'database is locked' with exponential "
        "backoff and jitter, roll back (use `with conn:`), and log + re-raise anything else."
    ),
    trade_off="Retries add latency under contention; bound them and surface the final failure.",
    effort_hours=(0.5, 1.0),
)

_WRITE_METHODS = frozenset({"executemany", "executescript", "commit"})
_WRITE_SQL = re.compile(
    r"\s*(INSERT|UPDATE|DELETE|REPLACE|UPSERT|WITH\b.*\b(INSERT|UPDATE|DELETE))\b", re.I | re.S
)
_BROAD = frozenset({"", "Exception", "BaseException"})
_DB_ERRORS = frozenset({"Error", "OperationalError", "DatabaseError", "IntegrityError"})


def check_file(ctx: FileContext) -> Iterator[Hit]:
    constants: dict[str, str] | None = None
    for statement in syntax.of_type(ctx.root, "try_statement"):
        body = statement.child_by_field_name("body")
        if body is None:
            continue
        if constants is None:
            constants = literals.string_constants(ctx.root)
        if not _writes_sql(body, constants) or _in_cache(ctx, statement):
            continue
        for clause in statement.named_children:
            if clause.type != "except_clause":
                continue
            caught = _caught(clause)
            database_error = syntax.last_name(caught) in _DB_ERRORS
            if _silent(clause) and (caught in _BROAD or database_error):
                handling, logged = "discards it", "nothing logged"
            elif database_error and _logs_only(clause) and _sets_status(body, constants):
                handling, logged = "only logs it", "only a log line to show for it"
            else:
                continue
            yield node_hit(
                ctx,
                clause,
                details={
                    "caught": caught or "every exception (bare except)",
                    "handling": handling,
                    "logged": logged,
                },
            )


def _in_cache(ctx: FileContext, node: tree_sitter.Node) -> bool:
    """Code of a cache (its module or function is named so): a failed write there costs a
    recomputation, not data, and ignoring it is a common, deliberate choice."""
    function = syntax.enclosing(node, "function_definition")
    names = [ctx.source.path.rsplit("/", 1)[-1]]
    if function is not None:
        names.append(syntax.function_name(function))
    return any("cache" in name.lower() for name in names)


def runs_sql(body: tree_sitter.Node) -> bool:
    """The body executes or commits any SQL (a read, a probe or a write)."""
    return any(
        syntax.last_name(syntax.callee(call)) in {"execute", *_WRITE_METHODS}
        for call in syntax.of_type(body, "call", stop_at=syntax.FUNCTION_TYPES)
    )


def _writes_sql(body: tree_sitter.Node, constants: dict[str, str]) -> bool:
    for call in syntax.of_type(body, "call", stop_at=syntax.FUNCTION_TYPES):
        method = syntax.last_name(syntax.callee(call))
        if method in _WRITE_METHODS:
            return True
        if method == "execute":
            sql = sql_argument(call, constants)
            if sql is not None and _WRITE_SQL.match(sql):
                return True
    return False


_LOG_METHODS = frozenset({"debug", "info", "warning", "warn", "error", "exception", "print"})


def _logs_only(clause: tree_sitter.Node) -> bool:
    """A handler whose statements are all log calls (``log.warning(...)``, ``print(...)``)."""
    block = next((c for c in clause.named_children if c.type == "block"), None)
    statements = [s for s in block.named_children if s.type != "comment"] if block else []
    if not statements:
        return False
    for statement in statements:
        call = statement.named_children[0] if statement.named_children else None
        if statement.type != "expression_statement" or call is None or call.type != "call":
            return False
        if syntax.last_name(syntax.callee(call)) not in _LOG_METHODS:
            return False
    return True


def _sets_status(body: tree_sitter.Node, constants: dict[str, str]) -> bool:
    """The try body runs an UPDATE that assigns a status / state column."""
    for call in syntax.of_type(body, "call", stop_at=syntax.FUNCTION_TYPES):
        sql = sql_argument(call, constants)
        update = parse_update(sql) if sql else None
        if update is not None and sets_status(update):
            return True
    return False


def _caught(clause: tree_sitter.Node) -> str:
    for child in clause.named_children:
        if child.type == "block":
            return ""
        if child.type == "as_pattern":
            child = child.named_children[0]
        return node_text(child)
    return ""


def _silent(clause: tree_sitter.Node) -> bool:
    block = next((c for c in clause.named_children if c.type == "block"), None)
    if block is None:
        return False
    statements = [s for s in block.named_children if s.type != "comment"]
    return all(
        s.type in {"pass_statement", "continue_statement"}
        or (s.type == "expression_statement" and node_text(s).strip() == "...")
        for s in statements
    )


RULE = Rule(meta=META, doc=__doc__ or "", check_file=check_file)
