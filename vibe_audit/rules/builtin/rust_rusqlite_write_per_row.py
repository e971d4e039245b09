"""rusqlite write executed in a loop outside a transaction: one commit (and fsync) per row.

What it finds:
    A ``for`` loop whose body runs an INSERT / UPDATE / DELETE / REPLACE with rusqlite
    (``conn.execute("INSERT ...", ..)``, or ``stmt.execute(..)`` on a statement prepared from
    such SQL) on a connection the same function opened (``Connection::open``), locked
    (``self.conn.lock()``) or checked out of a pool (``pool.get()``), in a function that
    starts no transaction (no ``transaction()`` / ``unchecked_transaction()`` /
    ``savepoint()``, no ``BEGIN``). A connection received as a parameter is not reported
    (the caller may hold a transaction), nor are an in-memory database or small retry loops
    (``for _ in 0..3``).

Why it matters:
    rusqlite connections are in autocommit mode: outside an explicit transaction every
    statement is its own write transaction, which takes the write lock, appends to the
    journal and syncs it. A 10,000-row import does 10,000 commits instead of one, holds the
    write lock for most of its run (other writers wait out their busy timeout and fail with
    "database is locked"), and a failure midway leaves the rows before it committed.

Example:
    let conn = Connection::open(path)?;
    for item in &items {
        conn.execute("INSERT INTO items (sku, qty) VALUES (?1, ?2)", (&item.sku, item.qty))?;
    }

Use instead:
    let mut conn = Connection::open(path)?;
    let tx = conn.transaction()?;
    {
        let mut insert = tx.prepare_cached("INSERT INTO items (sku, qty) VALUES (?1, ?2)")?;
        for item in &items {
            insert.execute((&item.sku, item.qty))?;
        }
    }
    tx.commit()?;
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import tree_sitter

from vibe_audit.chunker.parsing import node_text
from vibe_audit.rules import rust, syntax
from vibe_audit.rules.base import Hit, Rule, RuleMeta, node_hit
from vibe_audit.rules.context import FileContext
from vibe_audit.rules.sqltext import BEGIN, is_write, statement
from vibe_audit.schemas import Confidence, Severity

META = RuleMeta(
    id="rust-rusqlite-write-per-row",
    title="SQLite write in a loop outside a transaction (one commit per row, rusqlite)",
    severity=Severity.MEDIUM,
    confidence=Confidence.HIGH,
    categories={"sqlite": "Write Contention", "concurrency": "Transaction"},
    checklist=[
        "sqlite.3D",
        "sqlite.4B",
        "sqlite.6D",
        "concurrency.1A",
        "concurrency.4A",
        "concurrency.sqlite_checklist.6",
        "concurrency.sqlite_checklist.7",
        "sqlite.6B",
    ],
    problem=(
        "{function}() runs `{write}` on every iteration of `for {loop}` on {connection} "
        "with no transaction open: in autocommit mode each row of {table} is its own write "
        "transaction, with its own write lock and sync."
    ),
    scenario=(
        "{function}() runs over 500 rows while other code writes to the same database: the "
        "loop takes and releases the write lock 500 times and syncs 500 times, the other "
        "writers keep finding the database locked, and an error midway leaves the rows "
        "before it committed."
    ),
    impact=(
        "Writes 10-100x slower than one transaction, 'database is locked' errors for "
        "concurrent writers, and partial results after a failure."
    ),
    how_to_verify=(
        "Time {function}() with 1,000 rows, then with the loop inside "
        "`let tx = conn.transaction()?; ... tx.commit()?;`; run a second writer meanwhile "
        "and count its lock errors."
    ),
    fix=(
        "Run the loop inside one transaction: `let tx = conn.transaction()?;` (with only "
        "`&Connection`: `conn.unchecked_transaction()?`), execute the statement on `tx` "
        "(prepared once with prepare_cached), then `tx.commit()?`."
    ),
    trade_off=(
        "One transaction holds the write lock for its whole duration; for very large imports "
        "commit in batches of 1,000-10,000 rows, and make the import re-runnable (INSERT OR "
        "IGNORE / ON CONFLICT) if rows committed before a failure mattered."
    ),
    effort_hours=(0.25, 1.0),
    languages=["rust"],
)

_TRANSACTIONS = frozenset(
    {"transaction", "unchecked_transaction", "transaction_with_behavior", "savepoint",
     "savepoint_with_name"}
)  # fmt: skip
# A connection this function opens, locks, or checks out of a pool (r2d2 `pool.get()`).
_OPENS = re.compile(r"Connection::open|\.lock\(\)|\b\w*(pool|db)\w*\s*\.\s*get\(\)", re.I)
_SMALL_RANGE = re.compile(r"^\(?\s*\d+\s*\.\.=?\s*\d\s*\)?$")


def _sql_of(node: tree_sitter.Node, constants: dict[str, str]) -> str | None:
    text = rust.rust_string(node)
    if text is None and node.type == "identifier":
        text = constants.get(node_text(node))
    return text


def _root_name(node: tree_sitter.Node) -> str:
    text = node_text(node).lstrip("&*").removeprefix("mut ").strip()
    return re.split(r"[.\s(\[]", text, maxsplit=1)[0]


def _locals(function: tree_sitter.Node) -> dict[str, str]:
    """{name: the text of its value} for the function's ``let NAME = ...;`` bindings."""
    found: dict[str, str] = {}
    for declaration in syntax.of_type(
        function, "let_declaration", stop_at=frozenset({"function_item"})
    ):
        pattern = declaration.child_by_field_name("pattern")
        value = declaration.child_by_field_name("value")
        if pattern is not None and value is not None:
            found[node_text(pattern).removeprefix("mut ").strip()] = node_text(value)
    return found


