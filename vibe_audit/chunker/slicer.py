"""Slice a file into chunks by symbol, with context.

- Each top-level function and class-like definition is a chunk, with its decorators,
  attributes and the comments directly above it.
- A class-like definition larger than the token budget is sliced by member: each method is
  a chunk named ``Class.method`` (recursively for nested classes), and the rest of the class
  (signature, fields) forms ``Class`` chunks.
- A function larger than the budget is split at statement boundaries into parts that
  overlap by a few lines; parts are numbered ``i/n``.
- Every other line of the file (imports, constants, module code) forms ``<module>`` chunks,
  so every line with code is in some chunk (a run of lines that only close brackets, such
  as a class's final ``}``, is not worth a chunk of its own and is left out).
- Languages without a grammar are sliced in overlapping line windows.

Slicing uses the character estimate of tokens, never tiktoken, so a tree is sliced the same
way (same chunk ids, same cache keys) on every machine and slicing stays cheap.
``Chunk.tokens`` is that estimate until ``recount`` (one batched tiktoken pass over all
chunks, when the encoding is available) replaces it with exact counts.

Line numbers are 1-based and inclusive; chunk ids are ``path#symbol@start-end``.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from typing import Literal

import tree_sitter

from vibe_audit.chunker.languages import LANGUAGES, LanguageSpec
from vibe_audit.chunker.parsing import node_text, parse
from vibe_audit.chunker.tokens import count_tokens_batch, estimate_tokens
from vibe_audit.schemas import Chunk, SourceFile

MAX_CHUNK_TOKENS = 1500
OVERLAP_LINES = 3
WINDOW_LINES = 60
WINDOW_OVERLAP = 5
MAX_IMPORTS = 40
MAX_SETUP = 8
MAX_CONTEXT_LINE = 160

ChunkKind = Literal["module", "function", "class", "window"]
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")  # names a Python assignment defines
_CLOSING_ONLY = re.compile(r"^[\s\)\]\};,]*$")


@dataclass
class _Definition:
    node: tree_sitter.Node  # the definition itself (inside any wrapper)
    start: int  # 1-based, including decorators / leading comments
    end: int
    kind: Literal["function", "class"]
    name: str


@dataclass
class _File:
    source: SourceFile
    spec: LanguageSpec
    lines: list[str]
    max_tokens: int
    imports: list[str] = field(default_factory=list)
    setup: list[tuple[set[str], str, int, int]] = field(default_factory=list)

    def text(self, start: int, end: int) -> str:
        return "\n".join(self.lines[start - 1 : end]) + "\n"


def slice_file(source: SourceFile, max_tokens: int = MAX_CHUNK_TOKENS) -> list[Chunk]:
    spec = LANGUAGES[source.language]
    lines = source.text.splitlines()
    if not any(line.strip() for line in lines):
        return []
    if spec.grammar is None:
        return _windows(source, lines)
    root = parse(source.language, source.text).root_node
    file = _File(source=source, spec=spec, lines=lines, max_tokens=max_tokens)
    file.imports = [
        _first_line(node_text(n)) for n in root.named_children if n.type in spec.imports
    ][:MAX_IMPORTS]
    file.setup = _setup(root, spec)
    chunks: list[Chunk] = []
    definitions = _definitions(root, spec)
    for definition in definitions:
        chunks += _symbol_chunks(file, definition, qualifier=None, enclosing=None)
    for start, end in _gaps(lines, 1, len(lines), definitions):
        chunks.append(_chunk(file, "module", "<module>", start, end))
    return sorted(chunks, key=lambda c: (c.start_line, c.end_line))


def recount(chunks: list[Chunk]) -> None:
    """Replace the estimates in ``chunks`` with the best counter's counts, in one batch."""
    for chunk, tokens in zip(chunks, count_tokens_batch([c.text for c in chunks]), strict=True):
        chunk.tokens = tokens


def _first_line(text: str) -> str:
    first = text.strip().splitlines()[0] if text.strip() else ""
    return first[:MAX_CONTEXT_LINE]


def _row(node: tree_sitter.Node) -> int:
    return node.start_point.row + 1


def _end_row(node: tree_sitter.Node) -> int:
    row, col = node.end_point
    return max(node.start_point.row + 1, row if col == 0 else row + 1)


def _definitions(parent: tree_sitter.Node, spec: LanguageSpec) -> list[_Definition]:
    """Definitions directly under ``parent``, each extended over its leading comments."""
    found: list[_Definition] = []
    leading: list[tree_sitter.Node] = []
    for node in parent.named_children:
        if node.type in spec.leading:
            if leading and _row(node) > _end_row(leading[-1]) + 1:
                leading = []
            leading.append(node)
            continue
        definition = _as_definition(node, spec)
        if definition is not None:
            start = _row(node)
            if leading and _end_row(leading[-1]) + 1 >= start:
                start = _row(leading[0])
            definition.start = start
            found.append(definition)
        leading = []
    return found


