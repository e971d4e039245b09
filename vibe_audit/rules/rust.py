"""Helpers over tree-sitter Rust trees, shared by the rules and the index: functions and
their symbols, test code, string literals and constants, sqlx queries and their executors,
and job claims done with no row lock. The SQL text itself is read by ``rules/sqltext.py``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

import tree_sitter

from vibe_audit.chunker.parsing import node_text
from vibe_audit.rules import syntax
from vibe_audit.rules.sqltext import (
    FROM_TABLE,
    ROW_LOCK,
    SELECTS_BY_STATUS,
    SQL_VERBS,
    guards_status,
    parse_update,
    sets_status,
    sql_verb,
)

RUST_FUNCTION_TYPES = frozenset({"function_item", "closure_expression"})
_TEST_ATTRIBUTE = re.compile(r"^#\[\s*(\w+::)*test\b|^#\[\s*cfg\s*\(\s*test\s*\)")
QUERY_FUNCTIONS = frozenset(
    {"query", "query_as", "query_scalar", "query_with", "query_as_with", "query_scalar_with",
     "query_unchecked", "query_as_unchecked", "query_scalar_unchecked", "query_file",
     "query_file_as"}
)  # fmt: skip
EXECUTE_METHODS = frozenset(
    {"execute", "fetch_one", "fetch_all", "fetch_optional", "fetch", "fetch_many"}
)  # fmt: skip


def rust_functions(root: tree_sitter.Node) -> Iterator[tree_sitter.Node]:
    return syntax.of_type(root, "function_item")


def rust_function_name(function: tree_sitter.Node) -> str:
    name = function.child_by_field_name("name")
    return node_text(name) if name is not None else "<closure>"


def rust_body_nodes(function: tree_sitter.Node) -> Iterator[tree_sitter.Node]:
    """Nodes of a function's body, including closures and async blocks in it but not nested
    ``fn`` items."""
    body = function.child_by_field_name("body")
    if body is None:
        return iter(())
    return syntax.walk(body, stop_at=frozenset({"function_item"}))


def rust_symbol(node: tree_sitter.Node) -> str | None:
    """'Type.method' / 'module.function' name of the items around ``node``."""
    parts: list[str] = []
    current = node.parent
    while current is not None:
        if current.type in {"function_item", "mod_item", "trait_item"}:
            name = current.child_by_field_name("name")
            if name is not None:
                parts.append(node_text(name))
        elif current.type == "impl_item":
            kind = current.child_by_field_name("type")
            if kind is not None:
                parts.append(node_text(kind).split("<")[0])
        current = current.parent
    return ".".join(reversed(parts)) or None


def _attributes(item: tree_sitter.Node) -> Iterator[str]:
    """The ``#[...]`` attributes written just before an item."""
    sibling = item.prev_named_sibling
    while sibling is not None and sibling.type in {
        "attribute_item",
        "line_comment",
        "block_comment",
    }:
        if sibling.type == "attribute_item":
            yield node_text(sibling)
        sibling = sibling.prev_named_sibling


def is_rust_test(node: tree_sitter.Node, path: str) -> bool:
    """Test code: a test/bench/example file, a ``#[test]`` / ``#[tokio::test]`` /
    ``#[sqlx::test]`` function or anything in a ``#[cfg(test)]`` item."""
    if syntax.is_test_path(path) or path.endswith("build.rs"):
        return True
    current: tree_sitter.Node | None = node
    while current is not None:
        if current.type in {"function_item", "mod_item", "impl_item"} and any(
            _TEST_ATTRIBUTE.match(attribute) for attribute in _attributes(current)
        ):
            return True
        current = current.parent
    return False


def rust_string(node: tree_sitter.Node) -> str | None:
    """The content of a (raw) string literal, else None."""
    if node.type not in {"string_literal", "raw_string_literal"}:
        return None
    return "".join(node_text(c) for c in node.named_children if c.type == "string_content")


def method_name(call: tree_sitter.Node) -> str:
    """'execute' for ``x.execute(...)``; '' when the call is not a method call."""
    function = call.child_by_field_name("function")
    if function is None or function.type != "field_expression":
        return ""
    field = function.child_by_field_name("field")
    return node_text(field) if field is not None else ""


def receiver(call: tree_sitter.Node) -> tree_sitter.Node | None:
    """``x`` of the method call ``x.m(...)``."""
    function = call.child_by_field_name("function")
    if function is None or function.type != "field_expression":
        return None
    return function.child_by_field_name("value")


