"""A value formatted into the SQL text instead of bound as a parameter (Rust).

What it finds:
    A ``SELECT``/``INSERT``/``UPDATE``/``DELETE``/``REPLACE``/``WITH`` statement built with
    ``format!`` (or a ``String`` grown with ``push_str`` / ``+=`` / ``+``) and run with
    rusqlite (``conn.execute``, ``execute_batch``, ``prepare``, ``prepare_cached``,
    ``query_row``, ``query_one``) or sqlx (``sqlx::query(&sql)``, ``query_as``,
    ``query_scalar``, ``raw_sql``), in a non-test function of a file using a SQL crate,
    where a variable lands in a value position of the SQL: inside quotes
    (``WHERE name = '{name}'``, ``SET title = "{}"``), or, for an argument of the function,
    right after a comparison (``WHERE id = {id}``, ``LIKE {pattern}``; reported at MEDIUM:
    unquoted, callers pass numbers there). Identifiers (``FROM {table}``, ``FROM "{}"``,
    values named like ``table`` / ``column``), placeholder lists (``vec!["?"; n].join(",")``,
    names like ``placeholders``), constants, numbers (parameters and locals typed ``i64``,
    ``usize``..., ``.len()``), loop variables over a literal array and values passed through
    ``.replace('\\'', "''")`` or a quoting function are not flagged; neither are PRAGMA
    and DDL statements, which cannot take parameters.

Why it matters:
    The value becomes SQL. A name with an apostrophe (``O'Brien``) breaks the statement,
    and a value from a request, a file or a command-line argument can rewrite it
    (``' OR '1'='1``): read every row, or with ``execute_batch`` run any statement. Bound
    parameters (``?1``, ``$1``) are never parsed as SQL, and the prepared statement can be
    cached and reused.

Example:
    fn find_user(conn: &Connection, name: &str) -> rusqlite::Result<i64> {
        conn.query_row(&format!("SELECT id FROM users WHERE name = '{name}'"), [], |r| r.get(0))
    }

Use instead:
    fn find_user(conn: &Connection, name: &str) -> rusqlite::Result<i64> {
        conn.query_row("SELECT id FROM users WHERE name = ?1", [name], |r| r.get(0))
    }
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, replace

import tree_sitter

from vibe_audit.chunker.parsing import node_text
from vibe_audit.rules import rust, syntax
from vibe_audit.rules.base import Hit, Rule, node_hit
from vibe_audit.rules.builtin import sqlite_value_formatted_into_sql as sibling
from vibe_audit.rules.context import FileContext
from vibe_audit.schemas import Severity

# sqlite-value-formatted-into-sql's rule, with only what differs here.
META = sibling.META.model_copy(
    update={
        "id": "rust-sql-value-formatted-into-sql",
        "title": "Value formatted into SQL text instead of a bound parameter (Rust)",
        "fix": (
            "Put a placeholder where the value goes and pass the value separately:\n"
            '    conn.query_row("SELECT id FROM users WHERE name = ?1", [name], |r| r.get(0))\n'
            '    sqlx::query("SELECT id FROM users WHERE name = $1").bind(name)\n'
            "For a variable number of values, build only the placeholders: "
            '`vec!["?"; ids.len()].join(",")`, then bind each value.'
        ),
        "languages": ["rust"],
    }
)

_SQL_CRATE = re.compile(r"\b(rusqlite|sqlx|tokio_rusqlite|r2d2_sqlite|deadpool_sqlite|libsql)\b")
# rusqlite Connection / Transaction methods whose first argument is the SQL text.
_RUN_METHODS = frozenset(
    {"execute", "execute_batch", "prepare", "prepare_cached", "query_row", "query_row_and_then",
     "query_one"}
)  # fmt: skip
_SQLX_FUNCTIONS = rust.QUERY_FUNCTIONS | {"raw_sql"}
_FORMAT_MACROS = frozenset({"format"})
_DML = re.compile(r"^\W*(SELECT|INSERT|UPDATE|DELETE|REPLACE|WITH)\b", re.I)
_HOLE = "\x00"
_COMPARED = re.compile(r"(?:[=<>]|\b(?:LIKE|GLOB|MATCH|IS|IS\s+NOT))\s*$", re.I)
# A quoted name where SQLite expects a table (``FROM 'events'`` is accepted as a name).
_NAMES_TABLE = re.compile(r"\b(FROM|JOIN|INTO|UPDATE|TABLE|EXISTS|ON|AS)\s*$", re.I)
# Before a double-quoted hole: a value position (``SET name = "{}"``, ``VALUES ("{}"``).
_DOUBLE_VALUE = re.compile(r"(?:[=<>]|\b(?:LIKE|GLOB|IN|VALUES)\s*\(?|\(\s*|,\s*)\s*$", re.I)
_SAFE_NAME = re.compile(r"placeholder|qmark|marks|quote|escape|bind|holders", re.I)
_IDENTIFIER_NAME = re.compile(
    r"(^|_)(table|tbl|column|col|index|view|trigger|schema|db|database|alias)s?(_|$)",
    re.I,
)
_CONSTANT = re.compile(r"(^|::|\.)[A-Z][A-Z0-9_]*$")
_NUMERIC_TYPE = re.compile(
    r"^&?\s*(mut\s+)?(i8|i16|i32|i64|i128|isize|u8|u16|u32|u64|u128|usize|f32|f64|bool|"
    r"Uuid|(\w+::)*(NaiveDate|NaiveDateTime|NaiveTime|DateTime<[^>]*>|Duration|SystemTime|"
    r"Instant|Ipv4Addr|Ipv6Addr|IpAddr|NonZero\w+))$"
)
_NUMERIC_VALUE = re.compile(
    r"\.len\(\)$|\bas\s+(i|u|f)\d+$|\bas\s+(usize|isize)$|^\d[\d_]*(\.\d+)?(_?[iuf]\d+)?$|"
    r"\.(timestamp|timestamp_millis|as_secs|as_millis|count|to_rfc3339|year|month|day)\(\)$|"
    r"\.format\(\"[^\"]*%[^\"]*\"\)$|^(true|false)$|\.is_\w+\(\)$",
)
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "0": "\0", "\\": "\\", "'": "'", '"': '"'}


class _Env(dict[str, str]):
    """The file's string constants, and the pieces pushed onto each local ``Vec`` of the
    function (``fields.push(format!("name = '{}'", name))``, later ``fields.join(", ")``)."""

    vectors: dict[str, list[list[_Piece]]]

    def __init__(self, constants: dict[str, str]) -> None:
        super().__init__(constants)
        self.vectors = {}


@dataclass(frozen=True)
class _Piece:
    text: str | None  # literal SQL text, or None for a hole
    value: str = ""  # the source text of the formatted value
    node: tree_sitter.Node | None = None  # where the value is written
    line: int = 0  # the line of an inline capture (`{name}`) in its string


def check_file(ctx: FileContext) -> Iterator[Hit]:
    text = ctx.source.text
    if not _SQL_CRATE.search(text) or syntax.is_test_path(ctx.source.path):
        return
    file_constants = rust.string_constants(ctx.root)
    for function in rust.rust_functions(ctx.root):
        if "format!" not in node_text(function) and "push_str" not in node_text(function):
            continue
        if rust.is_rust_test(function, ctx.source.path):
            continue
        constants = _Env(file_constants)
        constants.vectors = _vectors(function, constants)
        for call, sql in _sql_arguments(function):
            for pieces in _builders(sql, call, function, constants):
                hit = _check_built(ctx, pieces, call, function)
                if hit is not None:
                    yield hit
                    break


def _sql_arguments(
    function: tree_sitter.Node,
) -> Iterator[tuple[tree_sitter.Node, tree_sitter.Node]]:
    """(call, its SQL argument) of every rusqlite / sqlx call that runs SQL text."""
    for call in syntax.of_type(function, "call_expression", stop_at=frozenset({"function_item"})):
        args = rust.call_arguments(call)
        if not args:
            continue
        method = rust.method_name(call)
        if method in _RUN_METHODS:
            yield call, args[0]
            continue
        if method:
            continue
        callee = call.child_by_field_name("function")
        if callee is not None and callee.type == "generic_function":
            callee = callee.child_by_field_name("function")
        if callee is None:
            continue
        name = node_text(callee)
        if name.rsplit("::", 1)[-1] in _SQLX_FUNCTIONS and ("::" in name or "query" in name):
            yield call, args[0]


def _vectors(function: tree_sitter.Node, constants: _Env) -> dict[str, list[list[_Piece]]]:
    """{name: pieces of each string-building value pushed onto it} for ``name.push(..)``."""
    found: dict[str, list[list[_Piece]]] = {}
    for call in rust.rust_method_calls(function, "push"):
        target = rust.receiver(call)
        args = rust.call_arguments(call)
        if target is None or target.type != "identifier" or len(args) != 1:
            continue
        value = _unwrap(args[0])
        if value.type != "macro_invocation":
            continue
        pieces = _pieces(value, constants)
        if pieces is not None:
            found.setdefault(node_text(target), []).append(pieces)
    return found


def _unwrap(node: tree_sitter.Node) -> tree_sitter.Node:
    """``x`` of ``&x``, ``&*x``, ``(x)``, ``x.as_str()``, ``x.to_string()``, ``x.clone()``."""
    while True:
        if node.type in {"reference_expression", "unary_expression", "parenthesized_expression"}:
            inner = [c for c in node.named_children if c.type != "mutable_specifier"]
            if not inner:
                return node
            node = inner[-1]
            continue
        if node.type == "call_expression" and rust.method_name(node) in {
            "as_str", "to_string", "to_owned", "clone", "as_ref", "trim", "into"
        }:  # fmt: skip
            value = rust.receiver(node)
            if value is None:
                return node
            node = value
            continue
        return node


def _builders(
    sql: tree_sitter.Node,
    call: tree_sitter.Node,
    function: tree_sitter.Node,
    constants: _Env,
) -> list[list[_Piece]]:
    """The SQL the call runs, as pieces: from the argument itself, or from what the function
    binds to the name it passes before the call (``let`` starts a statement, ``push_str``,
    ``+=`` and ``write!`` extend it)."""
    node = _unwrap(sql)
    if node.type != "identifier":
        pieces = _pieces(node, constants)
        return [pieces] if pieces is not None else []
    name = node_text(node)
    found: list[list[_Piece] | None] = []
    body = function.child_by_field_name("body")
    if body is None:
        return []
    for item in syntax.walk(body, stop_at=frozenset({"function_item"})):
        if item.start_byte >= call.start_byte:
            break
        extension = _extension(item, name, constants)
        if item.type == "let_declaration":
            pattern = item.child_by_field_name("pattern")
            value = item.child_by_field_name("value")
            if pattern is None or node_text(pattern).removeprefix("mut ").strip() != name:
                continue
            found.append(_pieces(_unwrap(value), constants) if value is not None else None)
        elif item.type == "assignment_expression":
            left, right = item.child_by_field_name("left"), item.child_by_field_name("right")
            if left is not None and right is not None and node_text(left) == name:
                found.append(_pieces(_unwrap(right), constants))
        elif extension is not None and found and found[-1] is not None:
            found[-1] = found[-1] + extension
    return [pieces for pieces in found if pieces is not None]


def _extension(item: tree_sitter.Node, name: str, constants: _Env) -> list[_Piece] | None:
    """What ``name.push_str(x)``, ``name += x`` or ``write!(name, ..)`` appends."""
    if item.type == "call_expression" and rust.method_name(item) in {"push_str", "push"}:
        target = rust.receiver(item)
        args = rust.call_arguments(item)
        if target is None or node_text(target) != name or not args:
            return None
        return _operand(_unwrap(args[0]), constants)
    if item.type == "compound_assignment_expr":
        left, right = item.child_by_field_name("left"), item.child_by_field_name("right")
        if left is None or right is None or node_text(left) != name:
            return None
        return _operand(_unwrap(right), constants)
    if item.type == "macro_invocation" and _macro_name(item) in {"write", "writeln"}:
        groups = _macro_groups(item)
        if not groups or _group_text(groups[0]).lstrip("&mut ").strip() != name:
            return None
        return _format_pieces(groups[1:], constants)
    return None


def _operand(node: tree_sitter.Node, constants: _Env) -> list[_Piece]:
    pieces = _pieces(node, constants)
    if pieces is not None:
        return pieces
    if node.type == "identifier" and node_text(node) in constants:
        return [_Piece(constants[node_text(node)])]
    return [_Piece(None, node_text(node), node)]


def _pieces(node: tree_sitter.Node, constants: _Env) -> list[_Piece] | None:
    """The SQL a string expression builds, as literal text and holes; None if it is not a
    string-building expression."""
    text = _literal(node)
    if text is not None:
        return [_Piece(text)]
    if node.type == "macro_invocation" and _macro_name(node) in _FORMAT_MACROS:
        return _format_pieces(_macro_groups(node), constants)
    if node.type == "call_expression" and rust.method_name(node) == "join":
        target = rust.receiver(node)
        pushed = constants.vectors.get(node_text(target)) if target is not None else None
        if not pushed:
            return None
        args = rust.call_arguments(node)
        separator = _literal(args[0]) if args else None
        out: list[_Piece] = []
        for index, part in enumerate(pushed):
            if index:
                out.append(_Piece(separator or ","))
            out.extend(part)
        return out
    if node.type == "call_expression":
        callee = node.child_by_field_name("function")
        args = rust.call_arguments(node)
        if callee is not None and node_text(callee) in {
            "String::from",
            "String::new",
            "String::with_capacity",
        }:
            if node_text(callee) == "String::from" and args:
                return _operand(_unwrap(args[0]), constants)
            return [_Piece("")]
        return None
    if node.type == "binary_expression":
        op = node.child_by_field_name("operator")
        left, right = node.child_by_field_name("left"), node.child_by_field_name("right")
        if op is None or left is None or right is None or node_text(op) != "+":
            return None
        first = _pieces(_unwrap(left), constants)
        if first is None:
            return None
        return first + _operand(_unwrap(right), constants)
    return None


def _literal(node: tree_sitter.Node) -> str | None:
    """A string literal's value, escapes decoded (``\\"`` is a quote in the SQL)."""
    if node.type == "raw_string_literal":
        return rust.rust_string(node)
    if node.type != "string_literal":
        return None
    out: list[str] = []
    for child in node.named_children:
        if child.type == "string_content":
            out.append(node_text(child))
        elif child.type == "escape_sequence":
            escape = node_text(child)
            if escape.startswith("\\\n") or escape.startswith("\\\r"):
                continue
            out.append(_ESCAPES.get(escape[1:2], escape))
    return "".join(out)


