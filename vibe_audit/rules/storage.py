"""Helpers shared by the storage rules (SQLite, checkpoint files, schema guardrails).

They read SQL out of Python string literals (what a call executes, what a name is bound to),
find PRAGMA settings outside docstrings, and follow a temp file's name from where it is
created to where it is renamed.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

import tree_sitter

from vibe_audit.chunker.parsing import node_text
from vibe_audit.rules import syntax
from vibe_audit.rules.context import FileContext
from vibe_audit.rules.literals import is_docstring, literal_text

SQLITE_MODULES = frozenset({"sqlite3", "aiosqlite"})
EXECUTE_METHODS = frozenset(
    {
        "execute",
        "executemany",
        "executescript",
        "exec_driver_sql",
        "execute_insert",
        "execute_fetchall",
    }
)
WRITE_SQL = re.compile(r"^\W*(INSERT|UPDATE|DELETE|REPLACE|UPSERT)\b", re.I)
SELECT_SQL = re.compile(r"^\W*(SELECT|WITH)\b", re.I)
PRAGMA_SET = re.compile(
    r"PRAGMA\s+(?:\w+\.)?([a-z_]+)\s*(?:=\s*['\"]?\s*(-?[A-Za-z0-9_]+)|\(\s*['\"]?(-?[A-Za-z0-9_]+))",
    re.I,
)
_STRING_TYPES = frozenset({"string", "concatenated_string"})


def sql_argument(call: tree_sitter.Node, constants: dict[str, str]) -> str | None:
    """The SQL text a ``*.execute(sql, ...)``-style call runs: a literal or a bound name."""
    if syntax.last_name(syntax.callee(call)) not in EXECUTE_METHODS:
        return None
    args = syntax.positional_args(call)
    if not args:
        return None
    first = args[0]
    if first.type == "call" and syntax.last_name(syntax.callee(first)) == "text":
        inner = syntax.positional_args(first)  # SQLAlchemy text("...")
        first = inner[0] if inner else first
    if first.type in _STRING_TYPES:
        return literal_text(first)
    if first.type == "identifier":
        return constants.get(node_text(first))
    return None


@dataclass(frozen=True)
class PragmaSet:
    """One ``PRAGMA name = value`` (or ``PRAGMA name(value)``) in a non-docstring literal."""

    node: tree_sitter.Node
    line: int
    name: str
    value: str  # lower-cased


def pragma_settings(ctx: FileContext, names: frozenset[str]) -> Iterator[PragmaSet]:
    """PRAGMA settings of ``names`` in the file's string values, each at the start of a
    statement (docstrings and prose that mentions a PRAGMA are skipped)."""
    for string in syntax.of_type(ctx.root, "string"):
        if is_docstring(string):
            continue
        text = literal_text(string) or ""
        if "pragma" not in text.lower():
            continue
        for match in PRAGMA_SET.finditer(text):
            if not _statement_start(text, match.start()):
                continue  # prose that mentions a PRAGMA, not SQL
            name = match.group(1).lower()
            if name in names:
                value = (match.group(2) or match.group(3) or "").lower()
                line = syntax.line(string) + node_text(string).count("\n", 0, match.start())
                yield PragmaSet(string, line, name, value)


def _statement_start(text: str, offset: int) -> bool:
    """Only whitespace between ``offset`` and the string's start, a ';' or a line break."""
    before = text[:offset].rstrip(" \t")
    return before == "" or before.endswith((";", "\n", "\\n"))


def keyword_value(call: tree_sitter.Node, name: str) -> tree_sitter.Node | None:
    """The value node of keyword argument ``name`` of ``call``."""
    arguments = call.child_by_field_name("arguments")
    for arg in arguments.named_children if arguments is not None else []:
        if arg.type == "keyword_argument":
            key, value = arg.child_by_field_name("name"), arg.child_by_field_name("value")
            if key is not None and value is not None and node_text(key) == name:
                return value
    return None


def own_calls(function: tree_sitter.Node) -> list[tree_sitter.Node]:
    """Calls in a function's own body (not in nested functions), in source order."""
    return [n for n in syntax.body_nodes(function) if n.type == "call"]


def is_sqlite_file(ctx: FileContext) -> bool:
    return bool(ctx.imports & SQLITE_MODULES)


TEMP_FACTORIES = frozenset(
    {
        "tempfile.NamedTemporaryFile",
        "tempfile.mkstemp",
        "tempfile.mktemp",
        "NamedTemporaryFile",
        "mkstemp",
        "mktemp",
    }
)


