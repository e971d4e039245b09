"""SQL statements a JS/TS function runs, and whether a transaction is open around them.

Owned by the JS/TS SQL rules (js-sqlite-write-per-row, js-sql-writes-outside-transaction,
js-sql-value-interpolated, js-select-then-insert-without-unique, js-sql-lost-update,
js-status-column-without-check). Reads the driver shapes of better-sqlite3, bun:sqlite,
node:sqlite, sqlite3, the ``sqlite`` wrapper, pg and mysql2:

- ``db.exec("…")`` / ``db.run("…")`` / ``await db.query("…")`` (SQL passed to the call);
- ``db.prepare("…").run(…)`` (chained);
- ``stmt.run(…)`` where ``stmt`` / ``this.stmt`` was assigned ``db.prepare("…")`` in the file;
- ``execute("…", params)``: a helper of the repository that passes its SQL to one of those;
- Prisma model writes and Drizzle ``insert`` / ``update`` / ``delete`` chains (``orm_writes``).

Whether a transaction is open around a statement: ``in_transaction``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

import tree_sitter

from vibe_audit.chunker.parsing import node_text
from vibe_audit.rules import js, sqltext, syntax
from vibe_audit.rules.context import FileContext

# Driver modules whose calls run SQL text.
SQLITE_DRIVERS = frozenset({"better-sqlite3", "node:sqlite", "bun:sqlite", "sqlite3", "sqlite"})
SQL_DRIVERS = SQLITE_DRIVERS | {"pg", "postgres", "mysql", "mysql2", "mysql2/promise", "mssql"}
_REQUIRE = re.compile(r"""require\(\s*["']([^"']+)["']\s*\)""")

# Methods that run SQL passed as their first argument.
DIRECT_RUNS = frozenset({"exec", "run", "all", "get", "query", "execute", "each", "iterate"})
# Methods of a prepared statement that run it.
STATEMENT_RUNS = frozenset({"run", "all", "get", "iterate", "values", "execute"})
_PREPARE = frozenset({"prepare", "query"})  # bun:sqlite's db.query() also prepares

_TX_CALLEE = re.compile(r"(^|\.|\$)(transaction|withTransaction|inTransaction|tx|atomic)$", re.I)
_TX_NAME = re.compile(r"transaction|InTx\b|Tx$|^tx|atomic|^withLock|locked", re.I)
_BEGIN_SQL = re.compile(r"^\s*(BEGIN|START\s+TRANSACTION|SAVEPOINT)\b", re.I)


def drivers_used(ctx: FileContext) -> set[str]:
    """The SQL driver modules the file imports or requires."""
    return (ctx.imports | set(_REQUIRE.findall(ctx.source.text))) & SQL_DRIVERS


@dataclass(frozen=True)
class SqlRun:
    """One call that runs a SQL statement."""

    call: tree_sitter.Node  # the call that executes (``.run(...)``, ``db.exec(...)``)
    text_node: tree_sitter.Node | None  # the string / template holding the SQL, when seen
    sql: str  # the SQL text (a template's ``${}`` parts kept as written)
    connection: str  # the object the SQL is prepared or run on, as written ('this.db')

    @property
    def verb(self) -> str:
        return sqltext.sql_verb(self.sql)

    @property
    def table(self) -> str:
        parsed = sqltext.statement(self.sql)
        return parsed[1] if parsed is not None else ""

    @property
    def writes(self) -> bool:
        return sqltext.is_write(self.sql)

    @property
    def awaited(self) -> bool:
        parent = self.call.parent
        while parent is not None and parent.type in {"parenthesized_expression"}:
            parent = parent.parent
        return parent is not None and parent.type == "await_expression"


def _callee_parts(call: tree_sitter.Node) -> tuple[tree_sitter.Node | None, str]:
    """(receiver, method) of ``receiver.method(...)``."""
    function = call.child_by_field_name("function")
    if function is None or function.type != "member_expression":
        return None, ""
    prop = function.child_by_field_name("property")
    return function.child_by_field_name("object"), node_text(prop) if prop is not None else ""


def sql_text(
    node: tree_sitter.Node, constants: dict[str, str]
) -> tuple[tree_sitter.Node | None, str] | None:
    """(literal, text) of a SQL argument: a string, a template (``${}`` kept), or a name
    bound to one of the file's string constants."""
    node = js.unwrap(node)
    if node.type in {"string", "template_string"}:
        value = js.js_string(node)
        return node, value if value is not None else node_text(node)[1:-1]
    if node.type in {"identifier", "member_expression"} and node_text(node) in constants:
        return None, constants[node_text(node)]
    return None