def _first_line(string: tree_sitter.Node) -> int:
    """The line the text of a string literal starts on."""
    content = next((c for c in string.named_children if c.type == "string_content"), string)
    return syntax.line(content)


def _macro_name(node: tree_sitter.Node) -> str:
    macro = node.child_by_field_name("macro")
    return node_text(macro).rsplit("::", 1)[-1] if macro is not None else ""


def _macro_groups(node: tree_sitter.Node) -> list[list[tree_sitter.Node]]:
    """A macro's arguments: its token tree's tokens, split at top-level commas."""
    tree = next((c for c in node.children if c.type == "token_tree"), None)
    if tree is None:
        return []
    groups: list[list[tree_sitter.Node]] = [[]]
    for child in tree.children[1:-1]:
        if child.type == ",":
            groups.append([])
        elif child.type not in {"line_comment", "block_comment"}:
            groups[-1].append(child)
    return [g for g in groups if g]


def _group_text(group: list[tree_sitter.Node]) -> str:
    if not group:
        return ""
    first, last = group[0], group[-1]
    root = first
    while root.parent is not None:
        root = root.parent
    source = root.text or b""
    return source[first.start_byte : last.end_byte].decode("utf-8", errors="replace")


_FIELD = re.compile(r"\{\{|\}\}|\{([^{}:]*)(?::([^{}]*))?\}")


