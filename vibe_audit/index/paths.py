"""File paths and checkpoint directories: path expressions evaluated to patterns
(``{root}/*/manifest.json``) and the file operations that write or read them."""

from __future__ import annotations

import posixpath
import re

import tree_sitter

from vibe_audit.chunker.parsing import node_text
from vibe_audit.index.hits import OPENING, Touch, arguments, literal, module_values, touch
from vibe_audit.rules import js, syntax
from vibe_audit.rules.context import FileContext
from vibe_audit.schemas.resources import AccessMode

_FUNCTION_TYPES = {
    "python": frozenset({"function_definition"}),
    "rust": frozenset({"function_item"}),
}

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
STATE_SUFFIXES = (".json", ".jsonl", ".pkl", ".pickle", ".ckpt", ".pt", ".npy", ".msgpack")
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
    args = arguments(call)
    for arg in args:
        if arg.type == "keyword_argument" and node_text(arg).startswith("mode"):
            value = arg.child_by_field_name("value")
            return literal(value) or "?" if value is not None else "r"
    positional = [a for a in args if a.type != "keyword_argument"]
    if len(positional) > first:
        return literal(positional[first]) or "?"
    return "r"


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
            opening = OPENING.match(text)
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
        args = [a for a in arguments(call) if a.type != "keyword_argument"]
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
    return list(syntax.of_type(ctx.root, *sorted(js.JS_FUNCTION_TYPES)))


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
    return frozenset({"function_definition", "function_item", *js.JS_FUNCTION_TYPES})


def path_hits(ctx: FileContext) -> list[Touch]:
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
        for value_name, value in module_values(node):
            paths.constants[value_name] = value
    # Helpers writing or reading a parameter: name -> {argument index: (mode, operation)}.
    param_ops: dict[str, dict[int, tuple[AccessMode, str]]] = {}
    found: list[Touch] = []
    for call, target, mode, operation in ops:
        owner = by_id.get(_function_id(call) or -1)
        params = _params(owner) if owner is not None else []
        name = node_text(target)
        if owner is not None and name in params and name not in _assigned(owner):
            param_ops.setdefault(_function_key(owner), {})[params.index(name)] = (mode, operation)
            continue
        pattern = _locals_pattern(paths, owner, target, dict.fromkeys(params, "*"))
        if pattern is not None and _is_path(pattern):
            found.append(touch(ctx, call, "file-path", pattern, mode, operation))
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
        args = [a for a in arguments(call) if a.type != "keyword_argument"]
        for index, (mode, _operation) in sorted(param_ops[key].items()):
            if index < len(args):
                pattern = _locals_pattern(paths, owner, args[index], env)
                if pattern is not None and _is_path(pattern):
                    found.append(touch(ctx, call, "file-path", pattern, mode, f"{key}()"))
    return found


def _function_key(function: tree_sitter.Node) -> str:
    if function.type in {"function_definition", "function_item"}:
        name = function.child_by_field_name("name")
        return node_text(name) if name is not None else ""
    js_name = js.js_function_name(function)
    return "" if js_name == "<anonymous>" else js_name


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
    args = [a for a in arguments(call) if a.type != "keyword_argument"]
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
    return ("/" in pattern or is_resource(pattern)) and not pattern.endswith(".tmp")


def is_resource(pattern: str) -> bool:
    """A path with at least one literal part (not a bare variable or a lone '*')."""
    stripped = re.sub(r"\{[^}]*\}|\*", "", pattern).strip("/.")
    return bool(stripped)