def temp_names(call: tree_sitter.Node) -> set[str]:
    """Expressions that name the file a tempfile factory call creates.

    ``fd, tmp = mkstemp()`` gives ``tmp``; ``tmp = mktemp()`` gives ``tmp``;
    ``with NamedTemporaryFile() as f`` and ``f = NamedTemporaryFile()`` give ``f.name``
    (and any ``x = f.name`` is followed by the caller).
    """
    name = syntax.callee(call)
    parent = call.parent
    names: set[str] = set()
    if parent is not None and parent.type == "assignment":
        left = parent.child_by_field_name("left")
        if left is None:
            return names
        if left.type in {"pattern_list", "tuple_pattern"} and name.endswith("mkstemp"):
            targets = left.named_children
            if len(targets) == 2:
                names.add(node_text(targets[1]))
        elif left.type == "identifier":
            text = node_text(left)
            names.add(text if name.endswith(("mktemp", "mkstemp")) else f"{text}.name")
    elif parent is not None and parent.type == "as_pattern":
        alias = parent.child_by_field_name("alias")
        if alias is not None:
            names.add(f"{node_text(alias).strip()}.name")
    return names


def rename_source(call: tree_sitter.Node) -> str | None:
    """The source expression of a rename (os.replace(src, dst) or src.replace(dst))."""
    if not syntax.is_rename(call):
        return None
    name = syntax.callee(call)
    args = syntax.positional_args(call)
    if name in {"os.replace", "os.rename", "os.renames", "shutil.move"}:
        return node_text(args[0]) if args else None
    function = call.child_by_field_name("function")
    receiver = function.child_by_field_name("object") if function is not None else None
    return node_text(receiver) if receiver is not None else None


def aliases(function: tree_sitter.Node, names: set[str]) -> set[str]:
    """``names`` plus every plain name assigned from one of them (``path = f.name``)."""
    found = set(names)
    for node in syntax.body_nodes(function):
        if node.type != "assignment":
            continue
        left, right = node.child_by_field_name("left"), node.child_by_field_name("right")
        if left is None or right is None or left.type != "identifier":
            continue
        value = node_text(right)
        if value in found or (right.type == "call" and _wraps(right, found)):
            found.add(node_text(left))
    return found


def _wraps(call: tree_sitter.Node, names: set[str]) -> bool:
    """``Path(tmp)`` / ``str(tmp)`` / ``os.fspath(tmp)``: the same file under another type."""
    if syntax.last_name(syntax.callee(call)) not in {"Path", "str", "fspath", "PurePath"}:
        return False
    args = syntax.positional_args(call)
    return len(args) == 1 and node_text(args[0]) in names


_WRITE_MODE = re.compile(r"^[rwabxt+]*[wax][rwabxt+]*$|^[rwabxt+]*\+[rwabxt+]*$")


def open_mode(call: tree_sitter.Node, position: int) -> str | None:
    """The literal mode of ``open(path, mode)`` (``position`` 1) or ``p.open(mode)`` (0)."""
    args = syntax.positional_args(call)
    if len(args) > position:
        return syntax.string_value(args[position])
    value = keyword_value(call, "mode")
    return syntax.string_value(value) if value is not None else None


def written_files(function: tree_sitter.Node) -> dict[str, tree_sitter.Node]:
    """Expressions naming a file the function writes, each with the call that writes it.

    ``open(tmp, "w")``, ``tmp.open("wb")``, ``tmp.write_text(...)``, a NamedTemporaryFile
    (``f.name``) and ``fd, tmp = mkstemp()`` followed by ``os.fdopen(fd, "w")``/``os.write``.
    """
    found: dict[str, tree_sitter.Node] = {}
    for call in own_calls(function):
        name = syntax.callee(call)
        short = syntax.last_name(name)
        args = syntax.positional_args(call)
        if name in {"open", "io.open", "builtins.open"} and args:
            mode = open_mode(call, 1)
            if mode is not None and _WRITE_MODE.match(mode):
                found.setdefault(node_text(args[0]), call)
        elif short in {"open", "write_text", "write_bytes"} and "." in name:
            receiver = name.rsplit(".", 1)[0]
            mode = open_mode(call, 0) if short == "open" else "w"
            if mode is not None and _WRITE_MODE.match(mode):
                found.setdefault(receiver, call)
        elif name in TEMP_FACTORIES and not name.endswith("mktemp"):
            for temp in temp_names(call):
                found.setdefault(temp, call)
    return found


def fsyncs(function: tree_sitter.Node) -> bool:
    """The function calls fsync/fdatasync, or a helper whose name says it syncs."""
    return any(
        "fsync" in (callee := syntax.callee(call).lower()) or "fdatasync" in callee
        for call in own_calls(function)
    )


_CREATE_TABLE = re.compile(
    r"\bCREATE\s+(?:TEMP\w*\s+)?TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?([\"`\[]?[\w.]+[\"`\]]?)\s*\(",
    re.I,
)