def _format_pieces(groups: list[list[tree_sitter.Node]], constants: _Env) -> list[_Piece] | None:
    """``format!("...", args)`` as pieces: literal text and one hole per ``{..}``."""
    if not groups or len(groups[0]) != 1:
        return None
    template = _literal(groups[0][0])
    if template is None:
        return None
    positional: list[list[tree_sitter.Node]] = []
    named: dict[str, list[tree_sitter.Node]] = {}
    for argument in groups[1:]:
        if len(argument) >= 3 and argument[0].type == "identifier" and argument[1].type == "=":
            named[node_text(argument[0])] = argument[2:]
        else:
            positional.append(argument)
    out: list[_Piece] = []
    position, index = 0, 0
    for match in _FIELD.finditer(template):
        token = match.group(0)
        if token in {"{{", "}}"}:
            out.append(_Piece(template[position : match.start()] + token[0]))
            position = match.end()
            continue
        out.append(_Piece(template[position : match.start()]))
        position = match.end()
        field = (match.group(1) or "").strip()
        group: list[tree_sitter.Node] | None
        if field == "":
            group = positional[index] if index < len(positional) else None
            index += 1
        elif field.isdigit():
            group = positional[int(field)] if int(field) < len(positional) else None
        else:
            group = named.get(field)
            if group is None:  # an inline capture: `{name}`
                out.append(
                    _Piece(constants[field])
                    if field in constants
                    else _Piece(
                        None,
                        field,
                        groups[0][0],
                        _first_line(groups[0][0]) + template.count("\n", 0, match.start()),
                    )
                )
                continue
        if group is None:
            out.append(_Piece(None))
            continue
        value = _group_text(group).lstrip("&").strip()
        if len(group) == 1 and _literal(group[0]) is not None:
            out.append(_Piece(_literal(group[0])))
        elif value in constants:
            out.append(_Piece(constants[value]))
        else:
            out.append(_Piece(None, value, group[0]))
    out.append(_Piece(template[position:]))
    return out


