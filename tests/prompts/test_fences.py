"""Every code fence in the audit templates is closed: an unclosed ```python turns the rest
of the system message (severities, rubric, checklist) into a code block for the model."""

from __future__ import annotations

import re

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
