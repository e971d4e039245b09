"""Build and apply a patch's line edits: the helpers rule fixers use.

A fixer (``Rule.fix``) returns a ``Patch`` whose ``LineEdit``s replace whole lines of the
hit's file. These helpers make the common edits from tree-sitter nodes so that fixers never
compute offsets by hand: replace a node's text in place, add an argument to a call, insert
statements after a node with its indentation.
"""

from __future__ import annotations

import itertools

import tree_sitter

from vibe_audit.rules.context import FileContext
from vibe_audit.schemas import LineEdit


def _lines(ctx: FileContext) -> list[str]:
    return ctx.source.text.splitlines(keepends=True)


def indent_of(ctx: FileContext, line: int) -> str:
    """The leading whitespace of 1-based ``line``."""
    text = ctx.lines[line - 1] if 0 < line <= len(ctx.lines) else ""
    return text[: len(text) - len(text.lstrip())]


def _char_column(line_text: str, byte_column: int) -> int:
    """tree-sitter columns are bytes; the line's text is characters."""
    return len(line_text.encode("utf-8")[:byte_column].decode("utf-8", errors="ignore"))


def replace_node(ctx: FileContext, node: tree_sitter.Node, new_text: str) -> LineEdit:
    """Replace ``node``'s text by ``new_text``, keeping the rest of its lines."""
    lines = _lines(ctx)
    first, last = node.start_point[0], node.end_point[0]
    head = lines[first][: _char_column(lines[first], node.start_point[1])]
    tail = lines[last][_char_column(lines[last], node.end_point[1]) :]
    text = head + new_text + tail
    if not text.endswith("\n"):
        text += "\n"
    return LineEdit(path=ctx.source.path, start_line=first + 1, end_line=last + 1, text=text)


def add_argument(ctx: FileContext, call: tree_sitter.Node, argument: str) -> LineEdit | None:
    """Append ``argument`` (``timeout=(3.05, 30)``) to a call's argument list, before its
    closing parenthesis; None when the call has no argument list to extend."""
    arguments = call.child_by_field_name("arguments")
    if arguments is None or arguments.type not in {"argument_list", "arguments"}:
        return None
    inner = (arguments.text or b"()").decode("utf-8", errors="replace")[1:-1]
    body = inner.rstrip()
    tail = inner[len(body) :]
    if not body.strip():
        return replace_node(ctx, arguments, f"({argument})")
    if "\n" in tail:  # one argument per line: add one more line like the last one
        last = arguments.named_children[-1] if arguments.named_children else arguments
        indent = indent_of(ctx, last.start_point[0] + 1)
        comma = "" if body.endswith(",") else ","
        return replace_node(ctx, arguments, f"({body}{comma}\n{indent}{argument},{tail})")
    separator = " " if body.endswith(",") else ", "
    return replace_node(ctx, arguments, f"({body}{separator}{argument}{tail})")


def insert_after(ctx: FileContext, node: tree_sitter.Node, statements: list[str]) -> LineEdit:
    """Insert ``statements`` (one per line, without indentation) after the line where
    ``node`` ends, indented like the line where ``node`` starts."""
    indent = indent_of(ctx, node.start_point[0] + 1)
    after = node.end_point[0] + 2  # the 1-based line following node's last line
    text = "".join(f"{indent}{statement}\n" for statement in statements)
    return LineEdit(path=ctx.source.path, start_line=after, end_line=after - 1, text=text)


def insert_before_line(ctx: FileContext, line: int, statements: list[str]) -> LineEdit:
    """Insert ``statements`` before 1-based ``line``, indented like it."""
    indent = indent_of(ctx, line)
    text = "".join(f"{indent}{statement}\n" for statement in statements)
    return LineEdit(path=ctx.source.path, start_line=line, end_line=line - 1, text=text)


def apply_edits(text: str, edits: list[LineEdit]) -> str:
    """``text`` with every edit applied (line numbers refer to the original text). Raises
    ValueError when two edits overlap or an edit lies outside the file."""
    missing_newline = bool(text) and not text.endswith("\n")
    lines = (text + "\n" if missing_newline else text).splitlines(keepends=True)
    ordered = sorted(edits, key=lambda e: (e.start_line, e.end_line))
    for before, after in itertools.pairwise(ordered):
        if after.start_line <= max(before.end_line, before.start_line - 1):
            raise ValueError(f"edits at lines {before.start_line} and {after.start_line} overlap")
    for edit in reversed(ordered):
        if edit.start_line > len(lines) + 1 or edit.end_line > len(lines):
            raise ValueError(f"edit at line {edit.start_line} is outside the file")
        lines[edit.start_line - 1 : edit.end_line] = [edit.text] if edit.text else []
    result = "".join(lines)
    return result.removesuffix("\n") if missing_newline else result


def new_lines(edits: list[LineEdit]) -> list[tuple[int, int]]:
    """The 1-based line ranges the edits' new text occupies in the edited file (inclusive;
    empty ranges for deletions are left out)."""
    ranges: list[tuple[int, int]] = []
    shift = 0
    for edit in sorted(edits, key=lambda e: (e.start_line, e.end_line)):
        count = edit.text.count("\n")
        start = edit.start_line + shift
        if count:
            ranges.append((start, start + count - 1))
        shift += count - (edit.end_line - edit.start_line + 1)
    return ranges


def moved_line(edits: list[LineEdit], line: int) -> int:
    """Where an original line outside every edit ends up in the edited file."""
    shift = 0
    for edit in edits:
        if edit.end_line < line:
            shift += edit.text.count("\n") - (edit.end_line - edit.start_line + 1)
    return line + shift
