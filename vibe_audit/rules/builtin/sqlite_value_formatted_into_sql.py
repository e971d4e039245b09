"""A value formatted into the SQL text instead of bound as a parameter.

What it finds:
    A ``SELECT``/``INSERT``/``UPDATE``/``DELETE``/``REPLACE``/``WITH`` statement built with an
    f-string, ``%``, ``.format()`` or ``+`` and passed to ``.execute()`` /
    ``.executemany()`` / ``.executescript()`` (also through SQLAlchemy's ``text()``), in a
    file that uses sqlite3 or aiosqlite, where a variable lands in a value position of the
    SQL: inside single quotes (``WHERE name = '{name}'``), or, for an argument of the
    function, right after a comparison (``WHERE id = {item_id}``, ``LIKE {pattern}``; reported
    at MEDIUM: unquoted, callers pass numbers there). Identifiers (``FROM [{table}]``,
    ``FROM '{table}'``, ``ORDER BY {column}``, values named like ``table_name``), placeholder
    lists (``",".join("?" * n)``), constants, numbers (``len()``, ``int()``, ``%d``, ``: int``
    arguments), loop variables over a literal tuple, and values passed through a quoting
    function or ``.replace("'", "''")`` are not flagged; neither are PRAGMA and DDL
    statements, which cannot take parameters.

Why it matters:
    The value becomes SQL. A name with an apostrophe (``O'Brien``) breaks the statement,
    and a value from a request, a file or a CLI argument can rewrite it
    (``' OR '1'='1``): read every row, or with ``executescript`` run any statement. Bound
    parameters (``?``) are never parsed as SQL, and SQLite reuses the prepared statement.

Example:
    def find_user(conn, name):
        return conn.execute(f"SELECT id FROM users WHERE name = '{name}'").fetchone()

Use instead:
    def find_user(conn, name):
        return conn.execute("SELECT id FROM users WHERE name = ?", (name,)).fetchone()
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, replace

import tree_sitter

from vibe_audit.chunker.parsing import node_text
from vibe_audit.rules import syntax
from vibe_audit.rules.base import Hit, Rule, RuleMeta, node_hit
from vibe_audit.rules.context import FileContext
from vibe_audit.rules.literals import string_constants
from vibe_audit.rules.sql import is_sqlite_file
from vibe_audit.schemas import Confidence, Severity

META = RuleMeta(
    id="sqlite-value-formatted-into-sql",
    title="Value formatted into SQL text instead of a bound parameter",
    severity=Severity.HIGH,
    confidence=Confidence.MEDIUM,
    categories={"concurrency": "SQLite"},
    checklist=["concurrency.sqlite_checklist.8"],
    problem=(
        "{function}() formats `{value}` into the SQL it runs (`{fragment}`) instead of "
        "binding it as a parameter: the value is parsed as SQL."
    ),
    scenario=(
        "{function}() is called with a `{value}` that contains an apostrophe, or with "
        "`' OR '1'='1`: the statement fails with a syntax error, or matches and returns "
        "(or updates, or deletes) rows it was never meant to touch."
    ),
    impact=(
        "SQL injection wherever `{value}` can come from a user, a file or a network peer: "
        "data read or changed outside the intended rows; at best, failures on ordinary "
        "input such as names with apostrophes."
    ),
    how_to_verify=(
        "Call {function}() with `{value}` set to `x' OR '1'='1` (or `0 OR 1=1` for a number) "
        "and compare the rows it reads or changes with a normal call."
    ),
    fix=(
        "Put a `?` placeholder where the value goes and pass the value separately:\n"
        '    conn.execute("SELECT id FROM users WHERE name = ?", (name,))\n'
        "For a variable number of values, build only the placeholders: "
        '`",".join("?" * len(ids))`.'
    ),
    trade_off=(
        "None for values. Table and column names cannot be bound: check those against a "
        "fixed set of names and quote them instead."
    ),
    effort_hours=(0.1, 0.5),
)

_EXECUTE = frozenset({"execute", "executemany", "executescript", "execute_fetchall"})
_DML = re.compile(r"^\W*(SELECT|INSERT|UPDATE|DELETE|REPLACE|WITH)\b", re.I)
_HOLE = "\x00"
# A value position: after a comparison operator or LIKE/GLOB, or inside single quotes.
_COMPARED = re.compile(r"(?:[=<>]|\b(?:LIKE|GLOB|MATCH|IS|IS\s+NOT))\s*$", re.I)
_PERCENT = re.compile(r"%(?:\((\w+)\))?[-#0 +]*\d*(?:\.\d+)?([sdirfgeExXc%])")
_FORMAT = re.compile(r"\{\{|\}\}|\{([^{}!:]*)(?:![rsa])?(?::([^{}]*))?\}")
_SAFE_CALLS = frozenset(
    {"int", "float", "len", "round", "abs", "bool", "min", "max", "sum", "isoformat",
     "strftime", "timestamp", "hexdigest", "uuid1", "uuid4", "now", "utcnow", "today", "time"}
)  # fmt: skip
_SAFE_NAME = re.compile(r"placeholder|qmark|marks|quote|escape|bind", re.I)
# A quoted name where SQLite expects a table (``FROM 'events'`` is accepted as a name).
_NAMES_TABLE = re.compile(r"\b(FROM|JOIN|INTO|UPDATE|TABLE|EXISTS|ON)\s*$", re.I)
# Values named as schema objects: identifiers, not data (``WHERE name = '{table}'``).
_IDENTIFIER_NAME = re.compile(r"(^|_)(table|tbl|column|col|index|view|trigger|schema)s?(_|$)", re.I)
_CONSTANT = re.compile(r"^[A-Z][A-Z0-9_]*$")
_NUMERIC_TYPES = frozenset({"int", "float", "bool"})


@dataclass(frozen=True)
class _Piece:
    text: str | None  # literal SQL text, or None for a hole
    value: tree_sitter.Node | None = None  # the formatted value (None: not known)
    numeric: bool = False  # formatted as a number (%d, {:d})


def check_file(ctx: FileContext) -> Iterator[Hit]:
    text = ctx.source.text
    uses_text = "sqlalchemy" in ctx.imports and "sqlite" in text
    if not (is_sqlite_file(ctx) or uses_text):
        return
    module_constants = string_constants(ctx.root)
    for call in syntax.of_type(ctx.root, "call"):
        name = syntax.callee(call)
        if "." not in name or syntax.last_name(name) not in _EXECUTE:
            continue
        args = syntax.positional_args(call)
        if not args:
            continue
        sql = _unwrap_text(args[0])
        scope = syntax.enclosing(call, "function_definition") or ctx.root
        constants = module_constants | (
            string_constants(scope) if scope.type == "function_definition" else {}
        )
        for pieces in _builders(sql, call, scope, constants):
            hit = _check_built(ctx, pieces, call, scope)
            if hit is not None:
                yield hit
                break


def _unwrap_text(node: tree_sitter.Node) -> tree_sitter.Node:
    if node.type == "call" and syntax.last_name(syntax.callee(node)) == "text":
        inner = syntax.positional_args(node)
        return inner[0] if inner else node
    return node


def _builders(
    sql: tree_sitter.Node,
    call: tree_sitter.Node,
    scope: tree_sitter.Node,
    constants: dict[str, str],
) -> list[list[_Piece]]:
    """The SQL the call runs, as pieces: from the argument itself, or from what the function
    assigns to the name it passes before the call (each ``=`` starts a statement, each
    ``+=`` extends the last one)."""
    if sql.type != "identifier":
        pieces = _pieces(sql, constants)
        return [pieces] if pieces is not None else []
    name = node_text(sql)
    found: list[list[_Piece] | None] = []
    for node in syntax.walk(scope, stop_at=syntax.FUNCTION_TYPES):
        if node.start_byte >= call.start_byte:
            break
        if node.type not in {"assignment", "augmented_assignment"}:
            continue
        left, right = node.child_by_field_name("left"), node.child_by_field_name("right")
        if left is None or right is None or node_text(left) != name:
            continue
        pieces = _pieces(_unwrap_text(right), constants)
        if node.type == "assignment":
            found.append(pieces)
        elif found and found[-1] is not None:
            op = next((c for c in node.children if c.type == "+="), None)
            if op is None:
                found[-1] = None
            else:
                found[-1] = found[-1] + (pieces if pieces is not None else _operand(right, {}))
    return [pieces for pieces in found if pieces is not None]


def _pieces(node: tree_sitter.Node, constants: dict[str, str]) -> list[_Piece] | None:
    """The SQL a string expression builds, as literal text and holes; None if not a
    string-building expression."""
    if node.type == "parenthesized_expression" and node.named_children:
        return _pieces(node.named_children[0], constants)
    if node.type == "string":
        return _string_pieces(node)
    if node.type == "concatenated_string":
        out: list[_Piece] = []
        for child in node.named_children:
            part = _pieces(child, constants)
            if part is None:
                return None
            out.extend(part)
        return out
    if node.type == "binary_operator":
        op = node.child_by_field_name("operator")
        left, right = node.child_by_field_name("left"), node.child_by_field_name("right")
        if op is None or left is None or right is None:
            return None
        if node_text(op) == "+":
            parts = [_pieces(left, constants), _pieces(right, constants)]
            if all(p is None for p in parts):
                return None
            sides = (left, right)
            return [
                piece
                for part, side in zip(parts, sides, strict=True)
                for piece in (part if part is not None else _operand(side, constants))
            ]
        if node_text(op) == "%":
            template = _pieces(left, constants)
            if template is None or any(p.text is None for p in template):
                return None
            return _percent(template, right)
        return None
    if node.type == "call":
        function = node.child_by_field_name("function")
        if function is not None and function.type == "attribute":
            receiver = function.child_by_field_name("object")
            attr = function.child_by_field_name("attribute")
            method = node_text(attr) if attr is not None else ""
            if receiver is None:
                return None
            if method == "format":
                template = _pieces(receiver, constants)
                if template is None or any(p.text is None for p in template):
                    return None
                return _format(template, node)
            if method in {"strip", "lstrip", "rstrip"}:
                return _pieces(receiver, constants)
        if syntax.callee(node) in {"textwrap.dedent", "dedent"}:
            args = syntax.positional_args(node)
            return _pieces(args[0], constants) if args else None
    return None


def _operand(node: tree_sitter.Node, constants: dict[str, str]) -> list[_Piece]:
    if node.type == "identifier" and node_text(node) in constants:
        return [_Piece(constants[node_text(node)])]
    return [_Piece(None, node)]


def _string_pieces(node: tree_sitter.Node) -> list[_Piece]:
    out = []
    for child in node.named_children:
        if child.type == "string_content" or child.type == "escape_sequence":
            out.append(_Piece(node_text(child)))
        elif child.type == "interpolation":
            expression = child.child_by_field_name("expression")
            spec = next((c for c in child.named_children if c.type == "format_specifier"), None)
            numeric = spec is not None and node_text(spec).rstrip().endswith(("d", "f", "x"))
            out.append(_Piece(None, expression, numeric))
    return out


def _percent(template: list[_Piece], right: tree_sitter.Node) -> list[_Piece]:
    text = "".join(p.text or "" for p in template)
    if right.type == "parenthesized_expression" and right.named_children:
        right = right.named_children[0]
    values = right.named_children if right.type == "tuple" else [right]
    by_key: dict[str, tree_sitter.Node] = {}
    if right.type == "dictionary":
        for pair in right.named_children:
            key, value = pair.child_by_field_name("key"), pair.child_by_field_name("value")
            if key is not None and value is not None:
                by_key[syntax.string_value(key) or ""] = value
    out: list[_Piece] = []
    position, index = 0, 0
    for match in _PERCENT.finditer(text):
        if match.group(2) == "%":
            continue
        out.append(_Piece(text[position : match.start()]))
        if match.group(1) is not None:
            value = by_key.get(match.group(1))
        else:
            value = values[index] if index < len(values) and right.type != "dictionary" else None
            index += 1
        out.append(_Piece(None, value, match.group(2) not in {"s", "r"}))
        position = match.end()
    out.append(_Piece(text[position:]))
    return out


def _format(template: list[_Piece], call: tree_sitter.Node) -> list[_Piece]:
    text = "".join(p.text or "" for p in template)
    args = syntax.positional_args(call)
    out: list[_Piece] = []
    position, index = 0, 0
    for match in _FORMAT.finditer(text):
        if match.group(0) in {"{{", "}}"}:
            continue
        out.append(_Piece(text[position : match.start()]))
        field = (match.group(1) or "").strip()
        value: tree_sitter.Node | None
        if field == "":
            value = args[index] if index < len(args) else None
            index += 1
        elif field.isdigit():
            value = args[int(field)] if int(field) < len(args) else None
        else:
            value = syntax.keyword_value(call, field.split(".")[0].split("[")[0])
        spec = match.group(2) or ""
        out.append(_Piece(None, value, spec.rstrip().endswith(("d", "f", "x"))))
        position = match.end()
    out.append(_Piece(text[position:]))
    return out


def _check_built(
    ctx: FileContext,
    pieces: list[_Piece],
    call: tree_sitter.Node,
    scope: tree_sitter.Node,
) -> Hit | None:
    if all(p.text is not None for p in pieces):
        return None
    template = "".join(p.text if p.text is not None else _HOLE for p in pieces)
    if not _DML.match(template):
        return None  # PRAGMA and DDL take no parameters; not SQL at all
    before = ""
    for piece in pieces:
        if piece.text is not None:
            before += piece.text
            continue
        quoted = before.replace("''", "").count("'") % 2 == 1 and not _NAMES_TABLE.search(
            before[: before.rfind("'")]
        )
        value = piece.value
        # Quoted, the value is text by construction; unquoted after a comparison it is most
        # often a number read back from the database: only a caller's argument counts there.
        compared = (
            value is not None
            and _COMPARED.search(before) is not None
            and node_text(value) in _parameters(scope)
        )
        if value is None or piece.numeric or not (quoted or compared) or _safe_value(value, scope):
            before += "?"
            continue
        function = syntax.enclosing(call, "function_definition")
        hit = node_hit(
            ctx,
            value,
            named_by=call,
            details={
                "function": syntax.function_name(function) if function else "<module>",
                "value": node_text(value),
                "fragment": _fragment(before, value) + ("'" if quoted else ""),
            },
        )
        if quoted:
            return hit
        return replace(
            hit,
            severity=Severity.MEDIUM,
            severity_reason=(
                f"MEDIUM: `{node_text(value)}` is not quoted in the SQL, so callers pass a "
                "number there; text from outside would still run as SQL."
            ),
        )
    return None


def _fragment(before: str, value: tree_sitter.Node) -> str:
    """The SQL just before the value, and the value: ``WHERE email = '<email>``."""
    tail = before[before.rfind("\n") + 1 :].lstrip()
    if len(tail) > 40:
        tail = tail[-40:]
        tail = tail[tail.find(" ") + 1 :]
    return f"{tail}<{node_text(value)}>"


