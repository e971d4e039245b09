"""Renderers: one function per output format, looked up by name."""

from collections.abc import Callable

from vibe_audit.report.json import render_json
from vibe_audit.report.markdown import render_markdown
from vibe_audit.schemas import Report

RENDERERS: dict[str, Callable[[Report], str]] = {"md": render_markdown, "json": render_json}

__all__ = ["RENDERERS", "render_json", "render_markdown"]
