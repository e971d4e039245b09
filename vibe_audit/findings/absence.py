"""Verify absence findings: re-run the search that shows the missing thing is missing.

A finding about something missing (no busy_timeout anywhere, no SIGTERM handler) carries an
``AbsenceSearch``: a Python regular expression and a scope, the finding's file or every
audited file. Verification runs it over the audited text (the redacted source the model
saw): a match means the thing is there after all, and the finding is dropped as "absence
refuted"; no match keeps it, its evidence lines being where the missing thing belongs
(checked as quotes like any evidence, by ``verify``).

The pattern comes from a model, so it is compiled with care: it must compile as a Python
regular expression, be at most ``MAX_PATTERN`` characters, hold no backreference and no
repetition inside a repetition (the shapes that backtrack catastrophically); the search
itself runs under a time limit when the ``regex`` engine is installed (it is, with
tiktoken). A pattern that fails any of this drops the finding with its reason: the absence
cannot be shown, so it is not reported as shown.
"""

from __future__ import annotations

import importlib
import re
import time
from collections.abc import Callable
from typing import Any

from vibe_audit.schemas.models import Finding

REFUTED = "absence refuted"
INVALID = "absence pattern invalid"
UNSAFE = "absence pattern unsafe"
TIMED_OUT = "absence search timed out"
MAX_PATTERN = 500
SEARCH_SECONDS = 2.0  # for one finding's search over all its files

_REPEATS = frozenset({"MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"})
_BACKREFERENCES = frozenset({"GROUPREF", "GROUPREF_EXISTS"})

# (text, seconds left) -> whether the pattern occurs; raises TimeoutError.
Search = Callable[[str, float], bool]


def _optional(name: str) -> Any:
    try:
        return importlib.import_module(name)
    except ImportError:  # pragma: no cover - present with CPython 3.11+ / tiktoken
        return None


_PARSER = _optional("re._parser")
_REGEX = _optional("regex")


def compile_search(pattern: str) -> tuple[Search | None, str]:
    """A search for the pattern, or None and the reason it cannot be run safely."""
    if not pattern.strip():
        return None, INVALID
    if len(pattern) > MAX_PATTERN:
        return None, UNSAFE
    try:
        compiled = re.compile(pattern, re.MULTILINE)
    except (re.error, RecursionError, OverflowError):
        return None, INVALID
    if _PARSER is not None and _unsafe(_PARSER.parse(pattern, re.MULTILINE)):
        return None, UNSAFE
    if _REGEX is not None:
        try:
            engine = _REGEX.compile(pattern, _REGEX.MULTILINE | _REGEX.VERSION0)
        except Exception:  # a pattern Python's re accepts and regex does not
            engine = None
        if engine is not None:

            def timed(text: str, seconds: float) -> bool:
                return engine.search(text, timeout=max(seconds, 0.001)) is not None

            return timed, ""

    def plain(text: str, seconds: float) -> bool:
        return compiled.search(text) is not None

    return plain, ""


def _unsafe(items: Any, in_repeat: bool = False) -> bool:
    """Whether a parsed pattern holds a backreference or a repetition inside a repetition."""
    for op, arg in items:
        name = str(op)
        if name in _BACKREFERENCES:
            return True
        if name in _REPEATS:
            low, high, sub = arg
            repeats = high != low or high > 1
            if (in_repeat and repeats) or _unsafe(sub, in_repeat or repeats):
                return True
        elif name == "SUBPATTERN":
            if _unsafe(arg[-1], in_repeat):
                return True
        elif name == "BRANCH":
            if any(_unsafe(branch, in_repeat) for branch in arg[1]):
                return True
        elif name in ("ASSERT", "ASSERT_NOT"):
            if _unsafe(arg[1], in_repeat):
                return True
        elif name == "ATOMIC_GROUP" and _unsafe(arg, in_repeat):
            return True
    return False


def refutation(finding: Finding, lines_by_path: dict[str, list[str]]) -> str | None:
    """Why an absence finding is dropped (its search matched, or cannot be run), or None
    when it stands (no absence search, or nothing found)."""
    if finding.absence is None:
        return None
    search, reason = compile_search(finding.absence.pattern)
    if search is None:
        return reason
    whole = finding.absence.scope == "repository"
    paths = sorted(lines_by_path) if whole else [finding.location.path]
    deadline = time.monotonic() + SEARCH_SECONDS
    for path in paths:
        lines = lines_by_path.get(path)
        if lines is None:
            continue
        try:
            if search("\n".join(lines), deadline - time.monotonic()):
                return REFUTED
        except TimeoutError:
            return TIMED_OUT
        if time.monotonic() > deadline:
            return TIMED_OUT
    return None


def check_absences(
    findings: list[Finding], lines_by_path: dict[str, list[str]], dropped: dict[str, int]
) -> list[Finding]:
    """The findings whose absence search (if any) still finds nothing; the others are
    counted in ``dropped`` by reason."""
    kept: list[Finding] = []
    for finding in findings:
        reason = refutation(finding, lines_by_path)
        if reason is None:
            kept.append(finding)
        else:
            dropped[reason] = dropped.get(reason, 0) + 1
    return kept
