"""Slow work per row while a SQLite statement is still being stepped (JS/TS and Rust).

The Python rule is ``sqlite_slow_work_while_reading``; the JS/TS and Rust rules here share
its texts and differ in the shapes they read (``_JS_DOC`` and ``_RUST_DOC``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import tree_sitter

from vibe_audit.chunker.parsing import node_text
from vibe_audit.rules import js, rust, syntax
from vibe_audit.rules.base import Hit, Rule, RuleMeta
from vibe_audit.rules.builtin.sqlite_slow_work_while_reading import META as _PY_META
from vibe_audit.rules.context import FileContext

_JS_DOC = """Slow work per row inside a SQLite ``stmt.iterate()`` loop (JS/TS).

What it finds:
    In a file that imports better-sqlite3, node:sqlite or bun:sqlite: a ``for (... of
    stmt.iterate(...))`` loop (also ``db.prepare("SELECT ...").iterate()``) whose body
    awaits an HTTP request (``fetch``, ``axios``, ``got``), a timer (``setTimeout`` from
    ``timers/promises``, ``sleep``) or runs a child process synchronously (``execSync``,
    ``spawnSync``, ``execFileSync``). Loops over ``.all()`` are not matched: the rows are
    read before the slow work starts.

Why it matters:
    ``iterate()`` steps the statement one row at a time: until the loop ends, the statement
    is active and the connection keeps its read transaction (its snapshot) open. In WAL
    mode no checkpoint can get past that snapshot, so the -wal file grows for as long as the
    loop runs; in rollback-journal mode other connections' commits wait on its shared lock
    and fail with SQLITE_BUSY.

Example:
    for (const feed of db.prepare("SELECT id, url FROM feeds").iterate()) {
      const body = await (await fetch(feed.url)).text();   // seconds per row
      save(feed.id, body);
    }

Use instead:
    const feeds = db.prepare("SELECT id, url FROM feeds").all();   // read, then release
    for (const feed of feeds) {
      const body = await (await fetch(feed.url)).text();
      save(feed.id, body);
    }
"""

_RUST_DOC = """Slow work per row while a rusqlite query is still being stepped (Rust).

What it finds:
    In non-test Rust code that uses rusqlite: a ``for row in rows`` loop over the iterator
    of ``stmt.query_map(...)`` / ``query_and_then(...)`` / ``query(...)`` (bound in the same
    function, or written in the loop header), or ``while let Some(row) = rows.next()?``,
    whose body makes an HTTP request (``reqwest::``, ``ureq::``), sleeps
    (``thread::sleep``, ``tokio::time::sleep``) or runs a subprocess (``Command::new``).
    Rows collected first (``.collect::<Result<Vec<_>, _>>()``) are not matched.

Why it matters:
    A rusqlite ``Rows`` iterator steps the statement one row at a time: until it is
    dropped, the statement is active and the connection keeps its read transaction (its
    snapshot) open. In WAL mode no checkpoint can get past that snapshot, so the -wal file
    grows for as long as the loop runs; in rollback-journal mode other connections' commits
    wait on its shared lock and fail with "database is locked".

Example:
    let mut stmt = conn.prepare("SELECT id, url FROM feeds")?;
    for feed in stmt.query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))? {
        let (id, url) = feed?;
        let body = reqwest::blocking::get(&url)?.text()?;   // seconds per row
        save(id, &body)?;
    }

Use instead:
    let feeds: Vec<(i64, String)> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;                      // read, then release
    for (id, url) in feeds {
        let body = reqwest::blocking::get(&url)?.text()?;
        save(id, &body)?;
    }
