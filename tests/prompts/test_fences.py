"""Every code fence in the audit templates is closed: an unclosed ```python turns the rest
of the system message (severities, rubric, checklist) into a code block for the model."""

from __future__ import annotations

import re
from typing import Any

import pytest

from vibe_audit.prompts import get_audit
from vibe_audit.prompts.render import render_system
from vibe_audit.schemas import AUDIT_IDS

_FENCE = re.compile(r"^\s*(`{3,}|~{3,})(.*)$")


def unclosed_fences(text: str) -> list[int]:
    """Line numbers of fences still open at the end of ``text`` (CommonMark: a fence closes
    on a line of at least as many of the same character and no info string)."""
    opened: tuple[int, str] | None = None
    for number, line in enumerate(text.splitlines(), 1):
        match = _FENCE.match(line)
        if match is None:
            continue
        marker, info = match.group(1), match.group(2).strip()
        if opened is None:
            opened = (number, marker)
        elif marker[0] == opened[1][0] and len(marker) >= len(opened[1]) and not info:
            opened = None
    return [opened[0]] if opened else []


def test_the_checker_finds_an_unclosed_fence() -> None:
    assert unclosed_fences("a\n```python\nx = 1\n") == [2]
    assert unclosed_fences("a\n```python\nx = 1\n```\n") == []
    assert unclosed_fences("```\n```python\n") == [1]  # an info string does not close


@pytest.mark.parametrize("audit", AUDIT_IDS)
def test_the_system_message_has_no_unclosed_fence(audit: str) -> None:
    assert unclosed_fences(render_system(get_audit(audit))) == []  # type: ignore[arg-type]


@pytest.mark.parametrize("audit", AUDIT_IDS)
def test_every_checklist_item_closes_its_own_fences(audit: str) -> None:
    """Each item's detail is self-contained (a fence left open in one item swallows the
    items after it)."""
    spec = get_audit(audit)  # type: ignore[arg-type]
    open_items = [item.id for item in spec.checklist if unclosed_fences(item.detail)]
    assert open_items == []


def _markdown(text: str) -> list[Any]:
    markdown_it = pytest.importorskip("markdown_it")  # installed with rich (typer's)
    return list(markdown_it.MarkdownIt("commonmark").parse(text))


def _unclosed_parsed(text: str) -> list[int]:
    """Fences a CommonMark parser closes only at the end of the text (1-based lines)."""
    lines = text.splitlines()
    out = []
    for token in _markdown(text):
        if token.type == "fence" and token.map is not None:
            last = lines[token.map[1] - 1].strip() if token.map[1] <= len(lines) else ""
            if not last.startswith(token.markup) or token.map[1] - 1 == token.map[0]:
                out.append(token.map[0] + 1)
    return out


def _headings(text: str) -> list[str]:
    tokens = _markdown(text)
    return [
        tokens[n + 1].content
        for n, token in enumerate(tokens)
        if token.type == "heading_open" and n + 1 < len(tokens)
    ]


def test_the_parser_check_finds_an_unclosed_fence() -> None:
    assert _unclosed_parsed("a\n```python\nx = 1\n") == [2]
    assert _unclosed_parsed("a\n```python\nx = 1\n```\n\n## After\n") == []
    assert _headings("```python\nx = 1\n\n## Swallowed\n") == []


@pytest.mark.parametrize("audit", AUDIT_IDS)
def test_the_system_message_parses_as_markdown_with_every_section_outside_code(
    audit: str,
) -> None:
    """Parsed as CommonMark: no fence runs to the end, and every section heading the
    renderer writes (checklist sections, severities, rubric) is a heading, not code."""
    spec = get_audit(audit)  # type: ignore[arg-type]
    system = render_system(spec)
    assert _unclosed_parsed(system) == []
    headings = _headings(system)
    expected = ["Environment & Assumptions", "Checklist", "Risk categories"]
    expected += ["Severity definitions", *dict.fromkeys(i.section for i in spec.checklist)]
    expected += [h for h in dict.fromkeys(r.section for r in spec.requirements)]
    assert [h for h in expected if h not in headings] == []
    assert any(h.startswith(spec.score_name) for h in headings)


@pytest.mark.parametrize("audit", AUDIT_IDS)
def test_the_template_body_parses_as_markdown(audit: str) -> None:
    spec = get_audit(audit)  # type: ignore[arg-type]
    assert _unclosed_parsed(spec.body) == []
    assert {"Role", "Primary Goal"} <= set(_headings(spec.body))