def _as_definition(node: tree_sitter.Node, spec: LanguageSpec) -> _Definition | None:
    inner = node
    if node.type in spec.wrappers:
        inner = node.child_by_field_name("definition") or node.child_by_field_name(
            "declaration"
        ) or next(
            (c for c in node.named_children if c.type not in spec.leading), node
        )  # fmt: skip
    kind: Literal["function", "class"] | None = None
    if inner.type in spec.functions:
        kind = "function"
    elif inner.type in spec.containers:
        kind = "class"
    elif inner.type in {"lexical_declaration", "variable_declaration"} and _function_value(inner):
        kind = "function"
    if kind is None:
        return None
    return _Definition(
        node=inner, start=_row(node), end=_end_row(node), kind=kind, name=_name(inner)
    )


def _function_value(declaration: tree_sitter.Node) -> bool:
    declarators = [c for c in declaration.named_children if c.type == "variable_declarator"]
    if len(declarators) != 1:
        return False
    value = declarators[0].child_by_field_name("value")
    return value is not None and value.type in {
        "arrow_function", "function_expression", "function", "generator_function",
    }  # fmt: skip


def _name(node: tree_sitter.Node) -> str:
    if node.type == "method_declaration" and node.child_by_field_name("receiver") is not None:
        receiver = node.child_by_field_name("receiver")
        types = [n for n in _descendants(receiver) if n.type == "type_identifier"]
        method = node.child_by_field_name("name")
        prefix = node_text(types[0]) + "." if types else ""
        return prefix + (node_text(method) if method is not None else "<method>")
    if node.type == "impl_item":
        target = node.child_by_field_name("type")
        return node_text(target) if target is not None else "<impl>"
    if node.type == "type_declaration":
        spec = next((c for c in node.named_children if c.type in {"type_spec", "type_alias"}), None)
        name = spec.child_by_field_name("name") if spec is not None else None
        return node_text(name) if name is not None else "<type>"
    if node.type in {"lexical_declaration", "variable_declaration"}:
        declarator = next(c for c in node.named_children if c.type == "variable_declarator")
        name = declarator.child_by_field_name("name")
        return node_text(name) if name is not None else "<anonymous>"
    name = node.child_by_field_name("name")
    return node_text(name) if name is not None else f"<{node.type}>"


def _descendants(node: tree_sitter.Node | None) -> list[tree_sitter.Node]:
    if node is None:
        return []
    out, stack = [], [node]
    while stack:
        current = stack.pop()
        out.append(current)
        stack.extend(current.named_children)
    return out


def _gaps(
    lines: list[str], start: int, end: int, covered: list[_Definition]
) -> list[tuple[int, int]]:
    """Line ranges in [start, end] outside ``covered``, trimmed of blank edge lines."""
    taken = sorted((d.start, d.end) for d in covered)
    gaps, cursor = [], start
    for first, last in [*taken, (end + 1, end + 1)]:
        if first > cursor:
            gaps.append((cursor, first - 1))
        cursor = max(cursor, last + 1)
    trimmed = []
    for a, b in gaps:
        while a <= b and not lines[a - 1].strip():
            a += 1
        while b >= a and not lines[b - 1].strip():
            b -= 1
        if a <= b and not all(_CLOSING_ONLY.match(line) for line in lines[a - 1 : b]):
            trimmed.append((a, b))
    return trimmed


def _symbol_chunks(
    file: _File, definition: _Definition, qualifier: str | None, enclosing: str | None
) -> list[Chunk]:
    name = f"{qualifier}.{definition.name}" if qualifier else definition.name
    text = file.text(definition.start, definition.end)
    if estimate_tokens(text) <= file.max_tokens:
        return [_chunk(file, definition.kind, name, definition.start, definition.end, enclosing)]
    if definition.kind == "class":
        return _split_container(file, definition, name, enclosing)
    return _split_function(file, definition, name, enclosing)


def _split_container(
    file: _File, definition: _Definition, name: str, enclosing: str | None
) -> list[Chunk]:
    body = next((c for c in definition.node.named_children if c.type in file.spec.bodies), None)
    members = _definitions(body, file.spec) if body is not None else []
    if not members:
        return [_chunk(file, "class", name, definition.start, definition.end, enclosing)]
    signature = _signature(file, definition.node)
    chunks: list[Chunk] = []
    for member in members:
        chunks += _symbol_chunks(file, member, qualifier=name, enclosing=signature)
    for start, end in _gaps(file.lines, definition.start, definition.end, members):
        chunks.append(_chunk(file, "class", name, start, end, enclosing))
    return chunks


