"""SQLite write run once per item of a loop outside a transaction (JS/TS).

What it finds:
    A ``for`` / ``for...of`` / ``while`` loop, or a ``.forEach()`` / ``.map()`` callback,
    whose body runs an INSERT / UPDATE / DELETE / REPLACE on a SQLite connection
    (better-sqlite3, bun:sqlite, node:sqlite, sqlite3, the ``sqlite`` wrapper):
    ``db.prepare("INSERT …").run(…)``, ``stmt.run(…)`` on a statement prepared from such
    SQL, ``db.run("UPDATE …")``, ``await db.run(…)``, with no transaction open around it:
    not inside a ``db.transaction(() => …)`` callback (or any ``*transaction*`` helper),
    not after a ``BEGIN`` in the same function, and not in a function the repository calls
    from a transaction (or passes to one). Not matched: loops over a literal array (also
    one bound to a module-level ``const``) or up to a single-digit bound (a fixed handful
    of statements), loops that ``break`` or ``return`` (retries, batched deletes),
    migration runners (``for (const m of migrations)``), loops at module level (one-shot
    scripts), repositories that open only in-memory databases, and files that talk to
    PostgreSQL or MySQL.

Why it matters:
    Outside an explicit transaction SQLite runs every statement as its own transaction: it
    takes the write lock, writes the journal and syncs it to disk, per item. A 10,000-row
    import does 10,000 commits instead of one (10-100x slower), holds the write lock for
    most of its run so other writers (another process, a worker) wait and fail with
    SQLITE_BUSY, and an error midway leaves the items before it committed and the rest
    missing.

Example:
    const insert = db.prepare("INSERT INTO items (sku, qty) VALUES (?, ?)");
    for (const item of items) {
      insert.run(item.sku, item.qty);
    }

Use instead:
    const insert = db.prepare("INSERT INTO items (sku, qty) VALUES (?, ?)");
    const insertAll = db.transaction((rows) => {
      for (const item of rows) insert.run(item.sku, item.qty);
    });
    insertAll(items);   // one transaction: one lock, one sync, all or nothing
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import tree_sitter

from vibe_audit.chunker.parsing import node_text
from vibe_audit.rules import js, syntax
from vibe_audit.rules import js_sqlite_util as util
from vibe_audit.rules.base import Hit, Rule, RuleMeta, node_hit
from vibe_audit.rules.context import FileContext, RepoContext
from vibe_audit.schemas import Confidence, Severity

META = RuleMeta(
    id="js-sqlite-write-per-row",
    title="SQLite write in a loop outside a transaction (one commit per item)",
    severity=Severity.MEDIUM,
    confidence=Confidence.HIGH,
    categories={"sqlite": "Write Contention", "concurrency": "Transaction"},
    checklist=[
        "sqlite.3D",
        "sqlite.4B",
        "sqlite.6D",
        "sqlite.6B",
        "concurrency.1A",
        "concurrency.4A",
        "concurrency.sqlite_checklist.6",
        "concurrency.sqlite_checklist.7",
    ],
    problem=(
        "{function} runs `{write}` once per item of `{loop}` with no transaction open: "
        "SQLite commits each write to {table} on its own, with its own write lock and sync."
    ),
    scenario=(
        "{function} runs over 1,000 items while another process or worker writes to the "
        "same database: the loop takes and releases the write lock 1,000 times and syncs "
        "1,000 times, the other writer keeps finding the database locked, and an error at "
        "item 600 leaves 599 rows committed and the rest missing."
    ),
    impact=(
        "Writes 10-100x slower than one transaction, SQLITE_BUSY errors for concurrent "
        "writers, and half-applied batches after a failure."
    ),
    how_to_verify=(
        "Time {function} with 1,000 items, then with the loop wrapped in "
        "`db.transaction(() => {{ ... }})()`; run a second writer meanwhile and count its "
        "'database is locked' errors."
    ),
    fix=(
        "Run the loop in one transaction: better-sqlite3 / bun:sqlite "
        "`db.transaction((rows) => {{ for (...) stmt.run(...) }})(items)`; node:sqlite, "
        "sqlite3 and the `sqlite` wrapper: `BEGIN` before the loop, `COMMIT` after it and "
        "`ROLLBACK` in a catch."
    ),
    trade_off=(
        "One transaction holds the write lock for its whole run; for very large imports "
        "commit in batches of 1,000-10,000 rows, and make the import re-runnable (INSERT OR "
        "IGNORE / ON CONFLICT) if rows committed before a failure mattered."
    ),
    effort_hours=(0.25, 1.0),
    # 6 findings on 17 packages outside the corpus, 0 TP (loops inside a callback-style
    # BEGIN, small loops)
    experimental=True,
    languages=js.JS_LANGUAGES,
)

_LOOPS = frozenset(
    {"for_statement", "for_in_statement", "while_statement", "do_statement"}
)  # fmt: skip
_ITERATING = frozenset({"forEach", "map"})
_LITERALS = frozenset({"array", "string", "template_string"})
_SMALL_BOUND = re.compile(r"<=?\s*\d\s*;?$")


def check_repo(repo: RepoContext) -> Iterator[Hit]:
    files = [
        ctx
        for ctx in repo.in_language(*js.JS_LANGUAGES)
        if not syntax.is_test_path(ctx.source.path)
    ]
    if not any(util.drivers_used(ctx) & util.SQLITE_DRIVERS for ctx in files):
        return
    opens = [
        js.opened_database(call, module)
        for ctx in files
        if "sqlite" in ctx.source.text
        for call, module in js.sqlite_opens(ctx.root)
    ]
    if opens and all(kind == "memory" for kind in opens):
        return  # in-memory databases only: no journal to sync per commit
    names: util.TransactionNames | None = None
    wrappers = util.sql_wrappers(files)
    for ctx in files:
        used = util.drivers_used(ctx)
        if used - util.SQLITE_DRIVERS:
            continue  # PostgreSQL / MySQL code: not this rule's SQLite
        text = ctx.source.text
        if not any(word in text for word in ("INSERT", "UPDATE", "DELETE", "REPLACE")):
            continue
        if names is None:
            names = util.transaction_names(files)
        yield from _check(ctx, names, wrappers)


def _check(
    ctx: FileContext, names: util.TransactionNames, wrappers: frozenset[str]
) -> Iterator[Hit]:
    constants = util.string_constants(ctx.root)
    prepared = util.prepared_statements(ctx.root, constants)
    reported: set[int] = set()
    for function in syntax.of_type(ctx.root, *js.JS_FUNCTION_TYPES):
        runs = list(util.sql_runs(function, constants, prepared, wrappers=wrappers))
        if not any(run.writes for run in runs):
            continue
        for run in runs:
            if not run.writes or run.call.start_byte in reported:
                continue
            loop = _loop_around(run.call, function)
            if loop is None or util.in_transaction(run, runs, names):
                continue
            reported.add(run.call.start_byte)
            yield node_hit(
                ctx,
                run.call,
                details={
                    "function": _describe(function),
                    "write": _first_words(run.sql),
                    "loop": _loop_header(loop),
                    "table": run.table or "the table",
                },
            )
            break


def _loop_around(call: tree_sitter.Node, function: tree_sitter.Node) -> tree_sitter.Node | None:
    """The loop (statement, or the ``.forEach`` call whose callback is ``function``) that
    runs ``call`` once per item, unless it is a literal list or a retry / batch loop."""
    current = call.parent
    while current is not None and current != function:
        if current.type in _LOOPS:
            return None if _not_per_item(current) else current
        current = current.parent
    parent = function.parent
    if parent is not None and parent.type == "arguments" and parent.parent is not None:
        outer = parent.parent
        callee = js.js_callee(outer)
        if (
            callee.rsplit(".", 1)[-1] in _ITERATING
            and "." in callee
            and "migrat" not in callee.lower()
        ):
            receiver = outer.child_by_field_name("function")
            target = receiver.child_by_field_name("object") if receiver is not None else None
            if target is not None and not _fixed_list(js.unwrap(target)):
                return outer
    return None


def _not_per_item(loop: tree_sitter.Node) -> bool:
    header = node_text(loop).split("{", 1)[0]
    if "migrat" in header.lower():
        return True  # a migration runner: a handful of schema steps, not rows
    if loop.type == "for_statement":
        condition = loop.child_by_field_name("condition")
        if condition is not None and _SMALL_BOUND.search(node_text(condition)):
            return True  # for (let i = 0; i < 3; i++): a fixed handful
    if loop.type == "for_in_statement":
        right = loop.child_by_field_name("right")
        if right is not None and _fixed_list(js.unwrap(right)):
            return True
    body = loop.child_by_field_name("body")
    if body is None:
        return True
    stop = frozenset({*js.JS_FUNCTION_TYPES, *_LOOPS})
    return any(
        node.type in {"break_statement", "return_statement"}
        for node in syntax.walk(body, stop_at=stop)
    )


def _fixed_list(node: tree_sitter.Node) -> bool:
    """A literal list, or a name bound to one by a module-level ``const`` (``TRACKED``):
    a fixed handful of items written in the code."""
    if node.type in _LITERALS:
        return True
    if node.type != "identifier":
        return False
    root = node
    while root.parent is not None:
        root = root.parent
    for statement in root.named_children:
        inner = statement.named_children[0] if statement.type == "export_statement" else statement
        if (
            inner is None
            or inner.type != "lexical_declaration"
            or not node_text(inner).startswith("const")
        ):
            continue
        for declarator in inner.named_children:
            name = declarator.child_by_field_name("name")
            value = declarator.child_by_field_name("value")
            if name is not None and value is not None and node_text(name) == node_text(node):
                return js.unwrap(value).type == "array"
    return False


def _loop_header(loop: tree_sitter.Node) -> str:
    if loop.type == "call_expression":
        return f"{js.js_callee(loop)}(...)"
    body = loop.child_by_field_name("body")
    end = body.start_byte - loop.start_byte if body is not None else None
    text = " ".join((loop.text or b"")[:end].decode("utf-8", "replace").split())
    return text if len(text) <= 70 else text[:67] + "..."


def _describe(function: tree_sitter.Node) -> str:
    name = js.js_function_name(function)
    if name != "<anonymous>":
        return f"{name}()"
    call = syntax.enclosing(function, "call_expression")
    return f"the {js.js_callee(call)}() callback" if call is not None else "This code"


def _first_words(sql: str) -> str:
    words = " ".join(sql.split())
    return words if len(words) <= 60 else words[:57] + "..."


RULE = Rule(meta=META, doc=__doc__ or "", check_repo=check_repo)
