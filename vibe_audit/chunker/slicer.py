"""Slice a parsed file into chunks: one per top-level function or class, plus module code.

Module-level statements between definitions are grouped into runs; each run is one
``<module>`` chunk. Line numbers are 1-based and inclusive. Methods and oversized symbols
are split further by the chunker issue; here a class is one chunk.
"""

from __future__ import annotations

import hashlib

import tree_sitter

from vibe_audit.chunker.parsing import node_text, parse
from vibe_audit.chunker.tokens import count_tokens
from vibe_audit.schemas import Chunk, SourceFile

_DEFINITIONS = {"function_definition": "function", "class_definition": "class"}
_IMPORTS = {"import_statement", "import_from_statement", "future_import_statement"}


def slice_file(source: SourceFile) -> list[Chunk]:
    tree = parse(source.language, source.text)
    lines = source.text.splitlines()
    imports = [node_text(n) for n in tree.root_node.children if n.type in _IMPORTS]
    chunks: list[Chunk] = []
    module_run: list[tree_sitter.Node] = []

    def flush_module() -> None:
        if module_run:
            start = module_run[0].start_point.row + 1
            end = _end_line(module_run[-1])
            chunks.append(_chunk(source, lines, "module", "<module>", start, end, imports))
            module_run.clear()

    for node in tree.root_node.named_children:
        definition = (
            node.child_by_field_name("definition") if node.type == "decorated_definition" else node
        )
        kind = _DEFINITIONS.get(definition.type) if definition is not None else None
        if kind is None or definition is None:
            module_run.append(node)
            continue
        flush_module()
        name_node = definition.child_by_field_name("name")
        symbol = node_text(name_node) if name_node is not None else "<anonymous>"
        chunks.append(
            _chunk(source, lines, kind, symbol, node.start_point.row + 1, _end_line(node), imports)
        )
    flush_module()
    return chunks


def _end_line(node: tree_sitter.Node) -> int:
    # A node ending at column 0 ends on the previous line (its trailing newline).
    row, col = node.end_point
    return max(node.start_point.row + 1, row if col == 0 else row + 1)


def _chunk(
    source: SourceFile,
    lines: list[str],
    kind: str,
    symbol: str,
    start: int,
    end: int,
    imports: list[str],
) -> Chunk:
    text = "\n".join(lines[start - 1 : end]) + "\n"
    return Chunk(
        id=f"{source.path}#{symbol}@{start}-{end}",
        path=source.path,
        language=source.language,
        kind="module" if kind == "module" else ("class" if kind == "class" else "function"),
        symbol=symbol,
        start_line=start,
        end_line=end,
        text=text,
        content_hash=hashlib.sha256(text.encode("utf-8")).hexdigest(),
        tokens=count_tokens(text),
        imports=imports,
    )
