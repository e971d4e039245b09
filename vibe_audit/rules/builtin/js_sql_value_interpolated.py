"""A value interpolated into SQL text instead of bound as a parameter (JS/TS).

What it finds:
    A ``SELECT`` / ``INSERT`` / ``UPDATE`` / ``DELETE`` / ``REPLACE`` / ``WITH`` statement
    built with a template literal (``${value}``) or ``+`` and passed to a driver call that
    runs or prepares it (``db.prepare``, ``exec``, ``run``, ``all``, ``get``, ``query``,
    ``execute``, Prisma's ``$queryRawUnsafe`` / ``$executeRawUnsafe``), directly or through
    a variable the function builds first, in a repository that uses a SQL driver
    (better-sqlite3, bun:sqlite, node:sqlite, sqlite3, sqlite, pg, mysql2, Prisma), where the
    value lands in a value position: inside single quotes (``WHERE name = '${name}'``), or,
    for an argument of the function, right after a comparison (``WHERE id = ${id}``, reported
    at MEDIUM: unquoted, callers pass numbers there). Not matched: identifiers
    (``FROM ${table}``, ``"${schema}".jobs``, values named like ``tableName``), placeholder
    lists (``ids.map(() => "?").join(",")``), constants, numbers (``Number()``,
    ``.length``, ``Date.now()``, ``: number`` arguments), values passed through an escaping
    function, tagged templates (``sql`...```) and DDL / PRAGMA statements.

Why it matters:
    The value becomes SQL. A name with an apostrophe (``O'Brien``) breaks the statement, and
    a value from a request, a file or a message can rewrite it (``' OR '1'='1``): read every
    row, or with ``exec`` run any statement. Bound parameters (``?`` / ``$1``) are never
    parsed as SQL, and the driver can reuse the prepared statement.

Example:
    function findUser(email: string) {
      return db.prepare(`SELECT id FROM users WHERE email = '${email}'`).get();
    }

Use instead:
    function findUser(email: string) {
      return db.prepare("SELECT id FROM users WHERE email = ?").get(email);
    }
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, replace

import tree_sitter

from vibe_audit.chunker.parsing import node_text
from vibe_audit.rules import js, syntax
from vibe_audit.rules import js_sqlite_util as util
from vibe_audit.rules.base import Hit, Rule, RuleMeta, node_hit
from vibe_audit.rules.context import FileContext, RepoContext
from vibe_audit.schemas import Confidence, Severity

META = RuleMeta(
    id="js-sql-value-interpolated",
    title="Value interpolated into SQL text instead of a bound parameter",
    severity=Severity.HIGH,
    confidence=Confidence.MEDIUM,
    categories={"concurrency": "SQLite"},
    checklist=["concurrency.sqlite_checklist.8"],
    problem=(
        "{function} puts `{value}` into the SQL text it runs (`{fragment}`) instead of "
        "binding it as a parameter: the value is parsed as SQL."
    ),
    scenario=(
        "{function} is called with a `{value}` that contains an apostrophe, or with "
        "`' OR '1'='1`: the statement fails with a syntax error, or matches and returns "
        "(or updates, or deletes) rows it was never meant to touch."
    ),
    impact=(
        "SQL injection wherever `{value}` can come from a user, a file or a network peer: "
        "data read or changed outside the intended rows; at best, failures on ordinary "
        "input such as names with apostrophes."
    ),
    how_to_verify=(
        "Call {function} with `{value}` set to `x' OR '1'='1` (or `0 OR 1=1` for a number) "
        "and compare the rows it reads or changes with a normal call."
    ),
    fix=(
        "Put a placeholder where the value goes and pass the value separately:\n"
        '    db.prepare("SELECT id FROM users WHERE email = ?").get(email)   // SQLite\n'
        '    client.query("SELECT id FROM users WHERE email = $1", [email])  // pg\n'
        "For a variable number of values build only the placeholders: "
        '`ids.map(() => "?").join(", ")`.'
    ),
    trade_off=(
        "None for values. Table and column names cannot be bound: check those against a "
        "fixed set of names and quote them instead."
    ),
    effort_hours=(0.1, 0.5),
    # 4 findings on 17 packages outside the corpus, all FP (values cleaned by a character whitelist)
    experimental=True,
    languages=js.JS_LANGUAGES,
)

_RUNS = util.DIRECT_RUNS | {"prepare", "$queryRawUnsafe", "$executeRawUnsafe", "unsafe"}
_DML = re.compile(r"^\W*(SELECT|INSERT|UPDATE|DELETE|REPLACE|WITH)\b", re.I)
_HOLE = "\x00"
_COMPARED = re.compile(r"(?:[=<>]|\b(?:LIKE|GLOB|MATCH|IS|IS\s+NOT))\s*$", re.I)
_NAMES_TABLE = re.compile(r"\b(FROM|JOIN|INTO|UPDATE|TABLE|EXISTS|ON)\s*$", re.I)
_SAFE_NAME = re.compile(r"placeholder|qmark|marks|quote|escape|bind|sanitiz", re.I)
_IDENTIFIER_NAME = re.compile(
    r"(^|_)(table|tbl|column|col|index|view|trigger|schema)s?(_|$)"
    r"|[a-z](Table|Column|Col|Index|View|Schema|Name)s?$",
    re.I,
)
_CONSTANT = re.compile(r"^[A-Z][A-Z0-9_]*$")
_SAFE_CALLS = frozenset(
    {"Number", "parseInt", "parseFloat", "Math.floor", "Math.round", "Math.ceil", "Math.max",
     "Math.min", "Math.abs", "toISOString", "getTime", "now", "toFixed", "valueOf", "BigInt",
     "escape", "escapeId", "escapeLiteral", "escapeIdentifier", "literal", "ident", "format",
     "randomUUID", "uuid", "uuidv4", "v4"}
)  # fmt: skip
# A parameter typed as a number, or defaulting to one (``days = 30``).
_NUMERIC_TYPE = re.compile(r":\s*(number|bigint|boolean)\b|=\s*-?\d")


@dataclass(frozen=True)
class _Piece:
    text: str | None  # literal SQL text, or None for a hole
    value: tree_sitter.Node | None = None


def check_repo(repo: RepoContext) -> Iterator[Hit]:
    files = [
        ctx
        for ctx in repo.in_language(*js.JS_LANGUAGES)
        if not syntax.is_test_path(ctx.source.path)
    ]
    if not any(util.drivers_used(ctx) or "@prisma/client" in ctx.imports for ctx in files):
        return
    for ctx in files:
        if "${" not in ctx.source.text and "+" not in ctx.source.text:
            continue
        yield from _check(ctx)


def _check(ctx: FileContext) -> Iterator[Hit]:
    constants = util.string_constants(ctx.root)
    for call in syntax.of_type(ctx.root, "call_expression"):
        callee = js.js_callee(call)
        if "." not in callee or callee.rsplit(".", 1)[-1] not in _RUNS:
            continue
        args = js.js_arguments(call)
        if not args:
            continue
        scope = js.enclosing_function(call) or ctx.root
        for pieces in _builders(js.unwrap(args[0]), call, scope, constants):
            hit = _check_built(ctx, pieces, call, scope)
            if hit is not None:
                yield hit
                break


def _builders(
    sql: tree_sitter.Node,
    call: tree_sitter.Node,
    scope: tree_sitter.Node,
    constants: dict[str, str],
) -> list[list[_Piece]]:
    """The SQL the call runs, as pieces: the argument itself, or what the function binds
    to the name it passes before the call (``let sql = …; sql += …``)."""
    if sql.type != "identifier":
        pieces = _pieces(sql, constants)
        return [pieces] if pieces is not None else []
    name = node_text(sql)
    found: list[list[_Piece] | None] = []
    stop = frozenset(js.JS_FUNCTION_TYPES)
    body = scope.child_by_field_name("body") if scope.type in js.JS_FUNCTION_TYPES else scope
    if body is None:
        return []
    for node in syntax.walk(body, stop_at=stop):
        if node.start_byte >= call.start_byte:
            break
        if node.type == "variable_declarator":
            left, right = node.child_by_field_name("name"), node.child_by_field_name("value")
        elif node.type in {"assignment_expression", "augmented_assignment_expression"}:
            left, right = node.child_by_field_name("left"), node.child_by_field_name("right")
        else:
            continue
        if left is None or right is None or node_text(left) != name:
            continue
        pieces = _pieces(js.unwrap(right), constants)
        if node.type != "augmented_assignment_expression":
            found.append(pieces)
        elif found and found[-1] is not None:
            operator = node.child_by_field_name("operator")
            if operator is None or node_text(operator) != "+=":
                found[-1] = None
            else:
                found[-1] = found[-1] + (pieces if pieces is not None else [_Piece(None, right)])
    return [pieces for pieces in found if pieces is not None]


def _pieces(node: tree_sitter.Node, constants: dict[str, str]) -> list[_Piece] | None:
    """The SQL a string expression builds, as literal text and holes; None if it is not
    a string-building expression."""
    node = js.unwrap(node)
    if node.type == "string":
        return [_Piece(js.js_string(node) or "")]
    if node.type == "template_string":
        if node.parent is not None and node.parent.type == "call_expression":
            return None  # a tagged template: the tag binds the values
        out: list[_Piece] = []
        for child in node.named_children:
            if child.type == "template_substitution":
                inner = child.named_children[0] if child.named_children else None
                if inner is not None and node_text(inner) in constants:
                    out.append(_Piece(constants[node_text(inner)]))
                else:
                    out.append(_Piece(None, inner))
            else:
                out.append(_Piece(node_text(child)))
        return out
    if node.type == "binary_expression":
        operator = node.child_by_field_name("operator")
        left, right = node.child_by_field_name("left"), node.child_by_field_name("right")
        if operator is None or left is None or right is None or node_text(operator) != "+":
            return None
        parts = [_pieces(left, constants), _pieces(right, constants)]
        if all(p is None for p in parts):
            return None
        out = []
        for part, side in zip(parts, (left, right), strict=True):
            if part is not None:
                out.extend(part)
            elif side.type == "identifier" and node_text(side) in constants:
                out.append(_Piece(constants[node_text(side)]))
            else:
                out.append(_Piece(None, side))
        return out
    return None


def _check_built(
    ctx: FileContext, pieces: list[_Piece], call: tree_sitter.Node, scope: tree_sitter.Node
) -> Hit | None:
    if all(p.text is not None for p in pieces):
        return None
    template = "".join(p.text if p.text is not None else _HOLE for p in pieces)
    if not _DML.match(template):
        return None
    before = ""
    for piece in pieces:
        if piece.text is not None:
            before += piece.text
            continue
        value = piece.value
        quoted = before.replace("''", "").count("'") % 2 == 1 and not _NAMES_TABLE.search(
            before[: before.rfind("'")]
        )
        compared = (
            value is not None
            and _COMPARED.search(before) is not None
            and value.type == "identifier"
            and js.is_parameter(node_text(value), call)
        )
        if (
            value is None
            or before.endswith("$")  # pg's $${i + 1}: a placeholder's number
            or not (quoted or compared)
            or _safe_value(value, scope)
        ):
            before += "?"
            continue
        function = js.enclosing_function(call)
        hit = node_hit(
            ctx,
            value,
            named_by=call,
            details={
                "function": _describe(function),
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


def _describe(function: tree_sitter.Node | None) -> str:
    if function is None:
        return "This module"
    name = js.js_function_name(function)
    if name != "<anonymous>":
        return f"{name}()"
    call = syntax.enclosing(function, "call_expression")
    return f"the {js.js_callee(call)}() callback" if call is not None else "This function"


def _fragment(before: str, value: tree_sitter.Node) -> str:
    tail = before[before.rfind("\n") + 1 :].lstrip()
    if len(tail) > 40:
        tail = tail[-40:]
        tail = tail[tail.find(" ") + 1 :]
    return f"{tail}<{node_text(value)}>"


def _safe_value(value: tree_sitter.Node, scope: tree_sitter.Node, depth: int = 0) -> bool:
    """A value that cannot carry SQL: a literal, a constant, a number, a placeholder list,
    an identifier's name, or a value an escaping function returned."""
    value = js.unwrap(value)
    text = node_text(value)
    if value.type in {"number", "true", "false", "null", "undefined", "string"}:
        return True
    if _SAFE_NAME.search(text) or re.search(r"""["'`]\?["'`]""", text):
        return True
    last = text.rsplit(".", 1)[-1]
    if value.type in {"identifier", "member_expression"} and (
        _IDENTIFIER_NAME.search(last) or _CONSTANT.match(last) or last == "length"
    ):
        return True
    if value.type == "call_expression":
        callee = js.js_callee(value)
        name = callee.rsplit(".", 1)[-1]
        if callee in _SAFE_CALLS or name in _SAFE_CALLS or _SAFE_NAME.search(name):
            return True
        args = js.js_arguments(value)
        if name in {"replace", "replaceAll"} and args and "'" in node_text(args[0]):
            return True  # quotes escaped or doubled
        if callee == "String" and len(args) == 1:
            return _safe_value(args[0], scope, depth + 1)
        return False
    if value.type in {"binary_expression", "unary_expression"}:
        operator = value.child_by_field_name("operator")
        return operator is not None and node_text(operator) in {"-", "*", "/", "%", "|", "&"}
    if value.type == "ternary_expression":
        branches = [
            value.child_by_field_name("consequence"),
            value.child_by_field_name("alternative"),
        ]
        return all(b is not None and _safe_value(b, scope, depth + 1) for b in branches)
    if value.type != "identifier" or depth > 2:
        return False
    if _numeric_parameter(text, value):
        return True
    if scope.type not in js.JS_FUNCTION_TYPES:
        return False
    for node in js.own_nodes(scope, "variable_declarator", "for_in_statement"):
        if node.type == "for_in_statement":
            left, right = node.child_by_field_name("left"), node.child_by_field_name("right")
            if (
                left is not None
                and right is not None
                and node_text(left).split()[-1] == text
                and js.unwrap(right).type == "array"
            ):
                return True
            continue
        left, right = node.child_by_field_name("name"), node.child_by_field_name("value")
        if left is not None and right is not None and node_text(left) == text:
            right = js.unwrap(right)
            if right.type != "identifier" and _safe_value(right, scope, depth + 1):
                return True
    return False


def _numeric_parameter(name: str, node: tree_sitter.Node) -> bool:
    function = js.enclosing_function(node)
    parameters = function.child_by_field_name("parameters") if function is not None else None
    if parameters is None:
        return False
    for parameter in parameters.named_children:
        pattern = parameter.child_by_field_name("pattern") or parameter.child_by_field_name("left")
        if pattern is not None and node_text(pattern) == name:
            return bool(_NUMERIC_TYPE.search(node_text(parameter)))
    return False


RULE = Rule(meta=META, doc=__doc__ or "", check_repo=check_repo)