def call_arguments(call: tree_sitter.Node) -> list[tree_sitter.Node]:
    """Argument expressions of a Rust call (or the token tree items of a macro call)."""
    args = call.child_by_field_name("arguments")
    if args is None:
        return []
    return [a for a in args.named_children if a.type not in {"line_comment", "block_comment"}]


@dataclass(frozen=True)
class SqlxQuery:
    """One executed sqlx query: ``sqlx::query("SQL")...execute(&pool).await``."""

    sql: str  # the statement text ('' when it is not a literal the file spells out)
    query: tree_sitter.Node  # the sqlx::query(...) call or query!(...) macro
    call: tree_sitter.Node  # the .execute(...) / .fetch_*(...) call
    method: str  # execute, fetch_one, ...
    executor: tree_sitter.Node | None  # its argument: &pool, &mut *tx, ...


def string_constants(root: tree_sitter.Node) -> dict[str, str]:
    """{NAME: text} of ``const NAME: &str = "...";`` / ``static`` items in the file."""
    found: dict[str, str] = {}
    for item in syntax.of_type(root, "const_item", "static_item"):
        name = item.child_by_field_name("name")
        value = item.child_by_field_name("value")
        text = rust_string(value) if value is not None else None
        if name is not None and text is not None:
            found[node_text(name)] = text
    return found


def _query_root(node: tree_sitter.Node) -> tree_sitter.Node | None:
    """The sqlx query call/macro at the start of a builder chain ending at ``node``."""
    current: tree_sitter.Node | None = node
    while current is not None:
        if current.type == "macro_invocation":
            macro = current.child_by_field_name("macro")
            name = node_text(macro).rsplit("::", 1)[-1] if macro is not None else ""
            return current if name in QUERY_FUNCTIONS else None
        if current.type == "call_expression":
            function = current.child_by_field_name("function")
            if function is None:
                return None
            if function.type == "field_expression":  # .bind(x), .persistent(false), ...
                current = function.child_by_field_name("value")
                continue
            if function.type == "generic_function":  # query_as::<_, Row>
                function = function.child_by_field_name("function") or function
            name = node_text(function).rsplit("::", 1)[-1]
            return current if name in QUERY_FUNCTIONS else None
        if current.type in {"await_expression", "try_expression", "parenthesized_expression"}:
            current = current.named_children[0] if current.named_children else None
            continue
        return None
    return None


def _query_sql(query: tree_sitter.Node, constants: dict[str, str]) -> str:
    args = query.child_by_field_name("arguments")
    if query.type == "macro_invocation":
        args = next((c for c in query.named_children if c.type == "token_tree"), None)
    if args is None:
        return ""
    for arg in args.named_children:
        text = rust_string(arg)
        if text is not None:
            return text
        if arg.type == "identifier":
            return constants.get(node_text(arg), "")
        if arg.type not in {"line_comment", "block_comment", "type_identifier"}:
            return ""
    return ""


def sqlx_queries(
    scope: tree_sitter.Node, constants: dict[str, str] | None = None
) -> Iterator[SqlxQuery]:
    """Every executed sqlx query under ``scope`` (not in nested ``fn`` items), in order."""
    constants = constants or {}
    for call in syntax.walk(scope, stop_at=frozenset({"function_item"})):
        if call.type != "call_expression":
            continue
        method = method_name(call)
        if method not in EXECUTE_METHODS:
            continue
        value = receiver(call)
        query = _query_root(value) if value is not None else None
        if query is None:
            continue
        args = call_arguments(call)
        yield SqlxQuery(
            sql=_query_sql(query, constants),
            query=query,
            call=call,
            method=method,
            executor=args[0] if args else None,
        )


def pool_parameters(function: tree_sitter.Node) -> set[str]:
    """Names of a function's parameters typed as a connection pool (``db: &PgPool``)."""
    names: set[str] = set()
    params = function.child_by_field_name("parameters")
    for param in params.named_children if params is not None else []:
        kind = param.child_by_field_name("type")
        pattern = param.child_by_field_name("pattern")
        if kind is not None and pattern is not None and "Pool" in node_text(kind):
            names.update(node_text(i) for i in syntax.of_type(pattern, "identifier"))
            if pattern.type == "identifier":
                names.add(node_text(pattern))
    return names