def _safe_value(value: tree_sitter.Node, scope: tree_sitter.Node) -> bool:
    """A value that cannot carry SQL: a literal, a constant, a number, a placeholder list,
    or a value a quoting function returned."""
    text = node_text(value)
    if value.type in {"integer", "float", "true", "false", "none", "string"}:
        return True
    if _SAFE_NAME.search(text) or '"?"' in text or "'?'" in text:
        return True
    name = syntax.last_name(text)
    if value.type in {"identifier", "attribute"} and _IDENTIFIER_NAME.search(name):
        return True
    if value.type == "call":
        name = syntax.last_name(syntax.callee(value))
        args = syntax.positional_args(value)
        if name == "str" and len(args) == 1:
            return _safe_value(args[0], scope)  # str(len(ids)), str(uuid4())
        if name == "replace" and [syntax.string_value(a) for a in args] == ["'", "''"]:
            return True  # quotes doubled: SQLite's own escape for a string literal
        return name in _SAFE_CALLS or bool(_SAFE_NAME.search(name))
    if value.type == "attribute":
        attr = value.child_by_field_name("attribute")
        return attr is not None and bool(_CONSTANT.match(node_text(attr)))
    if value.type != "identifier":
        return value.type not in {"subscript"}
    if _CONSTANT.match(text):
        return True
    if scope.type != "function_definition":
        return False
    if _numeric_parameter(scope, text):
        return True
    for node in syntax.body_nodes(scope, "assignment", "for_statement"):
        if node.type == "for_statement":
            left, right = node.child_by_field_name("left"), node.child_by_field_name("right")
            if (
                left is not None
                and right is not None
                and node_text(left) == text
                and right.type in {"tuple", "list", "set"}
            ):
                return True  # one of a fixed set of literals
            continue
        left, right = node.child_by_field_name("left"), node.child_by_field_name("right")
        if left is None or right is None or node_text(left) != text:
            continue
        if _safe_value(right, scope.parent or scope) if right.type != "identifier" else False:
            return True
    return False


def _parameters(scope: tree_sitter.Node) -> set[str]:
    if scope.type != "function_definition":
        return set()
    return syntax.parameter_names(scope) - {"self", "cls"}


def _numeric_parameter(function: tree_sitter.Node, name: str) -> bool:
    parameters = function.child_by_field_name("parameters")
    for param in parameters.named_children if parameters is not None else []:
        if param.type not in {"typed_parameter", "typed_default_parameter"}:
            continue
        names = [c for c in param.named_children if c.type == "identifier"]
        kind = param.child_by_field_name("type")
        if names and node_text(names[0]) == name and kind is not None:
            return node_text(kind) in _NUMERIC_TYPES
    return False


RULE = Rule(meta=META, doc=__doc__ or "", check_file=check_file)
