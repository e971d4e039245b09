"""Small helpers over tree-sitter JavaScript/TypeScript and Rust trees, shared by the rules.

``syntax`` holds the Python-tree helpers; its ``walk`` / ``of_type`` / ``line`` /
``end_line`` / ``enclosing`` are grammar-neutral and reused here. Everything below knows the
node types of the official tree-sitter-javascript/-typescript and tree-sitter-rust grammars.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

import tree_sitter

from vibe_audit.chunker.parsing import node_text
from vibe_audit.rules import syntax

# --------------------------------------------------------------------------- JS / TS

JS_LANGUAGES = ["javascript", "typescript", "tsx"]
JS_FUNCTION_TYPES = frozenset(
    {"function_declaration", "function_expression", "function", "arrow_function",
     "method_definition", "generator_function_declaration", "generator_function"}
)  # fmt: skip
# Wrappers that do not change a value: (x), x as T, x!, <T>x, x satisfies T.
_JS_TRANSPARENT = frozenset(
    {"parenthesized_expression", "as_expression", "non_null_expression",
     "type_assertion", "satisfies_expression", "await_expression"}
)  # fmt: skip
_TEST_PATH = re.compile(r"(^|/)(__tests__|tests?|spec|e2e|benches|examples)/|\.(test|spec)\.")


def is_test_path(path: str) -> bool:
    """A test, spec, bench or example file by its path (``foo.test.ts``, ``tests/x.rs``)."""
    return bool(_TEST_PATH.search(path))


def unwrap(node: tree_sitter.Node) -> tree_sitter.Node:
    """``node`` without parentheses, type assertions, ``!`` and ``await`` around it."""
    while node.type in _JS_TRANSPARENT and node.named_children:
        node = node.named_children[0]
    return node


def js_callee(call: tree_sitter.Node) -> str:
    """Source text of a call's function ('fetch', 'JSON.parse', 'ws.addEventListener')."""
    function = call.child_by_field_name("function")
    return node_text(function) if function is not None else ""


def js_arguments(call: tree_sitter.Node) -> list[tree_sitter.Node]:
    """The argument expressions of a call_expression or new_expression (no comments)."""
    args = call.child_by_field_name("arguments")
    if args is None:
        return []
    return [a for a in args.named_children if a.type != "comment"]


def js_string(node: tree_sitter.Node) -> str | None:
    """The value of a string literal or a template string without ``${}``, else None."""
    if node.type == "string":
        return "".join(node_text(c) for c in node.named_children if c.type == "string_fragment")
    if node.type == "template_string" and not any(
        c.type == "template_substitution" for c in node.named_children
    ):
        return node_text(node)[1:-1]
    return None


def object_keys(obj: tree_sitter.Node) -> set[str]:
    """Property names an object literal spells out; '...' when it spreads another object
    (whose keys cannot be seen)."""
    keys: set[str] = set()
    for child in obj.named_children:
        if child.type == "spread_element":
            keys.add("...")
        elif child.type in {"shorthand_property_identifier", "method_definition", "pair"}:
            key = child.child_by_field_name("key") or child.child_by_field_name("name")
            text = node_text(key) if key is not None else node_text(child)
            keys.add(text.strip("'\"`"))
    return keys


def enclosing_function(node: tree_sitter.Node) -> tree_sitter.Node | None:
    """The nearest JS/TS function (declaration, expression, arrow or method) around ``node``."""
    return syntax.enclosing(node, *JS_FUNCTION_TYPES)


def js_function_name(function: tree_sitter.Node) -> str:
    """A function's own name, else the variable, property or key it is assigned to."""
    name = function.child_by_field_name("name")
    if name is not None:
        return node_text(name)
    parent = function.parent
    if parent is not None and parent.type == "variable_declarator":
        target = parent.child_by_field_name("name")
        return node_text(target) if target is not None else "<anonymous>"
    if parent is not None and parent.type in {"pair", "assignment_expression"}:
        target = parent.child_by_field_name("key") or parent.child_by_field_name("left")
        return node_text(target).rsplit(".", 1)[-1] if target is not None else "<anonymous>"
    return "<anonymous>"


def js_symbol(node: tree_sitter.Node) -> str | None:
    """'Class.method' / 'outer.inner' name of the named definitions around ``node``."""
    parts: list[str] = []
    current = node.parent
    while current is not None:
        if current.type in JS_FUNCTION_TYPES:
            name = js_function_name(current)
            if name != "<anonymous>":
                parts.append(name)
        elif current.type in {"class_declaration", "class", "abstract_class_declaration"}:
            name_node = current.child_by_field_name("name")
            if name_node is not None:
                parts.append(node_text(name_node))
        current = current.parent
    return ".".join(reversed(parts)) or None


def in_try_body(node: tree_sitter.Node) -> bool:
    """True when ``node`` sits in the ``try { }`` block of a try statement with a catch
    clause, within the same function."""
    child, current = node, node.parent
    while current is not None and current.type not in JS_FUNCTION_TYPES:
        if (
            current.type == "try_statement"
            and child == current.child_by_field_name("body")
            and current.child_by_field_name("handler") is not None
        ):
            return True
        child, current = current, current.parent
    return False