def executor_kind(executor: tree_sitter.Node | None, pools: set[str]) -> str:
    """'pool', 'transaction' or 'unknown' for the executor argument of a sqlx call.

    ``&mut x`` is a transaction or connection; ``&pool``, ``&*pool``, ``&self.pool``,
    ``pool.as_ref()`` and parameters typed ``...Pool`` are a pool.
    """
    if executor is None:
        return "unknown"
    if executor.type == "reference_expression" and any(
        c.type == "mutable_specifier" for c in executor.children
    ):
        return "transaction"
    text = node_text(executor).lstrip("&* ")
    for suffix in (".as_ref()", ".get_ref()", ".clone()", ".inner()"):
        text = text.removesuffix(suffix)
    last = re.split(r"\.|::", text)[-1].lower()
    if "pool" in last or last in pools:
        return "pool"
    if last in {"tx", "txn", "trans"} or "transaction" in last or "conn" in last:
        return "transaction"
    return "unknown"


def rust_method_calls(scope: tree_sitter.Node, *names: str) -> Iterator[tree_sitter.Node]:
    """Method calls ``x.<name>(...)`` under ``scope`` (not in nested ``fn`` items)."""
    wanted = set(names)
    for node in syntax.walk(scope, stop_at=frozenset({"function_item"})):
        if node.type == "call_expression" and method_name(node) in wanted:
            yield node


def function_sql(
    function: tree_sitter.Node, constants: dict[str, str]
) -> list[tuple[tree_sitter.Node, str]]:
    """(node, SQL text) of every string literal in a Rust function that looks like SQL, and
    of every file constant it names, in source order (not in nested ``fn`` items)."""
    found: list[tuple[tree_sitter.Node, str]] = []
    for node in rust_body_nodes(function):
        text = rust_string(node)
        if text is None and node.type == "identifier":
            text = constants.get(node_text(node))
        if text is not None and sql_verb(text) in SQL_VERBS:
            found.append((node, text))
    return found


_SINGLE_ROW_METHODS = frozenset({"fetch_one", "fetch_optional"})


@dataclass(frozen=True)
class Claim:
    """A job claim done as SELECT-by-status then UPDATE-status, with no row lock."""

    select: tree_sitter.Node
    update: tree_sitter.Node
    table: str


def unlocked_claims(
    function: tree_sitter.Node, constants: dict[str, str], sqlite: bool
) -> list[Claim]:
    """Claims in ``function``: a SELECT picking rows of a table by status (with LIMIT, or
    fetched with fetch_one/fetch_optional) without FOR UPDATE, followed by an UPDATE of the
    same table that sets status with no status guard in its WHERE. On SQLite a function
    that opens a transaction is trusted (the stale-snapshot upgrade fails with BUSY)."""
    statements = function_sql(function, constants)
    if not statements or any(ROW_LOCK.search(sql) for _, sql in statements):
        return []
    if sqlite and next(rust_method_calls(function, "begin", "begin_with"), None) is not None:
        return []
    single_row = {
        query.query.id for query in sqlx_queries(function) if query.method in _SINGLE_ROW_METHODS
    }
    claims: list[Claim] = []
    for index, (node, sql) in enumerate(statements):
        if sql_verb(sql) != "SELECT" or not SELECTS_BY_STATUS.search(sql):
            continue
        table = FROM_TABLE.search(sql)
        if table is None or re.match(r"\s*SELECT\s+(COUNT|EXISTS)\s*\(", sql, re.I):
            continue
        if not re.search(r"\bLIMIT\b", sql, re.I) and not _in_queries(node, single_row):
            continue
        name = table.group(1).strip('"').rsplit(".", 1)[-1].lower()
        for later, later_sql in statements[index + 1 :]:
            update = parse_update(later_sql)
            if (
                update
                and update.table == name
                and sets_status(update)
                and not guards_status(update)
            ):
                claims.append(Claim(select=node, update=later, table=name))
                break
    return claims


def _in_queries(node: tree_sitter.Node, query_ids: set[int]) -> bool:
    current: tree_sitter.Node | None = node
    while current is not None and current.type != "function_item":
        if current.id in query_ids:
            return True
        current = current.parent
    return False


def use_paths(root: tree_sitter.Node) -> dict[str, str]:
    """{local name: full path} bound by the file's ``use`` declarations:
    ``use reqwest::{Client, blocking};`` gives Client -> reqwest::Client and blocking ->
    reqwest::blocking; ``use std::fs::File as F;`` gives F -> std::fs::File."""
    found: dict[str, str] = {}
    for declaration in syntax.of_type(root, "use_declaration"):
        argument = declaration.child_by_field_name("argument")
        if argument is not None:
            _use_tree(argument, "", found)
    return found