def string_constants(root: tree_sitter.Node) -> dict[str, str]:
    """{name: text} of the file's ``const NAME = "…"`` declarations (templates included)."""
    found: dict[str, str] = {}
    for name, value in js.declared_values(root).items():
        value = js.unwrap(value)
        if value.type in {"string", "template_string"}:
            text = js.js_string(value)
            found[name] = text if text is not None else node_text(value)[1:-1]
    return found


def prepared_statements(
    root: tree_sitter.Node, constants: dict[str, str]
) -> dict[str, tuple[tree_sitter.Node | None, str, str]]:
    """{name as written: (literal, SQL, connection)} of the statements the file prepares and
    binds to a variable or property: ``const insert = db.prepare("…")``,
    ``this.insert = this.db.prepare("…")``, ``{ insert: db.prepare("…") }``."""
    found: dict[str, tuple[tree_sitter.Node | None, str, str]] = {}
    for node in syntax.of_type(root, "variable_declarator", "assignment_expression", "pair",
                               "public_field_definition", "field_definition"):  # fmt: skip
        if node.type == "variable_declarator":
            target, value = node.child_by_field_name("name"), node.child_by_field_name("value")
        elif node.type == "assignment_expression":
            target, value = node.child_by_field_name("left"), node.child_by_field_name("right")
        elif node.type == "pair":
            target, value = node.child_by_field_name("key"), node.child_by_field_name("value")
        else:
            target = node.child_by_field_name("name") or node.child_by_field_name("property")
            value = node.child_by_field_name("value")
        if target is None or value is None:
            continue
        value = js.unwrap(value)
        if value.type != "call_expression":
            continue
        receiver, method = _callee_parts(value)
        args = js.js_arguments(value)
        if method not in _PREPARE or receiver is None or not args:
            continue
        text = sql_text(args[0], constants)
        if text is None:
            continue
        name = node_text(target)
        if node.type in {"pair", "public_field_definition", "field_definition"}:
            name = name.strip("'\"")
        found[name] = (text[0], text[1], node_text(receiver))
    return found


def sql_runs(
    scope: tree_sitter.Node,
    constants: dict[str, str],
    prepared: dict[str, tuple[tree_sitter.Node | None, str, str]],
    *,
    own: bool = True,
    wrappers: frozenset[str] = frozenset(),
) -> Iterator[SqlRun]:
    """Every call under ``scope`` that runs a SQL statement whose text is seen, also through
    one of the repository's ``wrappers`` (see ``sql_wrappers``). With ``own`` (and ``scope``
    a function), calls in nested functions are left out."""
    if own and scope.type in js.JS_FUNCTION_TYPES:
        calls = js.own_nodes(scope, "call_expression")
    else:
        calls = list(syntax.of_type(scope, "call_expression"))
    for call in calls:
        receiver, method = _callee_parts(call)
        callee = js.js_callee(call)
        if wrappers and callee.rsplit(".", 1)[-1] in wrappers:
            args = js.js_arguments(call)
            text = sql_text(args[0], constants) if args else None
            if text is not None and sqltext.sql_verb(text[1]) in _SQL_STARTS:
                yield SqlRun(call, text[0], text[1], callee)
                continue
        if receiver is None:
            continue
        inner = js.unwrap(receiver)
        if method in STATEMENT_RUNS and inner.type == "call_expression":
            inner_receiver, inner_method = _callee_parts(inner)
            args = js.js_arguments(inner)
            if inner_method in _PREPARE and inner_receiver is not None and args:
                text = sql_text(args[0], constants)
                if text is not None and sqltext.sql_verb(text[1]) in _SQL_STARTS:
                    yield SqlRun(call, text[0], text[1], node_text(inner_receiver))
                continue
        if method in STATEMENT_RUNS:
            name = node_text(inner)
            key = name.rsplit(".", 1)[-1] if name not in prepared else name
            entry = prepared.get(name) or (prepared.get(key) if "." in name else None)
            if entry is not None:
                yield SqlRun(call, entry[0], entry[1], entry[2])
                continue
        if method in DIRECT_RUNS:
            args = js.js_arguments(call)
            text = sql_text(args[0], constants) if args else None
            if text is not None and sqltext.sql_verb(text[1]) in _SQL_STARTS:
                yield SqlRun(call, text[0], text[1], node_text(receiver))


