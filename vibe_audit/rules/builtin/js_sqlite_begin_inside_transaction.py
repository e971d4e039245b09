"""BEGIN run while a SQLite transaction is already open (JS/TS).

What it finds:
    A ``BEGIN`` issued as SQL text (``db.exec("BEGIN")``, ``db.run("BEGIN IMMEDIATE")``,
    ``db.prepare("BEGIN").run()``) in a repository that uses a SQLite driver, where a
    transaction is already open: inside a function passed to ``db.transaction(...)``
    (better-sqlite3, bun:sqlite), inside a function of the same file that such a callback
    calls or that is passed to it by name, or after an earlier ``BEGIN`` on the same
    connection in the same function with no ``COMMIT`` / ``ROLLBACK`` / ``END`` between.
    Nested ``db.transaction()`` calls (better-sqlite3 turns them into savepoints) and
    ``SAVEPOINT`` statements are not matched.

Why it matters:
    SQLite has no nested transactions: a BEGIN inside an open transaction fails with
    "cannot start a transaction within a transaction". The code path that does it always
    throws once it runs inside the outer transaction, so the outer unit of work rolls back
    (or, for a hand-written BEGIN ... COMMIT without a ROLLBACK, stays open and keeps the
    write lock).

Example:
    function saveOrder(order) {
      db.exec("BEGIN");
      insertOrder.run(order);
      db.exec("COMMIT");
    }
    const importAll = db.transaction((orders) => { for (const o of orders) saveOrder(o); });

Use instead:
    const saveOrder = db.transaction((order) => { insertOrder.run(order); });
    // called inside another db.transaction it becomes a SAVEPOINT automatically
    const importAll = db.transaction((orders) => { for (const o of orders) saveOrder(o); });
"""

from __future__ import annotations

from collections.abc import Iterator

import tree_sitter

from vibe_audit.chunker.parsing import node_text
from vibe_audit.rules import js, syntax
from vibe_audit.rules import js_sqlite_util as util
from vibe_audit.rules.base import Hit, Rule, RuleMeta, node_hit
from vibe_audit.rules.context import FileContext, RepoContext
from vibe_audit.schemas import Confidence, Severity

META = RuleMeta(
    id="js-sqlite-begin-inside-transaction",
    title="BEGIN inside an already open SQLite transaction",
    severity=Severity.HIGH,
    confidence=Confidence.MEDIUM,
    categories={"concurrency": "Transaction", "sqlite": "Write Contention"},
    checklist=["concurrency.4C"],
    problem=(
        "`{begin}` in {function} runs while a transaction is already open ({outer}): "
        'SQLite cannot nest transactions, so it throws "cannot start a transaction '
        'within a transaction".'
    ),
    scenario=(
        "{function} is reached inside the open transaction: the BEGIN throws, the outer "
        "unit of work fails and rolls back (or, without a ROLLBACK, stays open holding the "
        "write lock)."
    ),
    impact=(
        "A code path that fails every time it runs in that context; writes of the outer "
        "transaction lost, or the database locked for other writers."
    ),
    how_to_verify=(
        "Run the outer transaction with an input that reaches {function}: it throws "
        "SqliteError: cannot start a transaction within a transaction."
    ),
    fix=(
        "Let the inner unit join the outer one: wrap it in `db.transaction(fn)` (nested "
        "calls become savepoints), or use `SAVEPOINT name` / `RELEASE name` instead of "
        "BEGIN / COMMIT when a transaction may already be open (`db.inTransaction`)."
    ),
    trade_off="None: savepoints keep the inner unit's all-or-nothing inside the outer one.",
    effort_hours=(0.25, 1.0),
    languages=js.JS_LANGUAGES,
    # Its shape was not found in the precision corpus: off by default until it shows one.
    experimental=True,
)


def check_repo(repo: RepoContext) -> Iterator[Hit]:
    files = [
        ctx
        for ctx in repo.in_language(*js.JS_LANGUAGES)
        if not syntax.is_test_path(ctx.source.path)
    ]
    if not any(util.drivers_used(ctx) & util.SQLITE_DRIVERS for ctx in files):
        return
    for ctx in files:
        if "BEGIN" not in ctx.source.text.upper():
            continue
        yield from _check(ctx)


