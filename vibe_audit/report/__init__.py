"""Renderers: one function per output format, looked up by name."""

from collections.abc import Callable

from vibe_audit.report.html import render_html
from vibe_audit.report.json import render_json
from vibe_audit.report.markdown import render_markdown
from vibe_audit.report.sarif import render_sarif
from vibe_audit.report.terminal import render_summary
from vibe_audit.schemas import Report

RENDERERS: dict[str, Callable[[Report], str]] = {
    "md": render_markdown,
    "json": render_json,
    "sarif": render_sarif,
    "html": render_html,
}

__all__ = [
    "RENDERERS",
    "render_html",
    "render_json",
    "render_markdown",
    "render_sarif",
    "render_summary",
]