def _starts_transaction(function: tree_sitter.Node, constants: dict[str, str]) -> bool:
    for call in rust.rust_method_calls(function, *_TRANSACTIONS, "execute", "execute_batch"):
        if rust.method_name(call) in _TRANSACTIONS:
            return True
        args = rust.call_arguments(call)
        sql = _sql_of(args[0], constants) if args else None
        if sql is not None and BEGIN.match(sql):
            return True
    return False


def _loop_write(
    body: tree_sitter.Node, bindings: dict[str, str], constants: dict[str, str]
) -> tuple[tree_sitter.Node, str, str] | None:
    """(call, SQL, connection name) of the first write the loop body executes."""
    for call in rust.rust_method_calls(body, "execute"):
        target = rust.receiver(call)
        if target is None:
            continue
        name = _root_name(target)
        args = rust.call_arguments(call)
        sql = _sql_of(args[0], constants) if args else None
        if sql is not None:
            if is_write(sql):
                return call, sql, name
            continue
        prepared = bindings.get(name, "")  # stmt.execute(params) on a prepared statement
        match = re.match(r"\s*([\w.&*()]+?)\s*\.\s*prepare(?:_cached)?\s*\(\s*", prepared)
        if match is None:
            continue
        literal = re.match(r'(?:r#*)?"((?:[^"\\]|\\.)*)"', prepared[match.end() :], re.S)
        sql = (
            literal.group(1)
            if literal
            else constants.get(prepared[match.end() :].split(")")[0].strip(), "")
        )
        if sql and is_write(sql):
            return call, sql, _root_name_text(match.group(1))
    return None


def _first_words(sql: str) -> str:
    words = " ".join(sql.split())
    return words if len(words) <= 60 else words[:57] + "..."


def _root_name_text(text: str) -> str:
    return re.split(r"[.\s(\[]", text.lstrip("&*").strip(), maxsplit=1)[0]


def check_file(ctx: FileContext) -> Iterator[Hit]:
    text = ctx.source.text
    if "rusqlite" not in text or syntax.is_test_path(ctx.source.path):
        return
    constants: dict[str, str] | None = None
    for function in rust.rust_functions(ctx.root):
        if rust.is_rust_test(function, ctx.source.path):
            continue
        loops = list(
            syntax.of_type(function, "for_expression", stop_at=frozenset({"function_item"}))
        )
        if not loops:
            continue
        if constants is None:
            constants = rust.string_constants(ctx.root)
        if _starts_transaction(function, constants):
            continue
        bindings = _locals(function)
        for loop in loops:
            body = loop.child_by_field_name("body")
            value = loop.child_by_field_name("value")
            if body is None or value is None or _SMALL_RANGE.match(node_text(value)):
                continue
            found = _loop_write(body, bindings, constants)
            if found is None:
                continue
            call, sql, connection = found
            opened = bindings.get(connection, "")
            if not _OPENS.search(opened):
                continue  # a connection from elsewhere: its caller may hold a transaction
            if "memory" in opened.lower():
                continue  # an in-memory database: no journal, no sync per commit
            pattern = loop.child_by_field_name("pattern")
            target = statement(sql)
            yield node_hit(
                ctx,
                call,
                details={
                    "function": rust.rust_function_name(function),
                    "write": _first_words(sql),
                    "loop": f"{node_text(pattern) if pattern else '_'} in {node_text(value)}",
                    "connection": connection,
                    "table": target[1] if target else "the table",
                },
            )
            break


RULE = Rule(meta=META, doc=__doc__ or "", check_file=check_file)