def _check(ctx: FileContext) -> Iterator[Hit]:
    inside = _run_in_transaction(ctx.root)
    for function in syntax.of_type(ctx.root, *js.JS_FUNCTION_TYPES):
        calls = js.own_nodes(function, "call_expression")
        verbs = [(call, js.transaction_verb(call)) for call in calls]
        begins = [call for call, verb in verbs if verb == "BEGIN" and not _guarded(call)]
        if not begins:
            continue
        outer = _outer(function, inside)
        if outer is not None:
            yield _hit(ctx, begins[0], function, outer)
            continue
        open_on: dict[str, tree_sitter.Node] = {}
        for call, verb in verbs:
            connection = js.js_callee(call).rsplit(".", 1)[0]
            if verb == "BEGIN" and call in begins:
                if connection in open_on and not _exclusive(open_on[connection], call):
                    first = open_on[connection]
                    yield _hit(ctx, call, function, f"the BEGIN at line {syntax.line(first)}")
                    break
                open_on[connection] = call
            elif verb in {"COMMIT", "ROLLBACK"}:
                open_on.pop(connection, None)


def _guarded(call: tree_sitter.Node) -> bool:
    """The BEGIN runs only when no transaction is open (``if (!db.inTransaction)``)."""
    current = call.parent
    while current is not None and current.type not in js.JS_FUNCTION_TYPES:
        if current.type in {"if_statement", "ternary_expression"}:
            condition = current.child_by_field_name("condition")
            if condition is not None and "transaction" in node_text(condition).lower():
                return True
        current = current.parent
    return False


def _run_in_transaction(root: tree_sitter.Node) -> dict[str, tree_sitter.Node]:
    """{function name: transaction call} of the file's functions passed by name to
    ``db.transaction(...)`` or called by bare name inside a transaction callback."""
    found: dict[str, tree_sitter.Node] = {}
    for call in syntax.of_type(root, "call_expression"):
        if not js.js_callee(call).endswith(".transaction"):
            continue
        for arg in js.js_arguments(call):
            arg = js.unwrap(arg)
            if arg.type == "identifier":
                found.setdefault(node_text(arg), call)
            elif arg.type in js.JS_FUNCTION_TYPES:
                for inner in syntax.of_type(arg, "call_expression"):
                    function = inner.child_by_field_name("function")
                    if function is not None and function.type == "identifier":
                        found.setdefault(node_text(function), call)
    return found


def _outer(function: tree_sitter.Node, inside: dict[str, tree_sitter.Node]) -> str | None:
    """What transaction is open when ``function`` runs, in the finding's words."""
    current: tree_sitter.Node | None = function
    while current is not None:
        parent = current.parent
        if (
            parent is not None
            and parent.type == "arguments"
            and parent.parent is not None
            and js.js_callee(parent.parent).endswith(".transaction")
        ):
            return f"the `{js.js_callee(parent.parent)}()` callback at line {syntax.line(parent)}"
        current = js.enclosing_function(current)
    name = js.js_function_name(function)
    if name in inside:
        call = inside[name]
        return f"it runs inside `{js.js_callee(call)}()` at line {syntax.line(call)}"
    return None


def _exclusive(a: tree_sitter.Node, b: tree_sitter.Node) -> bool:
    """``a`` and ``b`` are in different branches of an if / switch, or in different
    iterations' worth of code (a catch clause vs its try)."""
    common = a.parent
    while common is not None and not (common.start_byte <= b.start_byte < common.end_byte):
        common = common.parent
    return common is not None and common.type in {
        "if_statement",
        "switch_body",
        "try_statement",
        "ternary_expression",
    }


def _hit(ctx: FileContext, begin: tree_sitter.Node, function: tree_sitter.Node, outer: str) -> Hit:
    name = js.js_function_name(function)
    return node_hit(
        ctx,
        begin,
        named_by=function,
        details={
            "begin": node_text(begin),
            "function": f"{name}()" if name != "<anonymous>" else "this function",
            "outer": outer,
        },
    )


RULE = Rule(meta=META, doc=__doc__ or "", check_repo=check_repo)