def _check_built(
    ctx: FileContext,
    pieces: list[_Piece],
    call: tree_sitter.Node,
    function: tree_sitter.Node,
) -> Hit | None:
    if all(p.text is not None for p in pieces):
        return None
    template = "".join(p.text if p.text is not None else _HOLE for p in pieces)
    if not _DML.match(template):
        return None  # PRAGMA and DDL take no parameters; not SQL at all
    before = ""
    parameters = _parameters(function)
    for piece in pieces:
        if piece.text is not None:
            before += piece.text
            continue
        value = piece.value
        single = before.replace("''", "").count("'") % 2 == 1
        double = before.count('"') % 2 == 1
        quoted = (single and not _NAMES_TABLE.search(before[: before.rfind("'")])) or (
            double and _DOUBLE_VALUE.search(before[: before.rfind('"')]) is not None
        )
        closing = ("'" if single else '"') if quoted else ""
        if not quoted and not single and not double and _quoted_list(function, value):
            quoted = True  # each value of a list quoted by hand: `format!("'{s}'")` joined
        compared = (
            not single
            and not double
            and _COMPARED.search(before) is not None
            and _bare(value) in parameters
        )
        if not value or not (quoted or compared) or _safe_value(value, function, parameters):
            before += "?"
            continue
        hit = node_hit(
            ctx,
            piece.node if piece.node is not None else call,
            named_by=call,
            details={
                "function": rust.rust_function_name(function),
                "value": value,
                "fragment": _fragment(before, value) + closing,
            },
        )
        if piece.line:
            hit = replace(hit, start_line=piece.line, end_line=piece.line)
        if quoted:
            return hit
        return replace(
            hit,
            severity=Severity.MEDIUM,
            severity_reason=(
                f"MEDIUM: `{value}` is not quoted in the SQL, so callers pass a number "
                "there; text from outside would still run as SQL."
            ),
        )
    return None