@dataclass(frozen=True)
class Column:
    """One column definition of a CREATE TABLE statement."""

    name: str
    definition: str  # the whole definition, e.g. "status TEXT NOT NULL DEFAULT 'pending'"
    offset: int  # character offset of the definition in the SQL text


@dataclass(frozen=True)
class Table:
    name: str
    columns: list[Column]
    constraints: list[str]  # table-level CHECK / FOREIGN KEY / UNIQUE ... clauses


_TABLE_CONSTRAINT = re.compile(r"^(CONSTRAINT|CHECK|FOREIGN|PRIMARY|UNIQUE|EXCLUDE)\b", re.I)


def create_tables(sql: str) -> Iterator[Table]:
    """The CREATE TABLE statements in ``sql``, split into columns and table constraints."""
    for match in _CREATE_TABLE.finditer(sql):
        start = match.end()
        depth, index = 1, start
        while index < len(sql) and depth:
            depth += {"(": 1, ")": -1}.get(sql[index], 0)
            index += 1
        if depth:
            continue  # unbalanced: a fragment built by string formatting
        columns: list[Column] = []
        constraints: list[str] = []
        for offset, part in _split_top_level(sql[start : index - 1], start):
            stripped = part.strip()
            if not stripped:
                continue
            if _TABLE_CONSTRAINT.match(stripped):
                constraints.append(stripped)
                continue
            name = stripped.split()[0].strip('"`[]')
            lead = len(part) - len(part.lstrip())
            columns.append(Column(name, stripped, offset + lead))
        yield Table(match.group(1).strip('"`[]'), columns, constraints)


def _split_top_level(body: str, base: int) -> Iterator[tuple[int, str]]:
    depth, begin = 0, 0
    for index, char in enumerate(body):
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif char == "," and depth == 0:
            yield base + begin, body[begin:index]
            begin = index + 1
    yield base + begin, body[begin:]


def rename_destination(call: tree_sitter.Node) -> tree_sitter.Node | None:
    """The destination argument of a rename (os.replace(src, dst) or src.replace(dst))."""
    args = syntax.positional_args(call)
    if syntax.callee(call) in {"os.replace", "os.rename", "os.renames", "shutil.move"}:
        return args[1] if len(args) > 1 else None
    return args[0] if args else None


SCRATCH = re.compile(r"tmp|temp(?![lt])", re.I)  # not "template", "attempt"
_SCRATCH = SCRATCH


def scratch_destination(function: tree_sitter.Node, call: tree_sitter.Node) -> bool:
    """The rename's destination is itself in a temp location (``os.path.join(tempdir, n)``,
    or a name assigned from one): a scratch file being renamed, not state put in place."""
    destination = rename_destination(call)
    if destination is None:
        return False
    text = node_text(destination)
    if _SCRATCH.search(text):
        return True
    return destination.type == "identifier" and any(
        _SCRATCH.search(value) for value in _definitions(function, text, call)
    )


RENAME_TEXT = re.compile(
    r"\b(?:os\.(?:replace|rename|renames)|shutil\.move)\(|\.(?:replace|rename)\(\s*[\w.\[\]\"']+\s*\)"
)
WRITE_TEXT = re.compile(r"open\(|write_(?:text|bytes)\(|mkstemp|NamedTemporaryFile")


def functions_matching(ctx: FileContext, pattern: re.Pattern[str]) -> Iterator[tree_sitter.Node]:
    """The file's functions whose source text matches ``pattern`` (a cheap prefilter)."""
    if not pattern.search(ctx.source.text):
        return
    for function in syntax.functions(ctx.root):
        if pattern.search(node_text(function)):
            yield function


_CACHE = re.compile(r"cache|pyc\b|\.pyc", re.I)


def regenerable(ctx: FileContext, function: tree_sitter.Node, rename: tree_sitter.Node) -> bool:
    """The renamed file is a cache (by its file, function or destination name): it can be
    rebuilt, so losing it to a crash costs time, not data."""
    destination = rename_destination(rename)
    texts = [ctx.source.path.rsplit("/", 1)[-1], syntax.function_name(function)]
    if destination is not None:
        texts.append(node_text(destination))
        texts.extend(_definitions(function, node_text(destination), rename))
    return any(_CACHE.search(text) for text in texts)


def _definitions(function: tree_sitter.Node, name: str, before: tree_sitter.Node) -> list[str]:
    """Right-hand sides assigned to ``name`` in ``function`` before node ``before``."""
    found: list[str] = []
    for node in syntax.body_nodes(function):
        if node.type != "assignment" or node.start_byte > before.start_byte:
            continue
        left, right = node.child_by_field_name("left"), node.child_by_field_name("right")
        if left is not None and right is not None and node_text(left) == name:
            found.append(node_text(right))
    return found
