"""The repository's shared resources and who reads and writes them, from the syntax alone.

``build_index(repo)`` walks each parsed file once (after a cheap text prefilter) and finds:

- ``sql-table``: tables named in SQL string literals (Python, JS/TS, Rust, and .sql files).
  SELECT ... FROM / JOIN reads; INSERT / UPDATE / DELETE / REPLACE / CREATE / ALTER / DROP
  writes.
- ``file-path``: a path built from literals (``root / f"{stage}.json"``, ``os.path.join``,
  ``path.join``, ``dir.join(...)``, ``format!``) reaching a file operation: ``open(p, "w")``,
  ``write_text``, ``os.replace(tmp, p)``, ``fs.writeFileSync``, ``fs::write`` write;
  ``open(p)``, ``read_text``, ``json.load``, ``readFile``, ``fs::read`` read. The path may
  go through a local variable, a helper returning a path (``self._manifest_path(id)``,
  ``dirFor(ws)``) or a helper writing its parameter (``_atomic_write(path, data)``), all
  within one file. A computed part shows as ``*``; an unknown base as its name.
- ``checkpoint-dir``: every directory holding JSON / pickle / checkpoint files of the above,
  with the writers and loaders of anything under it.
- ``lock``, ``queue``, ``websocket-registry``, ``shared-object``: module-level locks,
  queues and mutable collections (Python; JS/TS module-level ``new Map/Set``, arrays), with
  the functions that mutate them (writers) and that only read them. Collections nothing
  mutates are not listed.

Ordering is deterministic: resources by (kind, name), accesses by (path, first line, symbol).
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterator
from dataclasses import dataclass

import tree_sitter

from vibe_audit.chunker.parsing import node_text
from vibe_audit.rules import foreign, syntax
from vibe_audit.rules.context import FileContext, RepoContext
from vibe_audit.schemas import SourceFile
from vibe_audit.schemas.resources import (
    RESOURCE_KINDS,
    Access,
    AccessMode,
    Resource,
    ResourceKind,
    ResourceMap,
)

# ------------------------------------------------------------------------------- SQL

_SQL_WORDS = (
    "SELECT",
    "INSERT",
    "UPDATE",
    "DELETE",
    "REPLACE",
    "CREATE",
    "ALTER",
    "DROP",
    "select ",
    "insert ",
    "update ",
    "delete ",
    "create ",
    "alter ",
)
_OPENING = re.compile(r"""^(?:[rRbBuUfF]{0,2}|r#*)(?:\"\"\"|'''|"|'|`)""")
_STATEMENT_START = re.compile(
    r"^\s*(?:WITH\b|SELECT\b|INSERT\b|UPDATE\b|DELETE\b|REPLACE\b|CREATE\b|ALTER\b|DROP\b)", re.I
)
_NAME = r"[\"`\[]?(\w+(?:\.\w+)?)"
_SQL_ACCESS: tuple[tuple[re.Pattern[str], AccessMode, str], ...] = (
    (re.compile(r"\bINSERT\s+(?:OR\s+\w+\s+)?INTO\s+" + _NAME, re.I), "write", "INSERT"),
    (re.compile(r"\bREPLACE\s+INTO\s+" + _NAME, re.I), "write", "REPLACE"),
    (re.compile(r"\bUPDATE\s+(?:OR\s+\w+\s+)?" + _NAME, re.I), "write", "UPDATE"),
    (re.compile(r"\bDELETE\s+FROM\s+" + _NAME, re.I), "write", "DELETE"),
    (
        re.compile(r"\bCREATE\s+(?:TEMP\w*\s+)?TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?" + _NAME, re.I),
        "write",
        "CREATE",
    ),
    (re.compile(r"\bCREATE\s+(?:UNIQUE\s+)?INDEX\b[^;]*?\bON\s+" + _NAME, re.I), "write", "CREATE"),
    (re.compile(r"\bALTER\s+TABLE\s+(?:IF\s+EXISTS\s+)?" + _NAME, re.I), "write", "ALTER"),
    (re.compile(r"\bDROP\s+TABLE\s+(?:IF\s+EXISTS\s+)?" + _NAME, re.I), "write", "DROP"),
    (re.compile(r"\bTRUNCATE\s+(?:TABLE\s+)?" + _NAME, re.I), "write", "TRUNCATE"),
    (re.compile(r"\bFROM\s+" + _NAME, re.I), "read", "SELECT"),
    (re.compile(r"\bJOIN\s+" + _NAME, re.I), "read", "SELECT"),
)
_CTE = re.compile(
    r"(?:\bWITH\s+(?:RECURSIVE\s+)?|,\s*)(\w+)\s+AS\s*(?:NOT\s+)?(?:MATERIALIZED\s+)?\(", re.I
)
_NOT_TABLES = frozenset(
    {
        "set",
        "select",
        "where",
        "values",
        "skip",
        "nowait",
        "of",
        "cascade",
        "lateral",
        "unnest",
        "generate_series",
        "json_each",
        "dual",
        "if",
        "only",
        "the",
        "a",
        "an",
    }
)
_STRING_TYPES = {
    "python": ("string", "concatenated_string"),
    "javascript": ("string", "template_string"),
    "typescript": ("string", "template_string"),
    "tsx": ("string", "template_string"),
    "rust": ("string_literal", "raw_string_literal"),
}
_FUNCTION_TYPES = {
    "python": frozenset({"function_definition"}),
    "rust": frozenset({"function_item"}),
}


@dataclass(frozen=True)
class _Hit:
    kind: ResourceKind
    name: str
    path: str
    line: int
    mode: AccessMode
    operation: str
    symbol: str | None
    signature: str


def sql_accesses(sql: str) -> list[tuple[int, AccessMode, str, str]]:
    """(offset, mode, operation, table) of every table a SQL text reads or writes."""
    found: list[tuple[int, AccessMode, str, str]] = []
    ctes = {m.group(1).lower() for m in _CTE.finditer(sql)}
    taken: set[int] = set()
    for pattern, mode, operation in _SQL_ACCESS:
        for match in pattern.finditer(sql):
            table = match.group(1).lower()
            before = sql[: match.start()].rstrip().rsplit(None, 1)
            previous = before[-1].upper() if before else ""
            if operation == "UPDATE" and previous in {"FOR", "DO", "ON"}:
                continue
            if operation == "SELECT" and (previous == "DELETE" or match.start(1) in taken):
                continue
            if table in _NOT_TABLES or table in ctes or table.isdigit():
                continue
            taken.add(match.start(1))
            found.append((match.start(1), mode, operation, table))
    return sorted(found)


def _sql_texts(node: tree_sitter.Node) -> str | None:
    """A string literal's raw text when it starts like SQL (after its opening quote)."""
    text = node_text(node)
    opening = _OPENING.match(text)
    body = text[opening.end() :] if opening else text
    return text if _STATEMENT_START.match(body) else None


# ------------------------------------------------------------------------------ files

_FILE_WRITE = {
    # Python
    "write_text": 0, "write_bytes": 0, "unlink": 0, "rmtree": 0, "os.remove": 0,
    "os.unlink": 0, "shutil.rmtree": 0, "os.replace": 1, "os.rename": 1, "shutil.move": 1,
    "shutil.copy": 1, "shutil.copyfile": 1,
    # JavaScript / TypeScript (fs, fs/promises)
    "writeFileSync": 0, "writeFile": 0, "appendFileSync": 0, "appendFile": 0, "rm": 0,
    "rmSync": 0, "unlinkSync": 0, "renameSync": 1, "rename": 1,
    # Rust (std::fs, tokio::fs)
    "fs.write": 0, "File.create": 0, "fs.remove_file": 0, "fs.remove_dir_all": 0,
    "fs.rename": 1, "fs.copy": 1,
}  # fmt: skip
_FILE_READ = {
    "read_text": 0, "read_bytes": 0, "exists": 0, "is_file": 0, "os.path.exists": 0,
    "readFileSync": 0, "readFile": 0, "existsSync": 0, "readdir": 0, "readdirSync": 0,
    "fs.read": 0, "fs.read_to_string": 0, "File.open": 0, "fs.read_dir": 0,
}  # fmt: skip
_STATE_SUFFIXES = (".json", ".jsonl", ".pkl", ".pickle", ".ckpt", ".pt", ".npy", ".msgpack")
_CALL_TYPES = ("call", "call_expression")
_OP_NAMES = frozenset({"open", *(k.rsplit(".", 1)[-1] for k in (*_FILE_WRITE, *_FILE_READ))})


def _short(callee: str) -> str:
    """'tokio::fs::write' -> 'fs.write'; 'await fsp.readFile' -> 'readFile' style keys."""
    name = callee.replace("::", ".").removeprefix("await ").strip()
    parts = [p for p in name.split(".") if p]
    return ".".join(parts[-2:]) if parts else ""


def _file_op(call: tree_sitter.Node) -> tuple[AccessMode, int, str] | None:
    """(mode, index of the path argument, operation) of a call on a file, else None."""
    function = call.child_by_field_name("function")
    if function is None:
        return None
    callee = node_text(function)
    two = _short(callee)
    last = two.rsplit(".", 1)[-1]
    if last == "open" and two in {"open", "io.open", "builtins.open"}:
        mode = _open_mode(call)
        return ("write" if any(c in mode for c in "wax+") else "read"), 0, f"open('{mode}')"
    if two in {"fsp.open", "promises.open"}:  # fs/promises open(path, flags)
        mode = _open_mode(call)
        return ("write" if any(c in mode for c in "wax+") else "read"), 0, f"open('{mode}')"
    if last == "open" and "." in callee and call.type == "call":  # Path.open(mode)
        mode = _open_mode(call, first=0)
        return ("write" if any(c in mode for c in "wax+") else "read"), -1, f"open('{mode}')"
    for table, mode_ in ((_FILE_WRITE, "write"), (_FILE_READ, "read")):
        key = two if two in table else last if last in table else None
        if key is None:
            continue
        index = table[key]
        method = "." in key or key in {"open"}
        if key in {"write_text", "write_bytes", "unlink", "read_text", "read_bytes", "exists",
                   "is_file"}:  # fmt: skip
            if "." not in callee:
                return None
            index, method = -1, True  # the receiver is the path
        del method
        return ("write" if mode_ == "write" else "read"), index, last
    return None


def _open_mode(call: tree_sitter.Node, first: int = 1) -> str:
    args = _arguments(call)
    for arg in args:
        if arg.type == "keyword_argument" and node_text(arg).startswith("mode"):
            value = arg.child_by_field_name("value")
            return _literal(value) or "?" if value is not None else "r"
    positional = [a for a in args if a.type != "keyword_argument"]
    if len(positional) > first:
        return _literal(positional[first]) or "?"
    return "r"


def _arguments(call: tree_sitter.Node) -> list[tree_sitter.Node]:
    args = call.child_by_field_name("arguments")
    if args is None:
        return []
    return [a for a in args.named_children if a.type not in {"comment", "dictionary_splat"}]


def _literal(node: tree_sitter.Node) -> str | None:
    if node.type == "string":
        value = syntax.string_value(node)
        return value or foreign.js_string(node)
    if node.type in {"string_literal", "raw_string_literal"}:
        return foreign.rust_string(node)
    if node.type == "template_string":
        return foreign.js_string(node)
    return None


_INTERPOLATION = re.compile(r"\{[^{}]*\}|\$\{[^{}]*\}")


class _Paths:
    """Evaluates path expressions of one file to patterns ('root/*/manifest.json')."""

    def __init__(self, ctx: FileContext) -> None:
        self.ctx = ctx
        # function name -> (returned expression, parameter names)
        self.functions: dict[str, tree_sitter.Node] = {}  # name -> definition (this file)
        self._helpers: dict[str, tuple[tree_sitter.Node, list[str]] | None] = {}
        self.constants: dict[str, tree_sitter.Node] = {}  # module-level name -> value
        self.depth = 0
        self._evaluating: set[str] = set()  # helpers / constants being expanded (no cycles)

    def pattern(self, node: tree_sitter.Node | None, env: dict[str, str | None]) -> str | None:
        if node is None or self.depth > 8:
            return None
        self.depth += 1
        try:
            return self._pattern(node, env)
        finally:
            self.depth -= 1

    def _pattern(self, node: tree_sitter.Node, env: dict[str, str | None]) -> str | None:
        kind = node.type
        if kind in {"parenthesized_expression", "await_expression", "reference_expression",
                    "await", "non_null_expression", "as_expression"}:  # fmt: skip
            inner = [c for c in node.named_children if c.type != "type_identifier"]
            return self.pattern(inner[-1], env) if inner else None
        if kind in {"string", "template_string", "string_literal", "raw_string_literal"}:
            text = node_text(node)
            opening = _OPENING.match(text)
            body = text[opening.end() :] if opening else text
            body = body.rstrip("\"'`#")
            return _INTERPOLATION.sub("*", body) or None
        if kind == "macro_invocation":  # format!("{stage}.json")
            name = node.child_by_field_name("macro")
            if name is not None and node_text(name) == "format":
                strings = list(syntax.of_type(node, "string_literal"))
                return self.pattern(strings[0], env) if strings else None
            return None
        if kind == "binary_operator":
            operator = node.child_by_field_name("operator")
            if operator is not None and node_text(operator) == "/":
                return _join(
                    self.pattern(node.child_by_field_name("left"), env),
                    self.pattern(node.child_by_field_name("right"), env),
                )
            return None
        if kind in {"identifier", "attribute", "member_expression", "field_expression",
                    "self", "this"}:  # fmt: skip
            return self._name(node_text(node), kind, env)
        if kind in {"call", "call_expression"}:
            return self._call(node, env)
        return None

    def _name(self, name: str, kind: str, env: dict[str, str | None]) -> str | None:
        if name in env:
            return env[name]
        if name in self.constants and name not in self._evaluating:
            self._evaluating.add(name)
            try:
                value = self.pattern(self.constants[name], {})
            finally:
                self._evaluating.discard(name)
            # A constant built from literals is shown expanded, else by its name.
            return value if value is not None and "{" not in value else _base(name)
        if kind == "attribute" and name.endswith(".parent"):
            return _base(name.split("(")[0].rsplit(".", 1)[0])
        return _base(name)

    def _call(self, call: tree_sitter.Node, env: dict[str, str | None]) -> str | None:
        function = call.child_by_field_name("function")
        if function is None:
            return None
        callee = node_text(function).replace("::", ".")
        last = callee.rsplit(".", 1)[-1]
        args = [a for a in _arguments(call) if a.type != "keyword_argument"]
        if callee in {"os.path.join", "path.join", "path.resolve", "posixpath.join"} or (
            last in {"Path", "PurePath", "PosixPath"} and args
        ):
            parts = [self.pattern(a, env) for a in args]
            return _join(*parts) if parts else None
        if last in {"str", "String", "to_string", "toString", "int"} and len(args) <= 1:
            return "*"
        if last == "join" and function.type == "field_expression":  # Rust: dir.join(x)
            receiver = function.child_by_field_name("value")
            return _join(self.pattern(receiver, env), *(self.pattern(a, env) for a in args))
        if last in {"resolve", "absolute", "expanduser", "as_path", "to_path_buf", "clone"}:
            receiver = function.child_by_field_name("object") or function.child_by_field_name(
                "value"
            )
            return self.pattern(receiver, env) if receiver is not None else None
        helper = self._helper(last)
        if helper is not None and last not in self._evaluating:
            self._evaluating.add(last)
            returned, params = helper
            try:
                return self.pattern(returned, dict.fromkeys(params, "*"))
            finally:
                self._evaluating.discard(last)
        return "*"  # a value computed by a call the index does not follow

    def _helper(self, name: str) -> tuple[tree_sitter.Node, list[str]] | None:
        """(returned expression, parameters) of a one-return function of this file."""
        if name not in self._helpers:
            function = self.functions.get(name) if name else None
            returned = _returned(function) if function is not None else None
            self._helpers[name] = (returned, _params(function)) if returned and function else None
        return self._helpers[name]


def _base(name: str) -> str:
    return "{" + name.removeprefix("self.").removeprefix("this.") + "}"


def _join(*parts: str | None) -> str | None:
    known = [p for p in parts if p is not None]
    if len(known) != len(parts) or not known:
        return None
    joined = posixpath.join(*known) if known else ""
    return joined.replace("/./", "/")


# ------------------------------------------------------------------------------ build


def build_index(repo: RepoContext) -> ResourceMap:
    """The resource map of a repository (see the module docstring)."""
    hits: list[_Hit] = []
    for ctx in repo.files:
        hits += _file_hits(ctx)
    sql_files = [s for s in repo.other_sources if s.path.endswith(".sql")]
    for source in sql_files:
        hits += _sql_file_hits(source)
    lines = {ctx.source.path: ctx.lines for ctx in repo.files}
    lines |= {s.path: s.text.splitlines() for s in repo.other_sources}
    return _assemble(hits, len(repo.files) + len(sql_files), lines)


def _file_hits(ctx: FileContext) -> list[_Hit]:
    language = ctx.source.language
    if language not in _STRING_TYPES:
        return []
    text = ctx.source.text
    found: list[_Hit] = []
    if any(word in text for word in _SQL_WORDS):
        found += _sql_hits(ctx)
    found += _path_hits(ctx)
    if language == "python":
        found += _python_object_hits(ctx)
    elif language in foreign.JS_LANGUAGES:
        found += _js_object_hits(ctx)
    return found


def _symbol(ctx: FileContext, node: tree_sitter.Node) -> tuple[str | None, str]:
    """(qualified symbol, signature line) of the function or method around ``node``."""
    language = ctx.source.language
    if language == "python":
        function = syntax.enclosing(node, "function_definition")
        symbol = syntax.qualified_name(function) if function is not None else None
    elif language == "rust":
        function = syntax.enclosing(node, "function_item")
        symbol = (
            ".".join(
                filter(None, [foreign.rust_symbol(function), foreign.rust_function_name(function)])
            )
            if function is not None
            else None
        )
    else:
        return _js_symbol(ctx, node)
    if function is None:
        return None, ""
    return symbol, ctx.lines[function.start_point.row].strip()


def _js_symbol(ctx: FileContext, node: tree_sitter.Node) -> tuple[str | None, str]:
    """A JS/TS access's symbol: the named function around it, else the variable a wrapped
    callback is assigned to (``const createNote = db.transaction((x) => ...)``), else the
    ``variable.key`` of a module-level object property (``stmts.insert``)."""
    function = foreign.enclosing_function(node)
    anonymous = None
    while function is not None:
        name = foreign.js_function_name(function)
        if name == "<anonymous>":
            name = _declared_through_call(function)
        if name != "<anonymous>":
            outer = foreign.js_symbol(function)
            symbol = f"{outer}.{name}" if outer else name
            return symbol, ctx.lines[function.start_point.row].strip()
        anonymous = anonymous or function
        function = foreign.enclosing_function(function)
    pair = syntax.enclosing(node, "pair")
    declarator = syntax.enclosing(node, "variable_declarator")
    if pair is not None and declarator is not None:
        key, variable = pair.child_by_field_name("key"), declarator.child_by_field_name("name")
        if key is not None and variable is not None:
            symbol = f"{node_text(variable)}.{node_text(key)}"
            return symbol, ctx.lines[pair.start_point.row].strip()
    if anonymous is not None:
        return None, ctx.lines[anonymous.start_point.row].strip()
    return None, ""


def _declared_through_call(function: tree_sitter.Node) -> str:
    """``name`` of ``const name = wrap((...) => ...)``, else '<anonymous>'."""
    args = function.parent
    call = args.parent if args is not None and args.type == "arguments" else None
    declarator = call.parent if call is not None else None
    if declarator is not None and declarator.type == "variable_declarator":
        name = declarator.child_by_field_name("name")
        if name is not None:
            return node_text(name)
    return "<anonymous>"


def _named_js_function(node: tree_sitter.Node) -> tree_sitter.Node | None:
    """The nearest enclosing JS/TS function that has a name (callbacks are skipped)."""
    current = foreign.enclosing_function(node)
    while current is not None and foreign.js_function_name(current) == "<anonymous>":
        current = foreign.enclosing_function(current)
    return current


def _hit(
    ctx: FileContext,
    node: tree_sitter.Node,
    kind: ResourceKind,
    name: str,
    mode: AccessMode,
    operation: str,
    line: int | None = None,
) -> _Hit:
    symbol, signature = _symbol(ctx, node)
    return _Hit(
        kind, name, ctx.source.path, line or syntax.line(node), mode, operation, symbol, signature
    )


def _sql_hits(ctx: FileContext) -> list[_Hit]:
    found = []
    for node in syntax.of_type(ctx.root, *_STRING_TYPES[ctx.source.language]):
        parent = node.parent
        if parent is not None and parent.type == "concatenated_string":
            continue  # read with its siblings
        if parent is not None and parent.type == "expression_statement":
            continue  # a docstring
        text = _sql_texts(node) if node.type != "concatenated_string" else _concatenated(node)
        if text is None:
            continue
        for offset, mode, operation, table in sql_accesses(text):
            line = syntax.line(node) + text.count("\n", 0, offset)
            found.append(_hit(ctx, node, "sql-table", table, mode, operation, line))
    return found


def _concatenated(node: tree_sitter.Node) -> str | None:
    """Adjacent Python literals as one text, keeping each part on its own source line."""
    parts: list[str] = []
    row = node.start_point.row
    for child in node.named_children:
        parts.append("\n" * (child.start_point.row - row))
        row = child.start_point.row
        value = syntax.string_value(child)
        if value is None:
            return None
        parts.append(value.replace("\n", " "))
    text = "".join(parts)
    return text if _STATEMENT_START.match(text.lstrip("\n")) else None


def _sql_file_hits(source: SourceFile) -> list[_Hit]:
    found = []
    for offset, mode, operation, table in sql_accesses(source.text):
        line = source.text.count("\n", 0, offset) + 1
        found.append(_Hit("sql-table", table, source.path, line, mode, operation, None, ""))
    return found


# -------------------------------------------------------------------------- file paths

_PATH_WORDS = (
    "open",
    "write_text",
    "read_text",
    "write_bytes",
    "read_bytes",
    "replace",
    "rename",
    "rmtree",
    "unlink",
    "writeFile",
    "readFile",
    "existsSync",
    "fs::",
    "File::",
    "remove",
)


def _functions(ctx: FileContext) -> list[tree_sitter.Node]:
    language = ctx.source.language
    if language in _FUNCTION_TYPES:
        return list(syntax.of_type(ctx.root, *_FUNCTION_TYPES[language]))
    return list(syntax.of_type(ctx.root, *sorted(foreign.JS_FUNCTION_TYPES)))


def _params(function: tree_sitter.Node) -> list[str]:
    params = function.child_by_field_name("parameters")
    if params is None:
        single = function.child_by_field_name("parameter")  # JS: x => ...
        return [node_text(single)] if single is not None else []
    names = []
    for param in params.named_children:
        if param.type in {"identifier", "self"}:
            names.append(node_text(param))
            continue
        target = param.child_by_field_name("pattern") or param.child_by_field_name("name")
        if target is None and param.named_children:
            target = param.named_children[0]
        if target is not None:
            names.append(node_text(target).lstrip("&").removeprefix("mut "))
    return [n for n in names if n not in {"self", "&self", "&mut self", "cls"}]


def _returned(function: tree_sitter.Node) -> tree_sitter.Node | None:
    """The expression a one-return helper returns (an arrow's expression body too)."""
    body = function.child_by_field_name("body")
    if body is None:
        return None
    if function.type == "arrow_function" and body.type != "statement_block":
        return body
    returns = [
        r for r in syntax.walk(body, stop_at=frozenset({*_all_function_types()}))
        if r.type in {"return_statement", "return_expression"}
    ]  # fmt: skip
    if len(returns) == 1 and returns[0].named_children:
        return returns[0].named_children[0]
    if body.named_children and function.type == "function_item":  # Rust tail expression
        tail = body.named_children[-1]
        if tail.type not in {"expression_statement", "let_declaration"}:
            return tail
    return None


def _all_function_types() -> frozenset[str]:
    return frozenset({"function_definition", "function_item", *foreign.JS_FUNCTION_TYPES})


def _path_hits(ctx: FileContext) -> list[_Hit]:
    if not any(word in ctx.source.text for word in _PATH_WORDS):
        return []
    calls = list(syntax.of_type(ctx.root, *_CALL_TYPES))
    ops = []
    for call in calls:
        function = call.child_by_field_name("function")
        if function is None:
            continue
        if _short(node_text(function)).rsplit(".", 1)[-1] not in _OP_NAMES:
            continue  # cheap test before looking at the call's arguments
        op = _file_op(call)
        target = _op_target(call, op[1]) if op is not None else None
        if op is not None and target is not None:
            ops.append((call, target, op[0], op[2]))
    if not ops:
        return []
    paths = _Paths(ctx)
    functions = _functions(ctx)
    paths.functions = {_function_key(f): f for f in functions}
    by_id = {f.id: f for f in functions}
    for node in ctx.root.named_children:
        for value_name, value in _module_values(node):
            paths.constants[value_name] = value
    # Helpers writing or reading a parameter: name -> {argument index: (mode, operation)}.
    param_ops: dict[str, dict[int, tuple[AccessMode, str]]] = {}
    found: list[_Hit] = []
    for call, target, mode, operation in ops:
        owner = by_id.get(_function_id(call) or -1)
        params = _params(owner) if owner is not None else []
        name = node_text(target)
        if owner is not None and name in params and name not in _assigned(owner):
            param_ops.setdefault(_function_key(owner), {})[params.index(name)] = (mode, operation)
            continue
        pattern = _locals_pattern(paths, owner, target, dict.fromkeys(params, "*"))
        if pattern is not None and _is_path(pattern):
            found.append(_hit(ctx, call, "file-path", pattern, mode, operation))
    param_ops.pop("", None)
    if not param_ops:
        return found
    for call in calls:
        fn = call.child_by_field_name("function")
        key = node_text(fn).replace("::", ".").rsplit(".", 1)[-1] if fn is not None else ""
        if key not in param_ops:
            continue
        owner = by_id.get(_function_id(call) or -1)
        env: dict[str, str | None] = dict.fromkeys(_params(owner), "*") if owner else {}
        args = [a for a in _arguments(call) if a.type != "keyword_argument"]
        for index, (mode, _operation) in sorted(param_ops[key].items()):
            if index < len(args):
                pattern = _locals_pattern(paths, owner, args[index], env)
                if pattern is not None and _is_path(pattern):
                    found.append(_hit(ctx, call, "file-path", pattern, mode, f"{key}()"))
    return found


def _function_key(function: tree_sitter.Node) -> str:
    if function.type in {"function_definition", "function_item"}:
        name = function.child_by_field_name("name")
        return node_text(name) if name is not None else ""
    js_name = foreign.js_function_name(function)
    return "" if js_name == "<anonymous>" else js_name


def _module_values(node: tree_sitter.Node) -> Iterator[tuple[str, tree_sitter.Node]]:
    """(name, value) of module-level assignments and const declarations."""
    if node.type == "export_statement" and node.named_children:
        node = node.named_children[-1]
    if node.type == "expression_statement" and node.named_children:
        node = node.named_children[0]
    if node.type == "assignment":
        left, right = node.child_by_field_name("left"), node.child_by_field_name("right")
        if left is not None and right is not None and left.type == "identifier":
            yield node_text(left), right
    elif node.type in {"lexical_declaration", "variable_declaration"}:
        for declarator in node.named_children:
            if declarator.type != "variable_declarator":
                continue
            name, value = (
                declarator.child_by_field_name("name"),
                declarator.child_by_field_name("value"),
            )
            if name is not None and value is not None and name.type == "identifier":
                yield node_text(name), value
    elif node.type in {"const_item", "static_item"}:
        name, value = node.child_by_field_name("name"), node.child_by_field_name("value")
        if name is not None and value is not None:
            yield node_text(name), value


def _enclosing_function(node: tree_sitter.Node) -> tree_sitter.Node | None:
    return syntax.enclosing(node, *_all_function_types())


def _function_id(node: tree_sitter.Node) -> int | None:
    function = _enclosing_function(node)
    return function.id if function is not None else None


def _op_target(call: tree_sitter.Node, index: int) -> tree_sitter.Node | None:
    """The path expression of a file operation: an argument, or the receiver (-1)."""
    if index < 0:
        fn = call.child_by_field_name("function")
        if fn is None:
            return None
        return fn.child_by_field_name("object") or fn.child_by_field_name("value")
    args = [a for a in _arguments(call) if a.type != "keyword_argument"]
    return args[index] if index < len(args) else None


def _assigned(function: tree_sitter.Node) -> set[str]:
    names = set()
    for node in syntax.of_type(function, "assignment", "variable_declarator", "let_declaration"):
        if True:
            left = (
                node.child_by_field_name("left")
                or node.child_by_field_name("name")
                or node.child_by_field_name("pattern")
            )
            if left is not None:
                names.add(node_text(left))
    return names


def _locals_pattern(
    paths: _Paths,
    function: tree_sitter.Node | None,
    target: tree_sitter.Node,
    env: dict[str, str | None],
) -> str | None:
    """The pattern of ``target`` in ``function``: local names resolve to their last
    assignment before the use (parameters stay unknown)."""
    local: dict[str, str | None] = dict(env)
    if function is None:
        return paths.pattern(target, local)
    for node in syntax.of_type(function, "assignment", "variable_declarator", "let_declaration"):
        if node.start_byte >= target.start_byte:
            break
        if node.type in {"assignment", "variable_declarator", "let_declaration"}:
            left = (
                node.child_by_field_name("left")
                or node.child_by_field_name("name")
                or node.child_by_field_name("pattern")
            )
            right = node.child_by_field_name("right") or node.child_by_field_name("value")
            if left is not None and right is not None and left.type == "identifier":
                local[node_text(left)] = paths.pattern(right, local)
    return paths.pattern(target, local)


def _is_path(pattern: str) -> bool:
    """Worth following: a literal part, or a directory part (a computed file in a known
    folder); temp files of an atomic write are not resources."""
    return ("/" in pattern or _is_resource(pattern)) and not pattern.endswith(".tmp")


def _is_resource(pattern: str) -> bool:
    """A path with at least one literal part (not a bare variable or a lone '*')."""
    stripped = re.sub(r"\{[^}]*\}|\*", "", pattern).strip("/.")
    return bool(stripped)


# -------------------------------------------------------------------- shared objects

_MUTATORS = frozenset(
    {
        "append",
        "add",
        "pop",
        "popitem",
        "update",
        "clear",
        "remove",
        "discard",
        "setdefault",
        "extend",
        "insert",
        "put",
        "put_nowait",
        "get_nowait",
        "appendleft",
        "popleft",
        "set",
        "delete",
        "push",
        "shift",
        "unshift",
        "splice",
        "acquire",
        "release",
        "__setitem__",
    }
)
_LOCK_FACTORIES = frozenset({"Lock", "RLock", "Semaphore", "BoundedSemaphore", "Condition"})
_QUEUE_FACTORIES = frozenset({"Queue", "SimpleQueue", "LifoQueue", "PriorityQueue", "deque"})
_COLLECTION_FACTORIES = frozenset(
    {
        "dict",
        "list",
        "set",
        "defaultdict",
        "OrderedDict",
        "Counter",
        "WeakValueDictionary",
        "WeakSet",
        "Map",
        "Set",
        "WeakMap",
    }
)
_REGISTRY_NAME = re.compile(r"client|socket|conn|(^|_)ws|subscriber|peer|listener", re.I)


def _object_kind(name: str, value: tree_sitter.Node) -> ResourceKind | None:
    kind = value.type
    if kind in {"call", "new_expression"}:
        function = value.child_by_field_name("function") or value.child_by_field_name("constructor")
        factory = node_text(function).rsplit(".", 1)[-1] if function is not None else ""
        if factory in _LOCK_FACTORIES:
            return "lock"
        if factory in _QUEUE_FACTORIES:
            return "queue"
        if factory not in _COLLECTION_FACTORIES:
            return None
    elif kind not in {"dictionary", "list", "set", "array", "object"}:
        return None
    return "websocket-registry" if _REGISTRY_NAME.search(name) else "shared-object"


def _python_object_hits(ctx: FileContext) -> list[_Hit]:
    candidates: dict[str, ResourceKind] = {}
    for node in ctx.root.named_children:
        for name, value in _module_values(node):
            if name.isupper() and value.type in {"dictionary", "list", "set"}:
                continue  # a constant table, by convention
            kind = _object_kind(name, value)
            if kind is not None:
                candidates[name] = kind
            elif value.type == "none":
                candidates.setdefault(name, "shared-object")  # a lazily set global
    if not candidates:
        return []
    found: list[_Hit] = []
    globals_written: dict[int, set[str]] = {}
    for statement in syntax.of_type(ctx.root, "global_statement"):
        function = syntax.enclosing(statement, "function_definition")
        if function is not None:
            names = {node_text(n) for n in statement.named_children}
            globals_written.setdefault(function.id, set()).update(names)
    for ident in _identifiers(ctx, candidates):
        name = node_text(ident)
        if name not in candidates or (ident.parent and ident.parent.type == "global_statement"):
            continue
        function = syntax.enclosing(ident, "function_definition")
        if function is None:
            continue
        mode, operation = _python_use(ident, name in globals_written.get(function.id, set()))
        found.append(_hit(ctx, ident, candidates[name], f"{ctx.source.path}:{name}", mode,
                          operation))  # fmt: skip
    writers = {h.name for h in found if h.mode == "write"}
    return [
        h for h in found if h.kind in {"lock", "queue", "websocket-registry"} or h.name in writers
    ]


def _identifiers(ctx: FileContext, names: dict[str, ResourceKind]) -> list[tree_sitter.Node]:
    """Identifier nodes spelling one of ``names``: found by a text search, then located in
    the tree (cheaper than visiting every identifier of a large file)."""
    data = ctx.source.text.encode("utf-8")
    pattern = re.compile(
        rb"\b(" + b"|".join(re.escape(n.encode()) for n in sorted(names)) + rb")\b"
    )
    found = []
    for match in pattern.finditer(data):
        node = ctx.root.named_descendant_for_byte_range(match.start(), match.end())
        if node is not None and node.type == "identifier" and node.start_byte == match.start():
            found.append(node)
    return found


def _python_use(ident: tree_sitter.Node, declared_global: bool) -> tuple[AccessMode, str]:
    parent = ident.parent
    if parent is None:
        return "read", "read"
    if parent.type == "assignment" and parent.child_by_field_name("left") == ident:
        return ("write", "assign") if declared_global else ("read", "read")
    if parent.type == "attribute" and parent.child_by_field_name("object") == ident:
        attr = parent.child_by_field_name("attribute")
        method = node_text(attr) if attr is not None else ""
        grand = parent.parent
        if method in _MUTATORS and grand is not None and grand.type == "call":
            return "write", f".{method}()"
        return "read", f".{method}"
    if parent.type == "subscript" and parent.child_by_field_name("value") == ident:
        grand = parent.parent
        if grand is not None and (
            (grand.type in {"assignment", "augmented_assignment"}
             and grand.child_by_field_name("left") == parent)
            or grand.type == "delete_statement"
        ):  # fmt: skip
            return "write", "[...] ="
        return "read", "[...]"
    if parent.type == "with_item":
        return "write", "with"
    if parent.type == "augmented_assignment" and declared_global:
        return "write", "assign"
    return "read", "read"


def _js_object_hits(ctx: FileContext) -> list[_Hit]:
    candidates: dict[str, ResourceKind] = {}
    for node in ctx.root.named_children:
        for name, value in _module_values(node):
            kind = _object_kind(name, foreign.unwrap(value))
            if kind is not None and not (name.isupper() and value.type in {"array", "object"}):
                candidates[name] = kind
    if not candidates:
        return []
    found: list[_Hit] = []
    for ident in _identifiers(ctx, candidates):
        name = node_text(ident)
        if name not in candidates or _named_js_function(ident) is None:
            continue
        parent = ident.parent
        mode: AccessMode = "read"
        operation = "read"
        if parent is not None and parent.type == "member_expression":
            prop = parent.child_by_field_name("property")
            method = node_text(prop) if prop is not None else ""
            grand = parent.parent
            if method in _MUTATORS and grand is not None and grand.type == "call_expression":
                mode, operation = "write", f".{method}()"
            else:
                operation = f".{method}"
        found.append(_hit(ctx, ident, candidates[name], f"{ctx.source.path}:{name}", mode,
                          operation))  # fmt: skip
    writers = {h.name for h in found if h.mode == "write"}
    return [h for h in found if h.kind in {"lock", "queue"} or h.name in writers]


# --------------------------------------------------------------------------- assemble


def _assemble(hits: list[_Hit], files: int, sources: dict[str, list[str]]) -> ResourceMap:
    hits = hits + _checkpoint_dirs(hits)
    hits = [h for h in hits if h.kind != "file-path" or _is_resource(h.name)]
    grouped: dict[tuple[ResourceKind, str], dict[tuple[str, str | None, AccessMode], list[_Hit]]]
    grouped = {}
    for hit in hits:
        key = (hit.path, hit.symbol, hit.mode)
        grouped.setdefault((hit.kind, hit.name), {}).setdefault(key, []).append(hit)
    resources = []
    for (kind, name), by_symbol in grouped.items():
        accesses = []
        for (path, symbol, mode), group in by_symbol.items():
            lines = sorted({h.line for h in group})
            accesses.append(
                Access(
                    path=path,
                    symbol=symbol,
                    mode=mode,
                    lines=lines,
                    signature=group[0].signature,
                    text=[_line(sources, path, n) for n in lines],
                    operations=sorted({h.operation for h in group}),
                )
            )
        accesses.sort(key=lambda a: (a.path, a.lines[0], a.symbol or ""))
        resources.append(
            Resource(
                name=name,
                kind=kind,
                writers=[a for a in accesses if a.mode == "write"],
                readers=[a for a in accesses if a.mode == "read"],
            )
        )
    order = {k: i for i, k in enumerate(RESOURCE_KINDS)}
    resources.sort(key=lambda r: (order[r.kind], r.name))
    return ResourceMap(files=files, resources=resources)


def _checkpoint_dirs(hits: list[_Hit]) -> list[_Hit]:
    """A checkpoint-dir hit for every file-path hit under a directory that holds state files."""
    files = [h for h in hits if h.kind == "file-path"]
    directories = sorted(
        {posixpath.dirname(h.name) for h in files if h.name.endswith(_STATE_SUFFIXES)} - {""}
    )
    out = []
    for directory in directories:
        for hit in files:
            if hit.name == directory or hit.name.startswith(directory + "/"):
                out.append(
                    _Hit(
                        "checkpoint-dir",
                        directory,
                        hit.path,
                        hit.line,
                        hit.mode,
                        hit.operation,
                        hit.symbol,
                        hit.signature,
                    )
                )
    return out


def _line(sources: dict[str, list[str]], path: str, number: int) -> str:
    lines = sources.get(path, [])
    return lines[number - 1].strip() if 0 < number <= len(lines) else ""
