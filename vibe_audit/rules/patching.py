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


def append_item(
    ctx: FileContext, node: tree_sitter.Node, item: str, *, pad: str = ""
) -> LineEdit | None:
    """Append ``item`` to a bracketed list node (an argument list ``(a, b)``, an object
    literal ``{ a: 1 }``, an array) before its closing bracket, following the list's layout:
    ``, item`` on one line; on a line of its own, indented like the last entry, when entries
    stand one per line (with a trailing comma only when the list already ends with one). An
    empty list becomes ``(item)``, or ``{ item }`` with ``pad=" "``. None when a comment is
    the last thing before the closing bracket."""
    text = (node.text or b"").decode("utf-8", errors="replace")
    if len(text) < 2 or len(node.children) < 2:
        return None
    if "comment" in node.children[-2].type:
        return None
    opening, inner, closing = text[0], text[1:-1], text[-1]
    body = inner.rstrip()
    tail = inner[len(body) :]
    if not body.strip():
        return replace_node(ctx, node, f"{opening}{pad}{item}{pad}{closing}")
    trailing = body.endswith(",")
    if "\n" in tail:  # one entry per line: one more line like the last one
        last = node.named_children[-1] if node.named_children else node
        indent = indent_of(ctx, last.start_point[0] + 1)
        new = f"{body}\n{indent}{item}," if trailing else f"{body},\n{indent}{item}"
        return replace_node(ctx, node, f"{opening}{new}{tail}{closing}")
    new = f"{body} {item}," if trailing else f"{body}, {item}"
    return replace_node(ctx, node, f"{opening}{new}{tail}{closing}")


# --------------------------------------------------------------------------- Python helpers


def python_module_alias(ctx: FileContext, module: str) -> str | None:
    """The name a top-level ``import module`` / ``import module as x`` binds, else None."""
    for node in ctx.root.named_children:
        if node.type != "import_statement":
            continue
        for child in node.named_children:
            if child.type == "dotted_name" and (child.text or b"").decode() == module:
                return module
            if child.type == "aliased_import":
                name, alias = child.child_by_field_name("name"), child.child_by_field_name("alias")
                if name is not None and alias is not None and (name.text or b"").decode() == module:
                    return (alias.text or b"").decode()
    return None


def python_import(ctx: FileContext, module: str) -> LineEdit | None:
    """Insert ``import module`` among the file's top-level imports: before the first plain
    ``import`` that sorts after it, else after the last import (before the first statement
    after the docstring when there is none); None when the module is imported already
    (``python_module_alias``)."""
    if python_module_alias(ctx, module) is not None:
        return None
    children = [c for c in ctx.root.named_children if c.type != "comment"]
    imports = [
        c
        for c in children
        if c.type in {"import_statement", "import_from_statement", "future_import_statement"}
    ]
    plain = [c for c in imports if c.type == "import_statement"]
    after = next((c for c in plain if (c.text or b"").decode().split()[1] > module), None)
    if after is not None:  # in alphabetical order among the plain imports
        line = after.start_point[0] + 1
    elif imports:  # after the last plain import, else after the last import
        line = (plain or imports)[-1].end_point[0] + 2
    else:
        first = next(
            (
                c
                for i, c in enumerate(children)
                if not (
                    i == 0
                    and c.type == "expression_statement"
                    and c.named_child_count == 1
                    and c.named_children[0].type == "string"
                )
            ),
            None,
        )
        line = len(ctx.lines) + 1 if first is None else first.start_point[0] + 1
    return LineEdit(
        path=ctx.source.path, start_line=line, end_line=line - 1, text=f"import {module}\n"
    )


def python_import_edits(ctx: FileContext, modules: list[str]) -> list[LineEdit]:
    """Edits importing every module of ``modules`` the file does not import yet, each where
    ``python_import`` puts it (one edit per place), or [] when it imports them all."""
    by_line: dict[int, LineEdit] = {}
    for module in sorted(modules):
        edit = python_import(ctx, module)
        if edit is None:
            continue
        if edit.start_line in by_line:
            edit = by_line[edit.start_line]
            edit = edit.model_copy(update={"text": edit.text + f"import {module}\n"})
        by_line[edit.start_line] = edit
    return [by_line[line] for line in sorted(by_line)]


def whole_lines(ctx: FileContext, node: tree_sitter.Node) -> bool:
    """``node`` stands on its own lines: only indentation before it on its first line and
    nothing but a comment after it on its last."""
    lines = _lines(ctx)
    first, last = node.start_point[0], node.end_point[0]
    head = lines[first][: _char_column(lines[first], node.start_point[1])]
    tail = lines[last][_char_column(lines[last], node.end_point[1]) :].strip()
    return not head.strip() and (not tail or tail.startswith("#"))