"""


def _meta(rule_id: str, languages: list[str], fix: str) -> RuleMeta:
    return _PY_META.model_copy(update={"id": rule_id, "languages": languages, "fix": fix})


# ----------------------------------------------------------------------------- JS/TS

_JS_DRIVERS = frozenset({"better-sqlite3", "node:sqlite", "bun:sqlite"})
_JS_SLOW = re.compile(
    r"^(fetch|axios(\.\w+)?|got(\.\w+)?|ky(\.\w+)?|sleep|delay|setTimeout|"
    r"(\w+\.)?(execSync|spawnSync|execFileSync))$"
)
_JS_WHAT = {"execSync": "a subprocess", "spawnSync": "a subprocess", "execFileSync": "a subprocess"}


def _js_check(ctx: FileContext) -> Iterator[Hit]:
    if ".iterate(" not in ctx.source.text or syntax.is_test_path(ctx.source.path):
        return
    imported = {b.module for b in js.import_bindings(ctx.root)}
    required = set(re.findall(r"""require\(\s*["']([\w:-]+)["']\s*\)""", ctx.source.text))
    if not (imported | required) & _JS_DRIVERS:
        return
    for loop in syntax.of_type(ctx.root, "for_in_statement"):
        right = loop.child_by_field_name("right")
        if right is None or js.unwrap(right).type != "call_expression":
            continue
        call = js.unwrap(right)
        if not js.js_callee(call).endswith(".iterate"):
            continue
        slow = _js_slow(loop)
        if slow is None:
            continue
        name = js.js_callee(slow).rsplit(".", 1)[-1]
        function = js.enclosing_function(loop)
        symbol = js.js_symbol(loop)
        yield Hit(
            path=ctx.source.path,
            start_line=syntax.line(loop),
            end_line=syntax.line(loop),
            symbol=symbol,
            details={
                "cursor": node_text(call).split("\n", 1)[0],
                "function": f"{js.js_function_name(function)}()"
                if function is not None
                else "module-level code",
                "slow": js.js_callee(slow),
                "what": _JS_WHAT.get(name, "an HTTP request or a timer"),
            },
        )


def _js_slow(loop: tree_sitter.Node) -> tree_sitter.Node | None:
    body = loop.child_by_field_name("body")
    if body is None:
        return None
    stop = frozenset(js.JS_FUNCTION_TYPES)
    for call in syntax.of_type(body, "call_expression", stop_at=stop):
        name = js.js_callee(call)
        if not _JS_SLOW.match(name):
            continue
        synchronous = name.rsplit(".", 1)[-1] in _JS_WHAT
        awaited = call.parent is not None and call.parent.type == "await_expression"
        if synchronous or awaited:
            return call
    return None


# ----------------------------------------------------------------------------- Rust

_ROWS_METHODS = frozenset({"query_map", "query_and_then", "query"})
_RUST_SLOW = re.compile(
    r"(^|::)(reqwest::|ureq::)|(^|::)thread::sleep$|(^|::)time::sleep$|"
    r"(^|::)Command::new$|^(std::)?process::Command::new$"
)


def _rust_check(ctx: FileContext) -> Iterator[Hit]:
    text = ctx.source.text
    if "rusqlite" not in text or syntax.is_test_path(ctx.source.path):
        return
    uses = rust.use_paths(ctx.root)
    for function in rust.rust_functions(ctx.root):
        if rust.is_rust_test(function, ctx.source.path):
            continue
        rows = _rows_bindings(function)
        for loop in syntax.of_type(function, "for_expression", "while_expression"):
            if rust.enclosing_function(loop) != function:
                continue
            cursor = _rust_cursor(loop, rows)
            if cursor is None:
                continue
            slow = _rust_slow(loop, uses)
            if slow is None:
                continue
            path = rust.call_path(slow, uses)
            yield Hit(
                path=ctx.source.path,
                start_line=syntax.line(loop),
                end_line=syntax.line(loop),
                symbol=rust.rust_symbol(loop),
                details={
                    "cursor": cursor,
                    "function": f"{rust.rust_function_name(function)}()",
                    "slow": path,
                    "what": "a sleep"
                    if "sleep" in path
                    else "a subprocess"
                    if "Command" in path
                    else "an HTTP request",
                },
            )


def _rows_call(node: tree_sitter.Node) -> bool:
    """``stmt.query_map(...)`` / ``query_and_then`` / ``query``, ``?``-ed or not."""
    while node.type == "try_expression" and node.named_children:
        node = node.named_children[0]
    return node.type == "call_expression" and rust.method_name(node) in _ROWS_METHODS


def _rows_bindings(function: tree_sitter.Node) -> set[str]:
    """Names the function binds to a live rows iterator (``let rows = stmt.query_map(..)?``)."""
    names: set[str] = set()
    for let in syntax.of_type(function, "let_declaration"):
        pattern = let.child_by_field_name("pattern")
        value = let.child_by_field_name("value")
        if pattern is not None and value is not None and _rows_call(value):
            names.add(node_text(pattern).removeprefix("mut ").strip())
    return names


def _rust_cursor(loop: tree_sitter.Node, rows: set[str]) -> str | None:
    if loop.type == "for_expression":
        value = loop.child_by_field_name("value")
        if value is None:
            return None
        if _rows_call(value) or re.sub(r"^&\s*(mut\s+)?", "", node_text(value)) in rows:
            return node_text(value).split("\n", 1)[0]
        return None
    condition = loop.child_by_field_name("condition")
    text = node_text(condition) if condition is not None else ""
    match = re.match(r"^let\s+Some\(.*\)\s*=\s*(\w+)\.next\(\)\??$", text, re.S)
    return text if match is not None and match.group(1) in rows else None


def _rust_slow(loop: tree_sitter.Node, uses: dict[str, str]) -> tree_sitter.Node | None:
    body = loop.child_by_field_name("body")
    if body is None:
        return None
    for call in syntax.of_type(body, "call_expression", stop_at=frozenset({"closure_expression"})):
        if _RUST_SLOW.search(rust.call_path(call, uses)):
            return call
    return None


RULES = [
    Rule(
        meta=_meta(
            "js-sqlite-slow-work-while-reading",
            js.JS_LANGUAGES,
            "Read the rows first, then do the slow work: `const rows = stmt.all(...)`, or read "
            "in batches by key (`WHERE id > ? ORDER BY id LIMIT 500`) so each batch's "
            "statement finishes before its slow work.",
        ),
        doc=_JS_DOC,
        check_file=_js_check,
    ),
    Rule(
        meta=_meta(
            "rust-sqlite-slow-work-while-reading",
            ["rust"],
            "Collect the rows first (`.collect::<Result<Vec<_>, _>>()?`) and drop the "
            "statement's iterator before the slow work, or read in batches by key so each "
            "batch's query finishes first.",
        ),
        doc=_RUST_DOC,
        check_file=_rust_check,
    ),
]