def _fragment(before: str, value: str) -> str:
    """The SQL just before the value, and the value: ``WHERE email = '<email>``."""
    tail = " ".join(before[before.rfind("\n") + 1 :].split())
    tail += " " if before[-1:].isspace() else ""
    if len(tail) > 40:
        tail = tail[-40:]
        tail = tail[tail.find(" ") + 1 :]
    return f"{tail}<{value}>"


def _bare(value: str) -> str:
    """``name`` of ``name``, ``*name``, ``name.as_str()``, ``name.trim()``; else the text."""
    text = value.lstrip("&*").strip()
    return re.sub(r"(\.(as_str|trim|to_string|to_owned|clone|as_ref)\(\))+$", "", text)


def _root(value: str) -> str:
    """``name`` of ``name``, ``*name``, ``name.trim()``, ``name.as_str()``."""
    return re.split(r"[.\s(\[]", value.lstrip("&*").strip(), maxsplit=1)[0]


def _parameters(function: tree_sitter.Node) -> dict[str, str]:
    """{name: type text} of the function's parameters."""
    found: dict[str, str] = {}
    params = function.child_by_field_name("parameters")
    for param in params.named_children if params is not None else []:
        pattern = param.child_by_field_name("pattern")
        kind = param.child_by_field_name("type")
        if pattern is not None and kind is not None:
            found[node_text(pattern).removeprefix("mut ").strip()] = node_text(kind)
    return found


def _safe_value(value: str, function: tree_sitter.Node, parameters: dict[str, str]) -> bool:
    """A value that cannot carry SQL: a literal, a constant, a number, a placeholder list,
    an identifier name, or a value a quoting function returned."""
    text = value.strip()
    if _NUMERIC_VALUE.search(text) or _CONSTANT.search(text):
        return True
    if '"?"' in text or "'?'" in text or '"?,"' in text or "\"''\"" in text:
        return True  # a placeholder list, or quotes doubled (SQLite's own escape)
    last = re.split(r"[.:]", re.sub(r"\(.*\)$", "", text))[-1]
    if _SAFE_NAME.search(text) or _IDENTIFIER_NAME.search(last):
        return True
    name = _root(text)
    if _ENUM_AS_STR.search(text) and _enum_as_str(function):
        return True  # `status.as_str()` of an enum mapping variants to fixed names
    bare = _bare(text)
    if bare in parameters:
        return _safe_type(parameters[bare])
    if bare == name:
        unwrapped = _unwrapped_parameter(function, name, parameters)
        if unwrapped is not None:
            return _safe_type(unwrapped)
        return _numeric_local(function, name)
    return False


