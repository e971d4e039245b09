"""Rust SQLite connection with PRAGMA synchronous=OFF: corruption on power loss.

What it finds:
    In non-test Rust code: ``conn.pragma_update(None, "synchronous", "OFF")`` (or ``0``)
    with rusqlite, a SQL string ``PRAGMA synchronous = OFF`` / ``= 0`` (``execute_batch``,
    ``sqlx::query``), and sqlx's ``SqliteSynchronous::Off``.

Why it matters:
    With synchronous=OFF SQLite never fsyncs: committed transactions sit in the OS page
    cache. If the operating system crashes or the machine loses power before they reach
    the disk, SQLite's own documentation warns the database file may be corrupted, not
    just missing the last transactions; in rollback-journal mode the journal that would
    repair it was not synced either.

Example:
    let conn = Connection::open(path)?;
    conn.pragma_update(None, "synchronous", "OFF")?;

Use instead:
    let conn = Connection::open(path)?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;  // consistent on power loss in WAL
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import replace

import tree_sitter

from vibe_audit.chunker.parsing import node_text
from vibe_audit.rules import patching, rust, syntax
from vibe_audit.rules.base import Hit, Rule, RuleMeta, node_hit
from vibe_audit.rules.context import FileContext
from vibe_audit.schemas import Confidence, Patch, PatchSafety, Severity

META = RuleMeta(
    id="rust-sqlite-synchronous-off",
    title="SQLite PRAGMA synchronous=OFF (corruption on power loss)",
    severity=Severity.HIGH,
    confidence=Confidence.HIGH,
    categories={"sqlite": "WAL Config", "checkpoint": "Corruption", "concurrency": "SQLite"},
    checklist=[
        "sqlite.1D",
        "sqlite.pragma.3",
        "sqlite.7C",
        "checkpoint.2B",
        "concurrency.sqlite_checklist.4",
    ],
    problem=(
        "`{text}` in {function}() turns off every fsync SQLite does: committed transactions "
        "sit in the OS page cache, and the database file's consistency depends on the OS "
        "never crashing."
    ),
    scenario=(
        "The host loses power or the kernel panics while pages of a committed transaction "
        "are still unwritten: on restart SQLite reports 'database disk image is malformed' "
        "or returns rows from a half-applied transaction."
    ),
    impact=(
        "The whole database (every table, not just the last write) can be lost; recovery "
        "means restoring a backup or rebuilding it."
    ),
    how_to_verify=(
        "Run `PRAGMA synchronous;` through a connection {function}() configured: 0 means "
        "OFF. Cut power to a VM during a write loop and run `PRAGMA integrity_check`."
    ),
    fix=(
        "Use WAL with synchronous=NORMAL, which keeps the database consistent on power loss "
        "and costs little:\n"
        '    conn.pragma_update(None, "journal_mode", "WAL")?;\n'
        '    conn.pragma_update(None, "synchronous", "NORMAL")?;\n'
        "(sqlx: .journal_mode(SqliteJournalMode::Wal).synchronous(SqliteSynchronous::Normal))"
    ),
    trade_off=(
        "NORMAL in WAL mode can lose the last transactions on power loss (never corrupts); "
        "FULL loses none but fsyncs every commit. Both are slower than OFF for tiny commits."
    ),
    effort_hours=(0.25, 0.5),
    languages=["rust"],
)

_PRAGMA_OFF = re.compile(r"PRAGMA\s+(\w+\.)?synchronous\s*=\s*['\"]?(OFF|0)\b", re.I)
_OFF_VALUES = frozenset({'"OFF"', '"off"', '"Off"', '"0"', "0", '&"OFF"', '&"off"'})
_CACHE = re.compile(r"cache", re.I)


def check_file(ctx: FileContext) -> Iterator[Hit]:
    text = ctx.source.text
    if "ynchronous" not in text or syntax.is_test_path(ctx.source.path):
        return
    for node in syntax.of_type(ctx.root, "call_expression", "string_literal", "raw_string_literal",
                               "scoped_identifier"):  # fmt: skip
        if not _turns_off(node) or rust.is_rust_test(node, ctx.source.path):
            continue
        function = rust.enclosing_function(node)
        name = rust.rust_function_name(function) if function is not None else "<module>"
        said = ctx.lines[syntax.line(node) - 1].strip()
        hit = node_hit(ctx, node, details={"text": said, "function": name})
        where = f"{ctx.source.path} {rust.rust_symbol(node) or ''}"
        if _CACHE.search(where):
            hit = replace(
                hit,
                severity=Severity.MEDIUM,
                severity_reason="MEDIUM: the database is a cache, by its code's names: a "
                "corrupt file costs a rebuild, not lost records.",
            )
        yield hit


def _turns_off(node: tree_sitter.Node) -> bool:
    if node.type == "scoped_identifier":
        return node_text(node).replace(" ", "").endswith("SqliteSynchronous::Off")
    if node.type != "call_expression":
        text = rust.rust_string(node)
        return text is not None and bool(_PRAGMA_OFF.search(text)) and not _in_message(node)
    if rust.method_name(node) not in {"pragma_update", "pragma_update_and_check"}:
        return False
    args = rust.call_arguments(node)
    return (
        len(args) >= 3
        and rust.rust_string(args[1]) in {"synchronous"}
        and node_text(args[2]).replace(" ", "") in _OFF_VALUES
    )


def _in_message(node: tree_sitter.Node) -> bool:
    """The string is an argument of a macro other than sqlx's query macros (a log line,
    a panic message, format!): it talks about the setting, it does not run it."""
    current = node.parent
    while current is not None and current.type != "function_item":
        if current.type == "macro_invocation":
            macro = current.child_by_field_name("macro")
            name = node_text(macro).rsplit("::", 1)[-1] if macro is not None else ""
            return name not in rust.QUERY_FUNCTIONS
        current = current.parent
    return False


# journal_mode=WAL set on the same connection: `pragma_update(None, "journal_mode", "WAL")`,
# `PRAGMA journal_mode = WAL`, `.journal_mode(SqliteJournalMode::Wal)`.
_FOUND = ("call_expression", "string_literal", "raw_string_literal", "scoped_identifier")
_WAL = re.compile(r"journal_mode\W+(\w+::)*wal\b", re.I)


def fix(ctx: FileContext, hit: Hit) -> Patch | None:
    """Safe: synchronous=OFF becomes NORMAL where the same function puts the connection in
    WAL (consistent on power loss there), else FULL (NORMAL in a rollback journal can
    still corrupt on power loss)."""
    node = next(
        (
            n
            for n in syntax.of_type(ctx.root, *_FOUND)
            if syntax.line(n) == hit.start_line
            and syntax.end_line(n) == hit.end_line
            and _turns_off(n)
        ),
        None,
    )
    if node is None:
        return None
    scope = rust.enclosing_function(node) or ctx.root
    wal = bool(_WAL.search(node_text(scope)))
    level = "NORMAL" if wal else "FULL"
    if node.type == "scoped_identifier":  # sqlx: SqliteSynchronous::Off
        name = node.child_by_field_name("name")
        if name is None:
            return None
        edit = patching.replace_node(ctx, name, level.capitalize())
    elif node.type == "call_expression":  # pragma_update(None, "synchronous", "OFF")
        value = rust.call_arguments(node)[2]
        if value.type == "reference_expression":
            value = value.child_by_field_name("value") or value
        if value.type not in {"string_literal", "integer_literal"}:
            return None
        edit = patching.replace_node(ctx, value, f'"{level}"')
    else:  # a SQL string: PRAGMA synchronous = OFF
        text = node_text(node)
        new = _PRAGMA_OFF.sub(lambda m: m.group(0)[: m.start(2) - m.start(0)] + level, text)
        if new == text:
            return None
        edit = patching.replace_node(ctx, node, new)
    why = (
        "NORMAL: this function puts the database in WAL, where NORMAL stays consistent on "
        "power loss"
        if wal
        else "FULL: no WAL is set here, and NORMAL in a rollback journal can still corrupt "
        "the database on power loss"
    )
    return Patch(
        safety=PatchSafety.SAFE,
        description=f"set synchronous to {level} instead of OFF in "
        f"{hit.details.get('function', 'this function')}() ({why})",
        edits=[edit],
    )


RULE = Rule(meta=META, doc=__doc__ or "", check_file=check_file, fix=fix)