def _use_tree(node: tree_sitter.Node, prefix: str, found: dict[str, str]) -> None:
    join = (lambda tail: f"{prefix}::{tail}") if prefix else (lambda tail: tail)
    if node.type in {"identifier", "scoped_identifier", "crate", "self", "super"}:
        full = join(node_text(node))
        last = full.rsplit("::", 1)[-1]
        if last == "self":
            full = full.rsplit("::", 1)[0]
            last = full.rsplit("::", 1)[-1]
        found[last] = full
    elif node.type == "use_as_clause":
        path, alias = node.child_by_field_name("path"), node.child_by_field_name("alias")
        if path is not None and alias is not None:
            found[node_text(alias)] = join(node_text(path))
    elif node.type == "scoped_use_list":
        path, items = node.child_by_field_name("path"), node.child_by_field_name("list")
        inner = join(node_text(path)) if path is not None else prefix
        if items is not None:
            _use_tree(items, inner, found)
    elif node.type == "use_list":
        for child in node.named_children:
            _use_tree(child, prefix, found)


def call_path(call: tree_sitter.Node, uses: dict[str, str]) -> str:
    """The full path a plain (not method) call names, through the file's ``use``s:
    ``Client::new()`` after ``use reqwest::Client;`` is 'reqwest::Client::new', ``fs::write``
    after ``use tokio::fs;`` is 'tokio::fs::write'. '' for a method call."""
    function = call.child_by_field_name("function")
    if function is not None and function.type == "generic_function":
        function = function.child_by_field_name("function")
    if function is None or function.type not in {"identifier", "scoped_identifier"}:
        return ""
    text = re.sub(r"<[^<>]*>", "", node_text(function)).replace(" ", "")
    text = text.removeprefix("::")
    head, _, rest = text.partition("::")
    if head in uses:
        return f"{uses[head]}::{rest}" if rest else uses[head]
    return text


def chain_methods(call: tree_sitter.Node) -> tuple[list[str], tree_sitter.Node]:
    """The methods called on the value of ``call`` in a builder chain
    (``Client::builder().timeout(t).build()`` from the builder() call: ['timeout',
    'build']), through ``?`` and ``.await``, and the chain's last call."""
    methods: list[str] = []
    current = call
    while True:
        parent = current.parent
        while parent is not None and parent.type in {"try_expression", "await_expression"}:
            current, parent = parent, parent.parent
        if parent is None or parent.type != "field_expression":
            return methods, current
        outer = parent.parent
        if outer is None or outer.type != "call_expression":
            return methods, current
        methods.append(method_name(outer))
        current = outer


def enclosing_function(node: tree_sitter.Node) -> tree_sitter.Node | None:
    """The ``fn`` item around ``node``."""
    current = node.parent
    while current is not None and current.type != "function_item":
        current = current.parent
    return current


def is_async_fn(function: tree_sitter.Node) -> bool:
    """An ``async fn``."""
    modifiers = next((c for c in function.children if c.type == "function_modifiers"), None)
    return modifiers is not None and "async" in node_text(modifiers).split()


RUSQLITE_OPEN = re.compile(r"(^|::)Connection::open(_with_flags)?$")
_CONSTRUCTORS = frozenset({"main", "new", "open", "init", "setup", "connect", "from_file"})


def rusqlite_opens(
    root: tree_sitter.Node, uses: dict[str, str], imports: set[str], path: str
) -> Iterator[tree_sitter.Node]:
    """rusqlite ``Connection::open`` / ``open_with_flags`` calls on a file database (not in
    memory, not read-only), outside test code."""
    for call in syntax.of_type(root, "call_expression"):
        name = call_path(call, uses)
        if not RUSQLITE_OPEN.search(name) or ("rusqlite" not in name and "rusqlite" not in imports):
            continue
        text = node_text(call)
        if "memory" in text.lower() or "READ_ONLY" in text:
            continue
        if not is_rust_test(call, path):
            yield call


def returns_connection(function: tree_sitter.Node) -> bool:
    """The function hands a connection (or an object owning one) to its caller."""
    kind = function.child_by_field_name("return_type")
    text = node_text(kind) if kind is not None else ""
    return "Connection" in text or "Self" in text or "Pool" in text


def connection_openers(root: tree_sitter.Node, opens: list[tree_sitter.Node]) -> set[str]:
    """Names of the functions around ``opens`` that return the connection they open."""
    names: set[str] = set()
    for call in opens:
        function = enclosing_function(call)
        if function is not None and returns_connection(function):
            names.add(rust_function_name(function))
    return names