_OPTION = re.compile(r"^&?\s*(?:Option|Result)<\s*(.*?)\s*(?:,[^<>]*)?>$")


def _unwrapped_parameter(
    function: tree_sitter.Node, name: str, parameters: dict[str, str]
) -> str | None:
    """The type of ``name`` bound by ``if let Some(name) = param`` (or ``let Some(name) =
    param else``) from a parameter typed ``Option<T>``: T."""
    pattern = re.compile(rf"^(Some|Ok)\(\s*(ref\s+)?&?{re.escape(name)}\s*\)$")
    for node in rust.rust_body_nodes(function):
        if node.type not in {"let_condition", "let_declaration"}:
            continue
        bound = node.child_by_field_name("pattern")
        value = node.child_by_field_name("value")
        if bound is None or value is None or not pattern.match(node_text(bound)):
            continue
        source = node_text(value).lstrip("&").strip()
        kind = parameters.get(source)
        if kind is None:
            return None
        option = _OPTION.match(kind.strip())
        return option.group(1) if option else None
    return None


_STRINGY = re.compile(
    r"\b(str|String|Cow|OsStr|OsString|Path|PathBuf|Value|Display|ToString|AsRef|Into|Box|"
    r"Vec|Option<&|Option<String)\b|^&?(mut\s+)?[A-Z]$|^impl\b"
)
_NAMED_TYPE = re.compile(r"^&?\s*('\w+\s+)?(mut\s+)?(\w+::)*[A-Z]\w*$")
_ENUM_AS_STR = re.compile(r"\.as_str\(\)$")


def _safe_type(kind: str) -> bool:
    """A parameter type whose values cannot carry SQL: a number, a date, a uuid, or a named
    type of the program's own (an enum shown by its Display impl), not a string."""
    kind = kind.strip()
    if _NUMERIC_TYPE.match(kind):
        return True
    return not _STRINGY.search(kind) and bool(_NAMED_TYPE.match(kind))


def _enum_as_str(function: tree_sitter.Node) -> bool:
    """The file defines ``fn as_str(&self) -> &'static str``: an enum naming its variants."""
    root = function
    while root.parent is not None:
        root = root.parent
    return bool(re.search(r"fn\s+as_str\s*\(\s*&self\s*\)\s*->\s*&'static\s+str", node_text(root)))


_QUOTES_EACH = re.compile(r"""format!\(\s*r?#*"['\\"]+\{[^{}]*\}['\\"]+"#*\s*[,)]""")


def _quoted_list(function: tree_sitter.Node, name: str) -> bool:
    """``let name = values.iter().map(|v| format!("'{v}'")).collect::<Vec<_>>().join(",")``:
    a list of values, each put in quotes by hand."""
    for node in rust.rust_body_nodes(function):
        if node.type != "let_declaration":
            continue
        pattern = node.child_by_field_name("pattern")
        value = node.child_by_field_name("value")
        if pattern is None or value is None or node_text(pattern) != name:
            continue
        text = node_text(value)
        if "join(" in text and _QUOTES_EACH.search(text):
            return True
    return False


def _numeric_local(function: tree_sitter.Node, name: str) -> bool:
    """``let name: i64 = ..``, ``let name = 42``, ``let name = x.len()``, or ``for name in``
    a literal array / a numeric range."""
    for node in rust.rust_body_nodes(function):
        if node.type == "let_declaration":
            pattern = node.child_by_field_name("pattern")
            if pattern is None or node_text(pattern).removeprefix("mut ").strip() != name:
                continue
            kind = node.child_by_field_name("type")
            value = node.child_by_field_name("value")
            if kind is not None:
                return bool(_NUMERIC_TYPE.match(node_text(kind).strip()))
            if value is not None and _NUMERIC_VALUE.search(node_text(value).strip()):
                return True
        elif node.type == "for_expression":
            pattern = node.child_by_field_name("pattern")
            value = node.child_by_field_name("value")
            if pattern is None or value is None or node_text(pattern) != name:
                continue
            inner = value.named_children[-1] if value.type == "reference_expression" else value
            if inner.type in {"array_expression", "range_expression"}:
                return True
    return False


RULE = Rule(meta=META, doc=__doc__ or "", check_file=check_file)
