"""Status read with rusqlite, checked in Rust, then updated without a guard in the WHERE clause.

What it finds:
    In a non-test Rust function of a file that uses rusqlite: a SELECT of a ``status`` /
    ``state`` column (or ``*``) of a table, then an ``if`` / ``match`` on a status or state,
    then an ``UPDATE <same table> SET status = ...`` whose WHERE clause does not test the
    status and whose affected-row count (the ``usize`` ``execute`` returns) is not used.
    Not reported: a function that opens a transaction (``transaction()``,
    ``unchecked_transaction()``, ``transaction_with_behavior()``, ``BEGIN``: a concurrent
    commit between the read and the write makes the write fail with SQLITE_BUSY instead of
    racing), a function that holds a mutex guard (``.lock()``: the read and the write are
    serialized in the process), and an ``UPDATE ... SET status = '<literal>' WHERE id = ?``,
    which ``rust-update-not-scoped`` reports. Statements run on a transaction handle
    (``tx.query_row``, ``transaction.execute``) are trusted. Experimental: it found nothing
    on the real crates measured, so its precision is unmeasured.

Why it matters:
    Between the SELECT and the UPDATE another request, worker or process can change the
    row. Both callers read "pending", both pass the check, both update it and both start
    the work: a check-then-act race. SQLite can make the transition atomic with the
    expected status in the WHERE clause; Rust code after the read cannot.

Example:
    let status: String =
        conn.query_row("SELECT status FROM jobs WHERE id = ?1", [id], |r| r.get(0))?;
    if status != "pending" {
        return Err(Error::NotPending(id));
    }
    conn.execute("UPDATE jobs SET status = ?1, worker = ?2 WHERE id = ?3", ("running", me, id))?;

Use instead:
    let claimed = conn.execute(
        "UPDATE jobs SET status = 'running', worker = ?1 WHERE id = ?2 AND status = 'pending'",
        (me, id),
    )?;
    if claimed == 0 {
        return Err(Error::NotPending(id));
    }
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import tree_sitter

from vibe_audit.chunker.parsing import node_text
from vibe_audit.rules import rust, syntax
from vibe_audit.rules.base import Hit, Rule, RuleMeta, node_hit
from vibe_audit.rules.context import FileContext
from vibe_audit.rules.sqltext import (
    BEGIN,
    FROM_TABLE,
    STATUS_COLUMN,
    STATUS_WORD,
    guards_status,
    parse_update,
    sets_status,
    sql_verb,
)
from vibe_audit.schemas import Confidence, Severity

META = RuleMeta(
    id="rust-rusqlite-status-check-then-act",
    title="Status checked in code, then updated without a WHERE guard (rusqlite)",
    severity=Severity.HIGH,
    confidence=Confidence.MEDIUM,
    categories={
        "concurrency": "Race Condition",
        "guardrails": "Row Locking",
        "checkpoint": "Concurrency",
    },
    checklist=[
        "concurrency.3A",
        "concurrency.3B",
        "guardrails.2A",
        "guardrails.1B",
        "checkpoint.6D",
    ],
    problem=(
        "{function}() reads {column} from {table}, decides in code, then runs `{update}`, "
        "whose WHERE clause does not re-check {column}, and ignores how many rows it "
        "changed. Nothing stops the row from changing between the read and the write."
    ),
    scenario=(
        "Two callers (threads, requests or processes) run {function}() for the same row at "
        "once: both read the old {column}, both pass the check, both update it, and the "
        "follow-up work runs twice."
    ),
    impact=(
        "Duplicate processing and lost transitions under concurrent calls; a terminal state "
        "can be overwritten by a stale decision."
    ),
    how_to_verify=(
        "Call {function}() from two threads (each with its own connection) for one row, "
        "pausing both after the SELECT: both take the branch and both updates succeed."
    ),
    fix=(
        "Move the check into the UPDATE and use the count execute() returns:\n"
        "    UPDATE {table} SET {column} = <new> WHERE id = ?1 AND {column} = <expected>\n"
        "and act only when it is 1; or run the read and the write in one "
        "`conn.transaction_with_behavior(TransactionBehavior::Immediate)`."
    ),
    trade_off=(
        "Callers must handle 'no row updated' (someone else won); the logic moves partly into SQL."
    ),
    effort_hours=(0.5, 1.5),
    languages=["rust"],
    needs_concurrency=True,
    experimental=True,
)

_TRANSACTIONS = frozenset(
    {"transaction", "unchecked_transaction", "transaction_with_behavior", "savepoint"}
)
# The case rust-update-not-scoped reports: a literal status assigned by the id alone.
_ID_ONLY = re.compile(r"^\(?\s*(?:\w+\.)?\"?id\"?\s*=\s*(?:\$\d+|\?\d*|:\w+|@\w+)\s*\)?$", re.I)
_LITERAL_STATUS = re.compile(STATUS_COLUMN + r"\s*=\s*'", re.I)
_SET_COLUMN = re.compile(r"\b(\w*(?:status|state))\s*=", re.I)


def _selected(sql: str) -> str:
    """The column list of a SELECT ('*' counts as every column)."""
    columns = re.split(r"\bFROM\b", sql, maxsplit=1, flags=re.I)[0]
    return "status" if "*" in columns else columns


def _checks(function: tree_sitter.Node) -> list[tree_sitter.Node]:
    """``if`` / ``match`` expressions of the function testing a status or state."""
    found: list[tree_sitter.Node] = []
    for node in rust.rust_body_nodes(function):
        if node.type == "if_expression":
            tested = node.child_by_field_name("condition")
        elif node.type == "match_expression":
            tested = node.child_by_field_name("value")
        else:
            continue
        if tested is not None and STATUS_WORD.search(node_text(tested)):
            found.append(node)
    return found


def _execute_of(node: tree_sitter.Node) -> tree_sitter.Node | None:
    """The ``x.execute(..)`` call whose argument is ``node``."""
    current = node.parent
    while current is not None and current.type != "function_item":
        if current.type == "call_expression" and rust.method_name(current) == "execute":
            return current
        current = current.parent
    return None


def _count_used(call: tree_sitter.Node) -> bool:
    """The value of ``call`` (the affected-row count) is used: not a bare ``...?;``."""
    current = call
    parent = current.parent
    while parent is not None and parent.type == "try_expression":
        current, parent = parent, parent.parent
    return parent is None or parent.type != "expression_statement"


# Statements run on a transaction handed in by a wrapper (`db.write(|tx| ...)`).
_ON_TRANSACTION = re.compile(r"\b(tx|txn|trans|transaction)\s*\.\s*(query_row|execute|prepare)")


def _transaction_or_lock(function: tree_sitter.Node, constants: dict[str, str]) -> bool:
    if _ON_TRANSACTION.search(node_text(function)):
        return True
    for call in rust.rust_method_calls(function, *_TRANSACTIONS, "lock", "execute_batch"):
        if rust.method_name(call) != "execute_batch":
            return True
        args = rust.call_arguments(call)
        text = rust.rust_string(args[0]) if args else None
        if text is None and args and args[0].type == "identifier":
            text = constants.get(node_text(args[0]))
        if text is not None and BEGIN.match(text):
            return True
    return False


def check_file(ctx: FileContext) -> Iterator[Hit]:
    text = ctx.source.text
    if "rusqlite" not in text or "UPDATE" not in text.upper() or not STATUS_WORD.search(text):
        return
    if syntax.is_test_path(ctx.source.path):
        return
    constants = rust.string_constants(ctx.root)
    for function in rust.rust_functions(ctx.root):
        statements = rust.function_sql(function, constants)
        reads: dict[str, tree_sitter.Node] = {}
        for node, sql in statements:
            if sql_verb(sql) == "SELECT" and STATUS_WORD.search(_selected(sql)):
                table = FROM_TABLE.search(sql)
                if table is not None:
                    name = table.group(1).strip('"').rsplit(".", 1)[-1].lower()
                    reads.setdefault(name, node)
        if not reads or rust.is_rust_test(function, ctx.source.path):
            continue
        checks = _checks(function)
        if not checks or _transaction_or_lock(function, constants):
            continue
        for node, sql in statements:
            update = parse_update(sql)
            read = reads.get(update.table) if update is not None else None
            if update is None or read is None or not sets_status(update):
                continue
            if guards_status(update):
                continue  # the transition is checked in SQL
            if _ID_ONLY.match(update.where) and _LITERAL_STATUS.search(update.assignments):
                continue  # rust-update-not-scoped reports it
            execute = _execute_of(node)
            if execute is None or _count_used(execute):
                continue
            check = next(
                (c for c in checks if read.start_byte < c.start_byte < node.start_byte), None
            )
            if check is None:
                continue
            column = _SET_COLUMN.search(update.assignments)
            yield node_hit(
                ctx,
                check,
                until=execute,
                named_by=execute,
                details={
                    "function": rust.rust_function_name(function),
                    "table": update.table,
                    "column": column.group(1).lower() if column else "status",
                    "update": " ".join(sql.split()),
                },
            )
            break  # one finding per function


RULE = Rule(meta=META, doc=__doc__ or "", check_file=check_file)