_SQL_STARTS = frozenset(
    {"SELECT", "INSERT", "UPDATE", "DELETE", "REPLACE", "WITH", "BEGIN", "COMMIT", "END",
     "ROLLBACK", "SAVEPOINT", "RELEASE", "CREATE", "DROP", "ALTER", "PRAGMA", "UPSERT", "START"}
)  # fmt: skip


# ORM writes: Prisma ``prisma.<model>.<op>(...)`` and Drizzle ``db.insert(table)...``.
ORM_MODULES = frozenset({"@prisma/client", "drizzle-orm"})
_PRISMA_WRITES = {
    "create": "INSERT", "createMany": "INSERT", "update": "UPDATE", "updateMany": "UPDATE",
    "upsert": "INSERT", "delete": "DELETE", "deleteMany": "DELETE",
}  # fmt: skip
_DRIZZLE_WRITES = {"insert": "INSERT", "update": "UPDATE", "delete": "DELETE"}
_PRISMA_CLIENT = re.compile(r"prisma|^db$|^tx$|^client$|^this\.(prisma|db)$", re.I)


def orm_writes(function: tree_sitter.Node, prisma: bool, drizzle: bool) -> Iterator[SqlRun]:
    """Writes through an ORM in ``function``'s own body, as SqlRun with made-up SQL naming
    the model or table (``INSERT INTO order``): Prisma model calls on a client named like
    ``prisma`` / ``db`` / ``tx``, and Drizzle ``db.insert(t)`` / ``update(t)`` /
    ``delete(t)`` chains (the whole chain is the call)."""
    for call in js.own_nodes(function, "call_expression"):
        receiver, method = _callee_parts(call)
        if receiver is None:
            continue
        if prisma and method in _PRISMA_WRITES and receiver.type == "member_expression":
            client = receiver.child_by_field_name("object")
            model = receiver.child_by_field_name("property")
            if (
                client is not None
                and model is not None
                and _PRISMA_CLIENT.search(node_text(client))
            ):
                table = node_text(model).lower()
                verb = _PRISMA_WRITES[method]
                yield SqlRun(call, None, f"{verb} {_ORM_SQL[verb]}{table} (orm)", node_text(client))
        elif drizzle and method in _DRIZZLE_WRITES:
            args = js.js_arguments(call)
            if len(args) != 1 or js.unwrap(args[0]).type not in {"identifier", "member_expression"}:
                continue
            outer = call
            while (
                outer.parent is not None
                and outer.parent.type == "member_expression"
                and outer.parent.parent is not None
                and outer.parent.parent.type == "call_expression"
            ):
                outer = outer.parent.parent
            if outer == call:
                continue  # not a query chain (.values / .set / .where)
            table = node_text(js.unwrap(args[0])).rsplit(".", 1)[-1].lower()
            verb = _DRIZZLE_WRITES[method]
            yield SqlRun(outer, None, f"{verb} {_ORM_SQL[verb]}{table} (orm)", node_text(receiver))


_ORM_SQL = {"INSERT": "INTO ", "UPDATE": "", "DELETE": "FROM "}


