"""Rust SQLite connection whose busy timeout is turned off: fails at once when locked.

What it finds:
    In non-test Rust code that uses rusqlite or sqlx: ``conn.busy_timeout(Duration::ZERO)``
    (also ``from_secs(0)``, ``from_millis(0)``, ``Duration::new(0, 0)``), sqlx's
    ``SqliteConnectOptions::busy_timeout(Duration::ZERO)``, rusqlite's
    ``conn.busy_handler(None)``, and ``PRAGMA busy_timeout = 0`` (``pragma_update(None,
    "busy_timeout", 0)``, a SQL string, sqlx's ``.pragma("busy_timeout", "0")``).

    A connection left at its defaults is NOT flagged: rusqlite sets a 5000 ms busy timeout
    on every connection it opens (``sqlite3_busy_timeout(db, 5000)`` in its
    ``InnerConnection::open_with_flags``) and sqlx's ``SqliteConnectOptions`` default to
    ``busy_timeout: Duration::from_secs(5)``. The defect in Rust is turning that off.

Why it matters:
    With no busy timeout (and no busy handler), a statement that finds the database locked
    by another connection's write fails immediately with SQLITE_BUSY ("database is
    locked") instead of waiting the few milliseconds the other transaction needs. WAL does
    not remove this: two writers still take turns.

Example:
    let conn = Connection::open(path)?;
    conn.busy_timeout(Duration::ZERO)?;   // "fail fast"

Use instead:
    let conn = Connection::open(path)?;   // rusqlite's default: 5 s
    conn.busy_timeout(Duration::from_secs(5))?;
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import tree_sitter

from vibe_audit.chunker.parsing import node_text
from vibe_audit.rules import rust, syntax
from vibe_audit.rules.base import Hit, Rule, RuleMeta, node_hit
from vibe_audit.rules.context import FileContext
from vibe_audit.rules.pragmas_util import rust_pragmas
from vibe_audit.schemas import Confidence, Severity

META = RuleMeta(
    id="rust-sqlite-busy-timeout-disabled",
    title="SQLite busy timeout turned off (fails at once when locked)",
    severity=Severity.HIGH,
    confidence=Confidence.HIGH,
    categories={"sqlite": "Connection", "concurrency": "SQLite", "reliability": "Timeout"},
    checklist=[
        "sqlite.3A",
        "sqlite.pragma.2",
        "concurrency.1A",
        "concurrency.sqlite_checklist.2",
        "reliability.1.2",
    ],
    problem=(
        "`{text}` in {function}() turns off the 5 s busy timeout {driver} sets by default: a "
        "statement that meets another connection's lock fails at once instead of waiting."
    ),
    scenario=(
        "Another connection (a second pooled connection, another task or process) is "
        "committing when a statement runs on this one: SQLite returns SQLITE_BUSY ('database "
        "is locked') within microseconds, although the lock would be free a few "
        "milliseconds later."
    ),
    impact=(
        "Spurious failures proportional to concurrency: a share of reads and writes fail "
        "under light load, and callers without a retry lose the operation."
    ),
    how_to_verify=(
        "Hold a write lock from the sqlite3 shell (`BEGIN IMMEDIATE;`) and run a write "
        "through a connection {function}() configured: it fails at once with 'database is "
        "locked' instead of after a wait."
    ),
    fix=(
        "Remove the call (keep the driver's 5 s default) or set a few seconds:\n"
        "    conn.busy_timeout(Duration::from_secs(5))?;\n"
        "    // sqlx: SqliteConnectOptions::...busy_timeout(Duration::from_secs(5))"
    ),
    trade_off=(
        "A statement may now wait up to the timeout under contention, so a stuck transaction "
        "shows as latency before it shows as an error; keep transactions short."
    ),
    effort_hours=(0.1, 0.5),
    languages=["rust"],
    needs_concurrency=True,
)

_ZERO_DURATION = re.compile(
    r"^(std::time::|core::time::|time::)?Duration::(ZERO|default\(\)|"
    r"from_(secs|millis|micros|nanos|secs_f32|secs_f64)\(\s*0(\.0*)?(_?[iuf]\w*)?\s*\)|"
    r"new\(\s*0\w*\s*,\s*0\w*\s*\))$"
)
_ZERO_VALUES = frozenset({"0", "0.0"})


def check_file(ctx: FileContext) -> Iterator[Hit]:
    text = ctx.source.text
    if syntax.is_test_path(ctx.source.path) or not re.search(r"rusqlite|sqlx|Sqlite", text):
        return
    if "busy" not in text:
        return
    seen: set[int] = set()
    for node, driver in _turned_off(ctx):
        if rust.is_rust_test(node, ctx.source.path) or syntax.line(node) in seen:
            continue
        seen.add(syntax.line(node))
        function = rust.enclosing_function(node)
        name = rust.rust_function_name(function) if function is not None else "<module>"
        said = ctx.lines[syntax.line(node) - 1].strip()
        yield node_hit(ctx, node, details={"text": said, "function": name, "driver": driver})


def _driver(ctx: FileContext, node: tree_sitter.Node) -> str:
    chain = node_text(node)
    if "sqlx" in ctx.imports or "SqliteConnectOptions" in chain:
        return "sqlx" if "rusqlite" not in ctx.imports else "the driver"
    return "rusqlite"


def _turned_off(ctx: FileContext) -> Iterator[tuple[tree_sitter.Node, str]]:
    for call in syntax.of_type(ctx.root, "call_expression"):
        method = rust.method_name(call)
        args = rust.call_arguments(call)
        if method == "busy_timeout" and len(args) == 1:
            value = re.sub(r"\s+", "", node_text(args[0]))
            if _ZERO_DURATION.match(value):
                yield args[0], _driver(ctx, call)
        elif method == "busy_handler" and len(args) == 1 and node_text(args[0]) == "None":
            yield args[0], "rusqlite"
    for pragma in rust_pragmas(ctx):
        if pragma.name == "busy_timeout" and pragma.value in _ZERO_VALUES:
            yield pragma.node, _driver(ctx, pragma.node)


RULE = Rule(meta=META, doc=__doc__ or "", check_file=check_file)
