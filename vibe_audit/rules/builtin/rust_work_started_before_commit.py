"""Background processing of a row started before the transaction that inserts it commits (Rust).

What it finds:
    A Rust function that opens a transaction into a local (rusqlite
    ``conn.transaction()`` / ``unchecked_transaction()``, sqlx ``pool.begin().await``),
    INSERTs a row through it, and, before ``tx.commit()``, hands work about that row to
    something that runs on its own: ``tokio::spawn`` / ``std::thread::spawn`` /
    ``spawn_blocking``, or a channel ``.send(..)`` / ``.try_send(..)``. The hand-off must
    use a name the INSERT also uses (a bound value, a ``params!`` entry) or the new row's
    id (``last_insert_rowid()``, a ``RETURNING`` row).

Why it matters:
    The spawned task or the channel's consumer starts at once, usually on another
    connection, and reads the row before the transaction commits: it finds nothing, or
    old data, and fails or skips the item. The outcome depends on timing, so it passes in
    tests and fails under load. If the transaction is then rolled back (an error after
    the hand-off drops it), the task works on a row that never existed.

Example:
    let tx = conn.transaction()?;
    tx.execute("INSERT INTO jobs (path) VALUES (?1)", params![path])?;
    let id = tx.last_insert_rowid();
    jobs_tx.send(id)?;                 // the worker queries jobs before COMMIT
    tx.commit()?;

Use instead:
    let tx = conn.transaction()?;
    tx.execute("INSERT INTO jobs (path) VALUES (?1)", params![path])?;
    let id = tx.last_insert_rowid();
    tx.commit()?;
    jobs_tx.send(id)?;
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import tree_sitter

from vibe_audit.chunker.parsing import node_text
from vibe_audit.rules import ports_util as pu
from vibe_audit.rules import rust, syntax
from vibe_audit.rules.base import Hit, Rule, RuleMeta, node_hit
from vibe_audit.rules.context import FileContext
from vibe_audit.schemas import Confidence, Severity

META = RuleMeta(
    id="rust-work-started-before-commit",
    title="Background processing started before the inserted row is committed",
    severity=Severity.HIGH,
    confidence=Confidence.MEDIUM,
    categories={"sqlite": "Async", "concurrency": "Race Condition"},
    checklist=["sqlite.6C"],
    problem=(
        "{function}() inserts into {table} through the transaction `{tx}` and starts "
        "`{spawn}` (line {spawn_line}) before `{tx}.commit()`: the background work can run "
        "before the row is visible to other connections."
    ),
    scenario=(
        "The spawned work starts right away on another connection and reads {table}: the "
        "uncommitted row is not there yet, so it fails or skips the item; if the "
        "transaction is then dropped without commit, work is done for a row that does not "
        "exist."
    ),
    impact=(
        "Intermittent 'not found' failures and items that are never processed, depending "
        "on timing, so they pass tests and show up under load."
    ),
    how_to_verify=(
        "Add a sleep between `{spawn}` and `{tx}.commit()` in {function}() and let the "
        "spawned work read the row: it does not find it."
    ),
    fix="Commit first, then spawn or send: move `{spawn}` after `{tx}.commit()`.",
    trade_off=(
        "If starting the work then fails, the row is committed without a worker: keep a "
        "status column and a sweeper that re-queues rows left new."
    ),
    effort_hours=(0.1, 0.5),
    languages=["rust"],
    experimental=True,
    needs_concurrency=True,
)

_SPAWN = re.compile(r"(^|::)(spawn|spawn_blocking|spawn_local)$")
_SEND = frozenset({"send", "try_send", "blocking_send", "send_async", "unbounded_send"})
_NOT_ROW = frozenset(
    {"sqlx", "query", "query_as", "query_scalar", "params", "self", "mut", "i64", "String",
     "Utc", "now", "Some", "None", "Ok", "chrono", "serde_json", "json", "to_string"}
)  # fmt: skip


def check_file(ctx: FileContext) -> Iterator[Hit]:
    text = ctx.source.text
    if "INSERT" not in text.upper() or not re.search(r"spawn|\.send\(|try_send", text):
        return
    if syntax.is_test_path(ctx.source.path):
        return
    constants = rust.string_constants(ctx.root)
    for tx in pu.rust_transactions(ctx.root):
        if rust.is_rust_test(tx.function, ctx.source.path):
            continue
        hit = _check(ctx, tx, constants)
        if hit is not None:
            yield hit


def _check(ctx: FileContext, tx: pu.RustTransaction, constants: dict[str, str]) -> Hit | None:
    calls = pu.rust_calls_between(tx)
    rowid_names: set[str] = set()
    for call in calls:
        if rust.method_name(call) == "last_insert_rowid":
            rowid_names |= pu.rust_let_names(call)
    for insert in calls:
        if insert.type != "call_expression":
            continue
        sql = pu.rust_sql_of(insert, constants)
        match = pu.INSERT_SQL.match(sql or "")
        if match is None:
            continue
        chain = pu.rust_sql_chain(insert)
        names = pu.rust_identifiers(chain) | pu.rust_let_names(insert) | rowid_names
        names -= _NOT_ROW | {tx.name}
        for spawn in calls:
            if spawn.start_byte < chain.end_byte or pu.exclusive(insert, spawn):
                continue
            described = _hand_off(spawn, tx.name)
            if described is None:
                continue
            if not names & (pu.rust_identifiers(spawn) - {tx.name}):
                continue
            return node_hit(
                ctx,
                insert,
                until=spawn,
                named_by=insert,
                details={
                    "function": rust.rust_function_name(tx.function),
                    "table": match.group(2),
                    "tx": tx.name,
                    "spawn": described,
                    "spawn_line": str(syntax.line(spawn)),
                },
            )
    return None


def _hand_off(call: tree_sitter.Node, tx_name: str) -> str | None:
    if call.type != "call_expression":
        return None
    function = call.child_by_field_name("function")
    if function is not None and function.type in {"identifier", "scoped_identifier"}:
        name = node_text(function)
        return f"{name}(..)" if _SPAWN.search(name) else None
    method = rust.method_name(call)
    if method not in _SEND or not rust.call_arguments(call):
        return None
    owner = rust.receiver(call)
    if owner is None or node_text(owner) == tx_name:
        return None
    return f"{node_text(owner)}.{method}(..)"


RULE = Rule(meta=META, doc=__doc__ or "", check_file=check_file)