def sql_wrappers(files: list[FileContext]) -> frozenset[str]:
    """Names of the repository's own helpers that run the SQL text they are given:
    ``function execute(sql, params) { return db.run(sql, params); }``."""
    found: set[str] = set()
    for ctx in files:
        for function in syntax.of_type(ctx.root, *js.JS_FUNCTION_TYPES):
            parameters = function.child_by_field_name("parameters")
            first = (
                parameters.named_children[0]
                if parameters is not None and parameters.named_children
                else None
            )
            if first is None:
                continue
            pattern = first.child_by_field_name("pattern") or first
            name = node_text(pattern)
            if not re.fullmatch(r"(sql|query|statement|stmt|text)\w*", name, re.I):
                continue
            for call in js.own_nodes(function, "call_expression"):
                receiver, method = _callee_parts(call)
                args = js.js_arguments(call)
                if (
                    receiver is not None
                    and method in DIRECT_RUNS | _PREPARE
                    and args
                    and node_text(js.unwrap(args[0])) == name
                ):
                    own = js.js_function_name(function)
                    if own != "<anonymous>":
                        found.add(own)
                    break
    return frozenset(found)


def transaction_callback(function: tree_sitter.Node) -> bool:
    """``function`` is passed to a transaction helper: ``db.transaction(() => …)``,
    ``prisma.$transaction(async (tx) => …)``, ``withTransaction(async (client) => …)``."""
    parent = function.parent
    if parent is None or parent.type != "arguments" or parent.parent is None:
        return False
    return bool(_TX_CALLEE.search(js.js_callee(parent.parent)))


def begins(run: SqlRun) -> bool:
    return bool(_BEGIN_SQL.match(run.sql))


@dataclass
class TransactionNames:
    """Function names the repository runs inside a transaction: passed to a transaction
    helper (``db.transaction(insertAll)``) or called from a transaction callback."""

    names: set[str]

    def covers(self, function: tree_sitter.Node) -> bool:
        name = js.js_function_name(function)
        return name in self.names or bool(_TX_NAME.search(name))


def transaction_names(files: list[FileContext]) -> TransactionNames:
    names: set[str] = set()
    for ctx in files:
        if "ransaction" not in ctx.source.text and "BEGIN" not in ctx.source.text:
            continue
        for call in syntax.of_type(ctx.root, "call_expression"):
            if not _TX_CALLEE.search(js.js_callee(call)):
                continue
            for arg in js.js_arguments(call):
                arg = js.unwrap(arg)
                if arg.type == "call_expression" and js.js_callee(arg).endswith(".bind"):
                    names.add(js.js_callee(arg).rsplit(".", 2)[-2])  # this.insertRows.bind(this)
                elif arg.type in {"identifier", "member_expression"}:
                    names.add(node_text(arg).rsplit(".", 1)[-1])
                elif arg.type in js.JS_FUNCTION_TYPES:
                    for inner in syntax.of_type(arg, "call_expression"):
                        names.add(js.js_callee(inner).rsplit(".", 1)[-1])
        # Functions called between an explicit BEGIN and COMMIT.
        for tx in js.explicit_transactions(ctx.root):
            for inner in syntax.of_type(tx.function, "call_expression"):
                if tx.begin.end_byte <= inner.start_byte < tx.commit.start_byte:
                    names.add(js.js_callee(inner).rsplit(".", 1)[-1])
    return TransactionNames(names)


def in_transaction(run: SqlRun, runs: list[SqlRun], names: TransactionNames) -> bool:
    """A transaction is (or may be) open around ``run``: a transaction callback or a
    function the repository runs in one encloses it, or a BEGIN runs before it in its
    function (``runs``: the SQL of that function, in order). Also a write passed to a
    transaction call itself: ``prisma.$transaction([prisma.a.create(...), ...])``."""
    current = run.call.parent
    while current is not None and current.type not in js.JS_FUNCTION_TYPES:
        if current.type == "call_expression" and _TX_CALLEE.search(js.js_callee(current)):
            return True
        current = current.parent
    function = js.enclosing_function(run.call)
    while function is not None:
        if transaction_callback(function) or names.covers(function):
            return True
        function = js.enclosing_function(function)
    return any(begins(other) and other.call.start_byte < run.call.start_byte for other in runs)
