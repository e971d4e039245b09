"""Helpers over tree-sitter JavaScript / TypeScript trees, shared by the rules and the index.

``syntax`` holds the Python-tree helpers; its ``walk`` / ``of_type`` / ``line`` /
``end_line`` / ``enclosing`` are grammar-neutral and reused here. Everything below knows the
node types of the official tree-sitter-javascript and -typescript grammars.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

import tree_sitter

from vibe_audit.chunker.parsing import node_text
from vibe_audit.rules import syntax

if TYPE_CHECKING:
    from vibe_audit.rules.context import FileContext

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


def strings(root: tree_sitter.Node) -> list[tuple[tree_sitter.Node, str]]:
    """Every string literal and template string under ``root`` with its text (a template's
    ``${}`` parts kept as written)."""
    found: list[tuple[tree_sitter.Node, str]] = []
    for node in syntax.of_type(root, "string", "template_string"):
        value = js_string(node)
        found.append((node, value if value is not None else node_text(node)[1:-1]))
    return found


def is_parameter(name: str, node: tree_sitter.Node) -> bool:
    """``name`` is a parameter of a function around ``node`` (the caller chooses its value)."""
    function = enclosing_function(node)
    while function is not None:
        parameters = function.child_by_field_name("parameters")
        if parameters is None:
            parameter = function.child_by_field_name("parameter")  # x => ...
            if parameter is not None and node_text(parameter) == name:
                return True
        else:
            for identifier in syntax.of_type(
                parameters, "identifier", "shorthand_property_identifier_pattern"
            ):
                if node_text(identifier) == name:
                    return True
        function = enclosing_function(function)
    return False


def root_name(node: tree_sitter.Node) -> str:
    """The leftmost identifier of ``a.b.c`` / ``a[0].b`` / ``a`` ('' for anything else)."""
    node = unwrap(node)
    while node.type in {"member_expression", "subscript_expression"}:
        inner = node.child_by_field_name("object")
        if inner is None:
            return ""
        node = unwrap(inner)
    return node_text(node) if node.type in {"identifier", "this"} else ""


# ------------------------------------------------------------------------- SQLite drivers

# npm modules whose database class opens a SQLite file, and the class's export name.
SQLITE_MODULES = {
    "better-sqlite3": "Database",
    "node:sqlite": "DatabaseSync",
    "bun:sqlite": "Database",
    "sqlite3": "Database",
}
# Drivers whose calls block until done: an ``await`` never runs inside one of their calls.
SYNC_SQLITE = frozenset({"better-sqlite3", "node:sqlite", "bun:sqlite"})


def _module_of(node: tree_sitter.Node) -> str | None:
    """The SQLite module ``require("m")`` / ``require("m").verbose()`` names."""
    node = unwrap(node)
    if node.type == "call_expression" and js_callee(node).endswith(".verbose"):
        function = node.child_by_field_name("function")
        inner = function.child_by_field_name("object") if function is not None else None
        if inner is None:
            return None
        node = unwrap(inner)
    if node.type != "call_expression" or js_callee(node) != "require":
        return None
    args = js_arguments(node)
    module = js_string(args[0]) if args else None
    return module if module in SQLITE_MODULES else None


@dataclass(frozen=True)
class ImportBinding:
    """One name an ``import`` statement binds: ``kind`` 'default' (``import db from``),
    'namespace' (``import * as fs from``) or 'named' (``import { a as b } from``, where
    ``imported`` is 'a' and ``local`` 'b')."""

    module: str
    kind: str
    local: str
    imported: str


def import_bindings(root: tree_sitter.Node) -> list[ImportBinding]:
    """Every name the ``import`` statements under ``root`` bind, in source order (the one
    walk of import clauses that the rules' module lookups share)."""
    found: list[ImportBinding] = []
    for statement in syntax.of_type(root, "import_statement"):
        source = statement.child_by_field_name("source")
        module = js_string(source) if source is not None else None
        if module is None:
            continue
        for clause in statement.named_children:
            if clause.type != "import_clause":
                continue
            for child in clause.named_children:
                if child.type == "identifier":
                    found.append(ImportBinding(module, "default", node_text(child), "default"))
                elif child.type == "namespace_import":
                    found += [
                        ImportBinding(module, "namespace", node_text(ident), "*")
                        for ident in syntax.of_type(child, "identifier")
                    ]
            for spec in syntax.of_type(clause, "import_specifier"):
                imported = spec.child_by_field_name("name")
                alias = spec.child_by_field_name("alias")
                if imported is not None:
                    local = node_text(alias or imported)
                    found.append(ImportBinding(module, "named", local, node_text(imported)))
    return found


def sqlite_classes(root: tree_sitter.Node) -> dict[str, str]:
    """{constructor as written: module} for the SQLite database classes a file imports or
    requires: 'Database' (better-sqlite3 default export, bun:sqlite), 'DatabaseSync'
    (node:sqlite), 'sqlite3.Database' (sqlite3 namespace)."""
    found: dict[str, str] = {}
    for binding in import_bindings(root):
        source = binding.module
        if source not in SQLITE_MODULES:
            continue
        exported = SQLITE_MODULES[source]
        if binding.kind == "default":
            local = binding.local
            found[local if source != "sqlite3" else f"{local}.{exported}"] = source
        elif binding.kind == "namespace":
            found[f"{binding.local}.{exported}"] = source
        elif binding.imported == exported:
            found[binding.local] = source
    for declarator in syntax.of_type(root, "variable_declarator"):
        target = declarator.child_by_field_name("name")
        value = declarator.child_by_field_name("value")
        module = _module_of(value) if value is not None else None
        if target is None or module is None:
            continue
        exported = SQLITE_MODULES[module]
        if target.type == "identifier":
            name = node_text(target)
            found[f"{name}.{exported}" if module in {"sqlite3", "node:sqlite"} else name] = module
            if module == "bun:sqlite":
                found[f"{name}.{exported}"] = module
        else:
            for pattern in syntax.of_type(
                target, "shorthand_property_identifier_pattern", "pair_pattern"
            ):
                key = pattern.child_by_field_name("key")
                bound = pattern.child_by_field_name("value")
                if pattern.type == "shorthand_property_identifier_pattern":
                    if node_text(pattern) == exported:
                        found[exported] = module
                elif key is not None and bound is not None and node_text(key) == exported:
                    found[node_text(bound)] = module
    return found


def sqlite_opens(root: tree_sitter.Node) -> list[tuple[tree_sitter.Node, str]]:
    """(call, module) of every ``new Database(...)`` (or better-sqlite3's ``Database(...)``
    without ``new``) of a SQLite class the file imports."""
    classes = sqlite_classes(root)
    if not classes:
        return []
    found = []
    for node in syntax.of_type(root, "new_expression", "call_expression"):
        field = "constructor" if node.type == "new_expression" else "function"
        target = node.child_by_field_name(field)
        module = classes.get(node_text(target)) if target is not None else None
        if module is None or (node.type == "call_expression" and module != "better-sqlite3"):
            continue
        found.append((node, module))
    return found


_READONLY_KEYS = ("readonly", "readOnly")


def opened_database(call: tree_sitter.Node, module: str) -> str:
    """What a SQLite open call opens: 'memory' (no file: ':memory:', '' or no argument),
    'caller' (a file named by a parameter of the function around it: a library's or
    factory's caller chooses it), 'readonly', or 'owned' (the application's own file)."""
    args = js_arguments(call)
    if not args:
        return "memory"
    first = unwrap(args[0])
    literal = js_string(first)
    if literal is not None and (literal in {"", ":memory:"} or "mode=memory" in literal):
        return "memory"
    name = root_name(first)
    if name and name != "this" and is_parameter(name, call):
        return "caller"
    if first.type == "member_expression" and name == "this":
        return "caller"  # this.filename: set from the constructor's caller
    for option in args[1:]:
        option = unwrap(option)
        text = node_text(option)
        if option.type == "object":
            for pair in option.named_children:
                key = pair.child_by_field_name("key") if pair.type == "pair" else None
                value = pair.child_by_field_name("value") if pair.type == "pair" else None
                if (
                    key is not None
                    and value is not None
                    and node_text(key) in _READONLY_KEYS
                    and node_text(value) == "true"
                ):
                    return "readonly"
        elif "OPEN_READONLY" in text:
            return "readonly"
    return "owned"


def pragma_settings(root: tree_sitter.Node) -> list[tuple[tree_sitter.Node, str, str]]:
    """(node, name, value) of every PRAGMA the file's strings set or read ('' value for a
    read or a value that is not a literal), and of better-sqlite3's ``db.pragma("x = y")``.
    Names and values are lower-cased."""
    found: list[tuple[tree_sitter.Node, str, str]] = []
    for node, text in strings(root):
        parent = node.parent.parent if node.parent is not None else None
        is_pragma_call = (
            parent is not None
            and parent.type == "call_expression"
            and js_callee(parent).endswith(".pragma")
        )
        pattern = _PRAGMA_CALL if is_pragma_call else _PRAGMA_TEXT
        for match in pattern.finditer(text):
            value = match.group(2) or ""
            if "${" in value:
                value = ""
            found.append((node, match.group(1).lower(), value.strip("'\"").lower()))
    return found


_PRAGMA_TEXT = re.compile(r"\bPRAGMA\s+(?:\w+\.)?(\w+)\s*(?:(?:=|\()\s*([^\s;)]+))?", re.I)
_PRAGMA_CALL = re.compile(r"^\s*(\w+)\s*(?:=\s*([^\s;]+))?", re.I)


_TRANSACTION_SQL = re.compile(
    r"^\s*(BEGIN|COMMIT|END|ROLLBACK)(?:\s+(?:IMMEDIATE|EXCLUSIVE|DEFERRED))?"
    r"(?:\s+TRANSACTION)?\s*;?\s*$",
    re.I,
)
_SQL_METHODS = frozenset({"exec", "run", "prepare"})  # not query(): pg and mysql clients


def transaction_verb(call: tree_sitter.Node) -> str | None:
    """'BEGIN' / 'COMMIT' / 'ROLLBACK' for ``db.exec("BEGIN IMMEDIATE")``,
    ``db.run("COMMIT")``, ``db.prepare("ROLLBACK")`` ('END' reads as 'COMMIT'), else None."""
    name = js_callee(call)
    if "." not in name or name.rsplit(".", 1)[-1] not in _SQL_METHODS:
        return None
    args = js_arguments(call)
    text = js_string(args[0]) if args else None
    match = _TRANSACTION_SQL.match(text) if text is not None else None
    if match is None:
        return None
    verb = match.group(1).upper()
    return "COMMIT" if verb == "END" else verb


def own_nodes(function: tree_sitter.Node, *types: str) -> list[tree_sitter.Node]:
    """Nodes of ``types`` in ``function``'s body, not inside a nested function."""
    body = function.child_by_field_name("body")
    if body is None:
        return []
    stop = frozenset(JS_FUNCTION_TYPES) | {"class_body"}
    return [n for n in syntax.of_type(body, *types, stop_at=stop) if n.type in types]


def handler_clauses(node: tree_sitter.Node) -> list[tree_sitter.Node]:
    """The catch and finally clauses of the try statements around ``node`` (same function)
    whose ``try`` block holds it."""
    clauses: list[tree_sitter.Node] = []
    child, current = node, node.parent
    while current is not None and current.type not in JS_FUNCTION_TYPES:
        if current.type == "try_statement" and child == current.child_by_field_name("body"):
            for field in ("handler", "finalizer"):
                clause = current.child_by_field_name(field)
                if clause is not None:
                    clauses.append(clause)
        child, current = current, current.parent
    return clauses


@dataclass(frozen=True)
class Transaction:
    """An explicit ``BEGIN`` ... ``COMMIT`` issued as SQL text in one function."""

    function: tree_sitter.Node
    begin: tree_sitter.Node  # the call that runs BEGIN
    commit: tree_sitter.Node  # the first COMMIT on the same connection after it
    connection: str  # the object the calls are made on, as written ('db', 'this.db')
    rolls_back: bool  # a ROLLBACK (or a *rollback* call) runs in a catch or finally clause


def _connection(call: tree_sitter.Node) -> str:
    return js_callee(call).rsplit(".", 1)[0]


def explicit_transactions(root: tree_sitter.Node) -> list[Transaction]:
    """Every BEGIN ... COMMIT pair of SQL-text calls (exec / run / prepare) within one
    function, in source order."""
    found: list[Transaction] = []
    for function in syntax.of_type(root, *JS_FUNCTION_TYPES):
        calls = own_nodes(function, "call_expression")
        verbs = [(call, transaction_verb(call)) for call in calls]
        if not any(verb == "BEGIN" for _, verb in verbs):
            continue
        rolls_back = any(
            (verb == "ROLLBACK" or "rollback" in js_callee(call).lower())
            and syntax.enclosing(call, "catch_clause", "finally_clause", *JS_FUNCTION_TYPES)
            not in (None, function)
            and syntax.enclosing(call, *JS_FUNCTION_TYPES) == function
            for call, verb in verbs
        )
        for index, (call, verb) in enumerate(verbs):
            if verb != "BEGIN":
                continue
            connection = _connection(call)
            commit = next(
                (
                    later
                    for later, later_verb in verbs[index + 1 :]
                    if later_verb == "COMMIT" and _connection(later) == connection
                ),
                None,
            )
            if commit is not None:
                found.append(Transaction(function, call, commit, connection, rolls_back))
    return found


def opened_here(name: str, function: tree_sitter.Node) -> bool:
    """``name`` is a variable the function itself initialises by opening a connection
    (``new Database(...)``, ``open(...)``, ``connect(...)``), not an alias of a shared one
    (``const db = getDb()``, ``const db = await pool``)."""
    for declarator in own_nodes(function, "variable_declarator"):
        target = declarator.child_by_field_name("name")
        value = declarator.child_by_field_name("value")
        if target is None or value is None or node_text(target) != name:
            continue
        value = unwrap(value)
        if value.type == "new_expression":
            return True
        if value.type == "call_expression":
            last = js_callee(value).rsplit(".", 1)[-1]
            return last in {"open", "connect", "Database", "createConnection"}
    return False


def root_name_of(expression: str) -> str:
    """'db' of 'db.main' / 'this' of 'this.db' (text of a member expression)."""
    return re.split(r"[.\[(]", expression, maxsplit=1)[0]


# Modules whose import means the process serves concurrent requests or runs several
# threads or processes (JS/TS).
SERVER_MODULES = {
    "express": "an Express server", "fastify": "a Fastify server", "koa": "a Koa server",
    "hono": "a Hono server", "@hono/node-server": "a Hono server", "ws": "a websocket server",
    "socket.io": "a Socket.IO server", "@nestjs/core": "a NestJS server",
    "node:http": "an HTTP server", "http": "an HTTP server", "worker_threads": "worker threads",
    "node:worker_threads": "worker threads", "cluster": "several processes (cluster)",
    "node:cluster": "several processes (cluster)", "bullmq": "BullMQ workers",
}  # fmt: skip


def _import_sources(text: str) -> list[str]:
    return re.findall(r"""(?:from\s+|require\(\s*|import\(\s*)["'](\.{1,2}/[^"']+)["']""", text)


def _stem(path: str) -> str:
    name = path.rsplit("/", 1)[-1]
    return re.sub(r"\.(m|c)?[jt]sx?$", "", name)


def _names_module(source: str, path: str) -> bool:
    """A relative import ``source`` ('./db', '../server/db.js') may name the file ``path``
    (compared by file name; 'x/index.ts' also by its folder)."""
    target, stem = _stem(source), _stem(path)
    if stem == "index" and "/" in path:
        return target in {path.rsplit("/", 2)[-2], "index"}
    return target == stem


def reaching_server(
    path: str, files: dict[str, tuple[set[str], str]], depth: int = 3
) -> str | None:
    """Why the JS/TS module at ``path`` runs inside a server or workers: it imports a server
    or worker module, or a module of the repository importing it (through up to ``depth``
    modules) does. ``files``: {path: (imported module names, source text)}."""
    seen = {path}
    frontier = [path]
    for level in range(depth + 1):
        following: list[str] = []
        for current in frontier:
            imports, _ = files[current]
            for module in sorted(imports):
                if module in SERVER_MODULES:
                    via = "" if current == path else f", and it imports {path}"
                    return f"{current} runs {SERVER_MODULES[module]} ({module}){via}"
            if level == depth:
                continue
            for other, (_, text) in files.items():
                if other not in seen and any(
                    _names_module(source, current) for source in _import_sources(text)
                ):
                    seen.add(other)
                    following.append(other)
        frontier = following
    return None


FS_MODULES = frozenset(
    {"fs", "node:fs", "fs/promises", "node:fs/promises", "fs-extra", "graceful-fs"}
)


def fs_bindings(root: tree_sitter.Node) -> tuple[set[str], set[str]]:
    """(module names, function names) a file binds to Node's fs modules: ``fs`` of
    ``import fs from "node:fs"`` / ``const fs = require("fs")`` (and ``fs.promises``), and
    ``writeFile`` of ``import { writeFile } from "fs/promises"``."""
    modules: set[str] = set()
    functions: set[str] = set()
    for bound in import_bindings(root):
        if bound.module not in FS_MODULES:
            continue
        if bound.kind != "named" or bound.imported == "promises":
            modules.add(bound.local)
        else:
            functions.add(bound.local)
    for declarator in syntax.of_type(root, "variable_declarator"):
        target = declarator.child_by_field_name("name")
        value = declarator.child_by_field_name("value")
        if target is None or value is None:
            continue
        text = node_text(unwrap(value))
        match = re.match(r"""require\(\s*["'`]([\w:/-]+)["'`]\s*\)(\.promises)?$""", text)
        if match is None or match.group(1) not in FS_MODULES:
            continue
        if target.type == "identifier":
            modules.add(node_text(target))
        else:
            for pattern in syntax.of_type(
                target, "shorthand_property_identifier_pattern", "pair_pattern"
            ):
                local = pattern.child_by_field_name("value") or pattern
                if node_text(pattern).split(":")[0].strip() == "promises":
                    modules.add(node_text(local))
                else:
                    functions.add(node_text(local))
    return modules, functions


def is_fs_call(call: tree_sitter.Node, bindings: tuple[set[str], set[str]]) -> bool:
    """The call is a function of Node's fs modules by the file's bindings
    (``fs.writeFileSync``, ``fs.promises.writeFile``, ``fsp.writeFile``, ``writeFile``)."""
    modules, functions = bindings
    name = js_callee(call)
    if "." not in name:
        return name in functions
    owner = name.rsplit(".", 1)[0].removesuffix(".promises")
    return owner in modules


@dataclass(frozen=True)
class SqliteOpen:
    """A place the repository opens a SQLite database file."""

    path: str
    call: tree_sitter.Node
    module: str  # better-sqlite3, node:sqlite, bun:sqlite, sqlite3
    kind: str  # 'owned' or 'readonly' (see opened_database)


_PROCESS_MODULES = ("worker_threads", "cluster")
_PROCESS_REQUIRE = re.compile(r"""require\(\s*["'](?:node:)?(worker_threads|cluster)["']\s*\)""")


def sqlite_open_sites(files: list[FileContext]) -> list[SqliteOpen]:
    """Every open of the application's own SQLite file (not in-memory, not a file a
    function's caller names) in ``files``, in order."""
    found = []
    for ctx in files:
        if "sqlite" not in ctx.source.text:
            continue
        for call, module in sqlite_opens(ctx.root):
            kind = opened_database(call, module)
            if kind in {"owned", "readonly"}:
                found.append(SqliteOpen(ctx.source.path, call, module, kind))
    return found


def several_connections(files: list[FileContext], opens: list[SqliteOpen]) -> str | None:
    """How the database comes to have more than one connection at a time, in the finding's
    words ('from 2 places (a.ts:3, b.ts:9)', 'while x.ts runs code in several threads or
    processes'), or None when the code shows a single connection."""
    if len(opens) >= 2:
        places = ", ".join(f"{o.path}:{syntax.line(o.call)}" for o in opens[:4])
        return f"from {len(opens)} places ({places})"
    for ctx in files:
        if any(m.removeprefix("node:") in _PROCESS_MODULES for m in ctx.imports) or (
            _PROCESS_REQUIRE.search(ctx.source.text)
        ):
            return f"while {ctx.source.path} runs code in several threads or processes"
    return None


# ------------------------------------------------------------------------- fixers' helpers

_STATEMENT_LISTS = frozenset({"program", "statement_block", "switch_case", "switch_default"})


def bound_statement(node: tree_sitter.Node) -> tuple[tree_sitter.Node, str] | None:
    """(statement, name) when ``node`` is the whole value a statement of its own binds to a
    name: ``const db = node;`` / ``export const db = node`` / ``db = node;`` /
    ``this.db = node;`` (through parentheses, ``await`` and type assertions), standing in a
    list of statements and ending its last line (nothing but a comment after it). Else None:
    a class field, a ``return``, one declarator of several, a brace-less ``if`` body."""
    current = node
    while current.parent is not None and current.parent.type in _JS_TRANSPARENT:
        current = current.parent
    parent = current.parent
    if parent is None:
        return None
    if parent.type == "variable_declarator" and parent.child_by_field_name("value") == current:
        target = parent.child_by_field_name("name")
        declaration = parent.parent
        if target is None or target.type != "identifier" or declaration is None:
            return None
        if declaration.type not in {"lexical_declaration", "variable_declaration"}:
            return None
        if len([c for c in declaration.named_children if c.type == "variable_declarator"]) != 1:
            return None
        statement = declaration
        if declaration.parent is not None and declaration.parent.type == "export_statement":
            statement = declaration.parent
        name = node_text(target)
    elif parent.type == "assignment_expression" and parent.child_by_field_name("right") == current:
        target = parent.child_by_field_name("left")
        if target is None or not re.fullmatch(r"[\w$]+(?:\.[\w$]+)*", node_text(target)):
            return None
        if parent.parent is None or parent.parent.type != "expression_statement":
            return None
        statement = parent.parent
        name = node_text(target)
    else:
        return None
    if statement.parent is None or statement.parent.type not in _STATEMENT_LISTS:
        return None
    if not ends_its_line(statement):
        return None
    return statement, name


def ends_its_line(node: tree_sitter.Node) -> bool:
    """Nothing but whitespace or a ``//`` comment follows ``node`` on its last line."""
    root = node
    while root.parent is not None:
        root = root.parent
    source = root.text or b""
    end = source.find(b"\n", node.end_byte)
    rest = source[node.end_byte : end if end >= 0 else len(source)].strip()
    return not rest or rest.startswith(b"//")


def starts_its_line(node: tree_sitter.Node) -> bool:
    """Only whitespace precedes ``node`` on its first line."""
    root = node
    while root.parent is not None:
        root = root.parent
    source = root.text or b""
    start = source.rfind(b"\n", 0, node.start_byte) + 1
    return not source[start : node.start_byte].strip()


def quote_style(root: tree_sitter.Node) -> str:
    """The quote the file writes strings with: that of its first string literal, else '"'."""
    for node in syntax.of_type(root, "string"):
        text = node_text(node)
        if text[:1] in {"'", '"'}:
            return text[0]
    return '"'


def string_literal(value: str, quote: str) -> str:
    """``value`` (no quotes or backslashes in it) as a string literal in ``quote``."""
    return f"{quote}{value}{quote}"


def sqlite_open_at(ctx: FileContext, line: int) -> tuple[tree_sitter.Node, str] | None:
    """(call, module) of the SQLite open (see ``sqlite_opens``) starting on 1-based ``line``
    of the file, when there is exactly one."""
    found = [(call, module) for call, module in sqlite_opens(ctx.root) if syntax.line(call) == line]
    return found[0] if len(found) == 1 else None


def run_pragma(module: str, connection: str, pragma: str, quote: str, semicolon: str) -> str:
    """The statement that runs ``pragma`` ('journal_mode = WAL') on ``connection`` right
    after it is opened with ``module``: better-sqlite3's ``db.pragma("…")``, bun:sqlite's
    ``db.run("PRAGMA …")`` (its ``exec`` is a deprecated alias), else ``db.exec("PRAGMA …")``
    (node:sqlite; sqlite3 and the ``sqlite`` wrapper queue it until the file is open)."""
    if module == "better-sqlite3":
        return f"{connection}.pragma({string_literal(pragma, quote)}){semicolon}"
    method = "run" if module == "bun:sqlite" else "exec"
    return f"{connection}.{method}({string_literal('PRAGMA ' + pragma, quote)}){semicolon}"


def open_option_keys(call: tree_sitter.Node) -> set[str]:
    """Keys of a SQLite open's options objects ('...' for a spread, or for options that are
    not an object literal)."""
    keys: set[str] = set()
    for option in js_arguments(call)[1:]:
        option = unwrap(option)
        keys |= object_keys(option) if option.type == "object" else {"..."}
    return keys