def named_imports(root: tree_sitter.Node, module_prefix: str) -> dict[str, str]:
    """{local name: imported name} of ``import { a as b } from "<module_prefix>..."``."""
    found: dict[str, str] = {}
    for statement in root.named_children:
        if statement.type != "import_statement":
            continue
        source = statement.child_by_field_name("source")
        if source is None or not (js_string(source) or "").startswith(module_prefix):
            continue
        for spec in syntax.of_type(statement, "import_specifier"):
            name = spec.child_by_field_name("name")
            alias = spec.child_by_field_name("alias")
            if name is not None:
                found[node_text(alias or name)] = node_text(name)
    return found


def declared_values(scope: tree_sitter.Node) -> dict[str, tree_sitter.Node]:
    """{name: initial value} of the ``const/let/var name = value`` declarations in ``scope``
    (the last one wins)."""
    values: dict[str, tree_sitter.Node] = {}
    for declarator in syntax.of_type(scope, "variable_declarator"):
        name = declarator.child_by_field_name("name")
        value = declarator.child_by_field_name("value")
        if name is not None and value is not None and name.type == "identifier":
            values[node_text(name)] = value
    return values


# --------------------------------------------------------------------------- Rust

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
    if is_test_path(path) or path.endswith("build.rs"):
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


# --------------------------------------------------------------------------- SQL text

_SQL_COMMENT = re.compile(r"--[^\n]*|/\*.*?\*/", re.S)
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def sql_verb(sql: str) -> str:
    """The statement's first keyword, upper-cased ('INSERT', 'SELECT', 'WITH', '')."""
    match = _WORD.search(_SQL_COMMENT.sub(" ", sql))
    return match.group(0).upper() if match else ""


def is_write(sql: str) -> bool:
    """INSERT / UPDATE / DELETE / REPLACE / UPSERT statement (also behind a WITH)."""
    verb = sql_verb(sql)
    if verb == "WITH":
        return bool(re.search(r"\)\s*(INSERT|UPDATE|DELETE)\b", sql, re.I))
    return verb in {"INSERT", "UPDATE", "DELETE", "REPLACE", "UPSERT"}


@dataclass(frozen=True)
class Update:
    """The parts of ``UPDATE <table> SET <assignments> WHERE <where>``."""

    table: str
    assignments: str
    where: str


_UPDATE = re.compile(
    r"^\s*UPDATE\s+(?:ONLY\s+)?([\w.\"]+)(?:\s+(?:AS\s+)?\w+)?\s+SET\s+(.*?)"
    r"(?:\bWHERE\b(.*?))?(?:\bRETURNING\b.*)?;?\s*$",
    re.I | re.S,
)


def parse_update(sql: str) -> Update | None:
    """The table, SET list and WHERE clause of a plain UPDATE statement, else None."""
    match = _UPDATE.match(_SQL_COMMENT.sub(" ", sql))
    if match is None or re.search(r"\bFROM\b", match.group(2), re.I):
        return None
    return Update(
        table=match.group(1).strip('"').rsplit(".", 1)[-1].lower(),
        assignments=match.group(2),
        where=(match.group(3) or "").strip(),
    )


STATUS_COLUMN = r"\b\w*(?:status|state)\b"


def sets_status(update: Update) -> bool:
    """The UPDATE assigns a status/state column (``status = 'processing'``)."""
    return bool(re.search(STATUS_COLUMN + r"\s*=", update.assignments, re.I))


def guards_status(update: Update) -> bool:
    """The UPDATE's WHERE clause tests a status/state column (compare-and-set)."""
    return bool(re.search(STATUS_COLUMN, update.where, re.I))


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
        if text is not None and sql_verb(text) in _SQL_VERBS:
            found.append((node, text))
    return found


_SQL_VERBS = frozenset({"SELECT", "INSERT", "UPDATE", "DELETE", "WITH", "REPLACE"})
_SELECT_BY_STATUS = re.compile(r"\bWHERE\b.*?" + STATUS_COLUMN + r"\s*(=|\bIN\b)", re.I | re.S)
_FROM = re.compile(r"\bFROM\s+(?:ONLY\s+)?([\w.\"]+)", re.I)
_LOCKED = re.compile(r"\bFOR\s+(NO\s+KEY\s+)?UPDATE\b|\bpg_advisory", re.I)
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
    if not statements or any(_LOCKED.search(sql) for _, sql in statements):
        return []
    if sqlite and next(rust_method_calls(function, "begin", "begin_with"), None) is not None:
        return []
    single_row = {
        query.query.id for query in sqlx_queries(function) if query.method in _SINGLE_ROW_METHODS
    }
    claims: list[Claim] = []
    for index, (node, sql) in enumerate(statements):
        if sql_verb(sql) != "SELECT" or not _SELECT_BY_STATUS.search(sql):
            continue
        table = _FROM.search(sql)
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