def _split_function(
    file: _File, definition: _Definition, name: str, enclosing: str | None
) -> list[Chunk]:
    statements = _statements(definition.node, file.spec)
    if len(statements) < 2:
        return [_chunk(file, "function", name, definition.start, definition.end, enclosing)]
    pieces: list[list[tree_sitter.Node]] = [[]]
    for statement in statements:
        current = pieces[-1]
        if current:
            start = _row(current[0])
            if estimate_tokens(file.text(start, _end_row(statement))) > file.max_tokens:
                pieces.append([])
        pieces[-1].append(statement)
    if len(pieces) == 1:
        return [_chunk(file, "function", name, definition.start, definition.end, enclosing)]
    ranges = []
    for index, piece in enumerate(pieces):
        start = (
            definition.start
            if index == 0
            else max(definition.start, _row(piece[0]) - OVERLAP_LINES)
        )
        end = definition.end if index == len(pieces) - 1 else _end_row(piece[-1])
        ranges.append((start, end))
    signature = _signature(file, definition.node)
    return [
        _chunk(
            file, "function", name, start, end, enclosing,
            part=f"{index}/{len(ranges)}", signature=signature if index > 1 else None,
        )
        for index, (start, end) in enumerate(ranges, start=1)
    ]  # fmt: skip


def _signature(file: _File, node: tree_sitter.Node) -> str:
    """The line that names a definition (after its decorators or annotations)."""
    name = node.child_by_field_name("name") or node.child_by_field_name("type")
    row = _row(name) if name is not None else _row(node)
    return _first_line(file.lines[row - 1])


def _statements(function: tree_sitter.Node, spec: LanguageSpec) -> list[tree_sitter.Node]:
    body = function.child_by_field_name("body") or next(
        (c for c in function.named_children if c.type in spec.statement_blocks), None
    )
    while body is not None:
        inner = [c for c in body.named_children if c.type in spec.statement_blocks]
        if len(body.named_children) == 1 and inner:
            body = inner[0]  # Go: block -> statement_list
            continue
        return [c for c in body.named_children if c.type not in spec.leading]
    return []


def _setup(root: tree_sitter.Node, spec: LanguageSpec) -> list[tuple[set[str], str, int, int]]:
    """Module-level statements that define names: (names, first line, start, end)."""
    found = []
    for node in root.named_children:
        if node.type not in spec.setup:
            continue
        names = _defined_names(node)
        if names:
            found.append((names, _first_line(node_text(node)), _row(node), _end_row(node)))
    return found


def _defined_names(node: tree_sitter.Node) -> set[str]:
    if node.type == "expression_statement":  # Python: NAME = ... / NAME: T = ...
        target = node.named_children[0] if node.named_children else None
        if target is None or target.type != "assignment":
            return set()
        left = target.child_by_field_name("left")
        return set(_IDENTIFIER.findall(node_text(left))) if left is not None else set()
    names = set()
    for child in _descendants(node):
        if child.type in {
            "variable_declarator",
            "var_spec",
            "const_spec",
            "const_item",
            "static_item",
        }:
            name = child.child_by_field_name("name")
            if name is not None:
                names.add(node_text(name))
    return names


def _chunk(
    file: _File,
    kind: ChunkKind,
    symbol: str,
    start: int,
    end: int,
    enclosing: str | None = None,
    part: str | None = None,
    signature: str | None = None,
) -> Chunk:
    text = file.text(start, end)
    source = file.source
    setup = [
        line
        for names, line, first, last in file.setup
        if not (start <= first and last <= end) and any(_uses(text, name) for name in names)
    ][:MAX_SETUP]
    if signature:
        enclosing = f"{enclosing} / {signature}" if enclosing else signature
    return Chunk(
        id=f"{source.path}#{symbol}" + (f"[{part}]" if part else "") + f"@{start}-{end}",
        path=source.path,
        language=source.language,
        kind=kind,
        symbol=symbol,
        part=part,
        start_line=start,
        end_line=end,
        text=text,
        content_hash=hashlib.sha256(text.encode("utf-8")).hexdigest(),
        tokens=estimate_tokens(text),
        imports=file.imports,
        enclosing=enclosing,
        setup=setup,
    )


def _uses(text: str, name: str) -> bool:
    """Whether ``text`` mentions identifier ``name`` (substring search, then word check)."""
    position = text.find(name)
    while position != -1:
        before = text[position - 1] if position else " "
        after = text[position + len(name) : position + len(name) + 1] or " "
        if not (before.isalnum() or before == "_" or after.isalnum() or after == "_"):
            return True
        position = text.find(name, position + 1)
    return False


def _windows(source: SourceFile, lines: list[str]) -> list[Chunk]:
    file = _File(
        source=source, spec=LANGUAGES[source.language], lines=lines, max_tokens=MAX_CHUNK_TOKENS
    )
    chunks = []
    start = 1
    while start <= len(lines):
        end = min(len(lines), start + WINDOW_LINES - 1)
        if any(line.strip() for line in lines[start - 1 : end]):
            chunks.append(_chunk(file, "window", f"<lines {start}-{end}>", start, end))
        if end == len(lines):
            break
        start = end - WINDOW_OVERLAP + 1
    return chunks