def per_call_opens(
    root: tree_sitter.Node, uses: dict[str, str], openers: set[str], path: str
) -> Iterator[tuple[tree_sitter.Node, tree_sitter.Node]]:
    """(function, call) where a function opens a rusqlite connection of its own, directly or
    through one of ``openers``, and drops it when it returns: not a constructor, not an
    opener, not a function returning a connection or an object owning one."""
    for function in rust_functions(root):
        name = rust_function_name(function)
        if name in _CONSTRUCTORS or name in openers or returns_connection(function):
            continue
        for call in syntax.of_type(
            function, "call_expression", stop_at=frozenset({"function_item"})
        ):
            full = call_path(call, uses)
            called = method_name(call) or full.rsplit("::", 1)[-1]
            direct = RUSQLITE_OPEN.search(full) and "memory" not in node_text(call).lower()
            if (direct or called in openers) and not is_rust_test(call, path):
                yield function, call
                break


# Fixers: where a statement can go right after a rusqlite open, and whether `?` on a
# rusqlite::Error compiles there.

# Methods that turn Connection::open(..)'s Result into a Connection (or keep it a Result
# the function's `?` handles): `.context("..")?`, `.map_err(..)?`, `.unwrap()`.
_OPEN_ADAPTERS = frozenset(
    {"context", "with_context", "map_err", "wrap_err", "wrap_err_with", "unwrap", "expect"}
)
# Return types whose error converts from rusqlite::Error (`?` compiles on it).
_CONVERTING_RESULTS = re.compile(
    r"^(rusqlite|anyhow|eyre|color_eyre(::eyre)?)::Result<"
    r"|^(std::result::|core::result::)?Result<.*,\s*(rusqlite::Error|anyhow::Error|"
    r"(eyre|color_eyre(::eyre)?)::Report|Box<dyn\s+(std::error::)?Error(\s*\+\s*(Send|Sync|'static))*>)>$"
)
_RESULT_ALIASES = frozenset(
    {"rusqlite::Result", "anyhow::Result", "eyre::Result", "color_eyre::Result",
     "color_eyre::eyre::Result"}
)  # fmt: skip


def open_binding(call: tree_sitter.Node) -> tuple[tree_sitter.Node, str, bool] | None:
    """(the ``let`` statement, the bound name, whether the open itself is ``?``-ed) when
    ``call`` (``Connection::open(..)``) is the value of ``let [mut] NAME = <call>?;`` or
    ``let NAME = <call>.context(..)?;`` / ``.unwrap()`` / ...; None for any other shape."""
    current = call
    while True:
        parent = current.parent
        if parent is None:
            return None
        if parent.type == "try_expression":
            current = parent
            continue
        if parent.type == "field_expression" and parent.child_by_field_name("value") == current:
            outer = parent.parent
            if outer is None or outer.type != "call_expression":
                return None
            if method_name(outer) not in _OPEN_ADAPTERS:
                return None
            current = outer
            continue
        break
    if parent.type != "let_declaration" or parent.child_by_field_name("value") != current:
        return None
    pattern = parent.child_by_field_name("pattern")
    if pattern is None or pattern.type != "identifier":
        return None
    direct = current.type == "try_expression" and current.named_children[0] == call
    return parent, node_text(pattern), direct


def question_mark_converts(statement: tree_sitter.Node, direct: bool, uses: dict[str, str]) -> bool:
    """`?` on a rusqlite::Error compiles right after ``statement``: the open itself is
    ``?``-ed there (``direct``), or the statement sits in a function body (not a closure or
    async block) whose return type visibly converts from rusqlite::Error."""
    if direct:
        return True
    current = statement.parent
    while current is not None and current.type != "function_item":
        if current.type in {"closure_expression", "async_block"}:
            return False
        current = current.parent
    if current is None:
        return False
    kind = current.child_by_field_name("return_type")
    text = re.sub(r"\s+", " ", node_text(kind)).strip() if kind is not None else ""
    text = text.replace(" ,", ",").removeprefix("::")
    if _CONVERTING_RESULTS.search(text):
        return True
    head = text.split("<", 1)[0]
    return head == "Result" and "," not in text and uses.get("Result") in _RESULT_ALIASES


def ends_its_line(node: tree_sitter.Node, lines: list[str]) -> bool:
    """Nothing but whitespace or a comment follows ``node`` on its last line."""
    line = lines[node.end_point[0]] if node.end_point[0] < len(lines) else ""
    rest = line.encode("utf-8")[node.end_point[1] :].decode("utf-8", errors="ignore").strip()
    return rest == "" or rest.startswith("//")
