"""Database errors caught and silently discarded.

What it finds:
    A ``try`` whose body executes or commits SQL, with a handler that catches every error
    (bare ``except``, ``Exception``, ``BaseException``) or a database error
    (``sqlite3.Error``, ``OperationalError``, ``DatabaseError``) and does nothing
    (``pass``, ``...``, ``continue``).

Why it matters:
    "database is locked" is the normal failure of SQLite under concurrency. Swallowing it
    means the write is lost while the caller believes it happened: the status never
    changes, the document is stuck, and nothing is logged.

Example:
    try:
        conn.execute("UPDATE documents SET status=? WHERE id=?", (status, doc_id))
        conn.commit()
    except Exception:
        pass

Use instead:
    for attempt in range(5):
        try:
            with conn:
                conn.execute("UPDATE documents SET status=? WHERE id=?", (status, doc_id))
            break
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or attempt == 4:
                raise
            time.sleep(0.05 * 2**attempt + random.random() * 0.05)
"""

from __future__ import annotations

from collections.abc import Iterator

import tree_sitter

from vibe_audit.chunker.parsing import node_text
from vibe_audit.rules import syntax
from vibe_audit.rules.base import Hit, Rule, RuleMeta
from vibe_audit.rules.context import FileContext
from vibe_audit.schemas import Confidence, Severity

META = RuleMeta(
    id="sqlite-swallowed-db-error",
    title="Database error swallowed (except ...: pass around a write)",
    severity=Severity.HIGH,
    confidence=Confidence.HIGH,
    categories={"sqlite": "Error Handling", "reliability": "Error Handling"},
    checklist=["sqlite.7A", "sqlite.7B", "reliability.7.3", "reliability.2.3"],
    problem=(
        "The handler at this line catches {caught} around SQL writes and discards it. A "
        "'database is locked' error loses the write silently, and the open transaction is "
        "neither committed nor rolled back."
    ),
    scenario=(
        "Two workers update statuses at once; one gets 'database is locked', the error is "
        "swallowed, and the document stays in its old status forever with nothing logged."
    ),
    impact=(
        "Silent data loss and stuck documents under concurrent writes; the failure is "
        "invisible in logs and metrics."
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

_SQL_METHODS = frozenset({"execute", "executemany", "executescript", "commit"})
_BROAD = frozenset({"", "Exception", "BaseException"})
_DB_ERRORS = frozenset({"Error", "OperationalError", "DatabaseError", "IntegrityError"})


def check_file(ctx: FileContext) -> Iterator[Hit]:
    for statement in syntax.of_type(ctx.root, "try_statement"):
        body = statement.child_by_field_name("body")
        if body is None or not _writes_sql(body):
            continue
        for clause in statement.named_children:
            if clause.type != "except_clause":
                continue
            caught = _caught(clause)
            if not _silent(clause) or not (
                caught in _BROAD or syntax.last_name(caught) in _DB_ERRORS
            ):
                continue
            yield Hit(
                path=ctx.source.path,
                start_line=syntax.line(clause),
                end_line=syntax.end_line(clause),
                symbol=syntax.qualified_name(clause),
                details={"caught": caught or "every exception (bare except)"},
            )


def _writes_sql(body: tree_sitter.Node) -> bool:
    return any(
        syntax.last_name(syntax.callee(call)) in _SQL_METHODS
        for call in syntax.of_type(body, "call", stop_at=syntax.FUNCTION_TYPES)
    )


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
