"""Options shared by commands that read a tree."""

from __future__ import annotations

from typing import Annotated, Literal

import typer

from vibe_audit.chunker.discover import MAX_FILE_BYTES
from vibe_audit.errors import CoverageError, UserError
from vibe_audit.schemas import Report

Include = Annotated[
    list[str] | None,
    typer.Option("--include", help="Only files matching this glob (gitignore syntax; repeat)."),
]
Exclude = Annotated[
    list[str] | None,
    typer.Option("--exclude", help="Skip files matching this glob (gitignore syntax; repeat)."),
]
MaxFileBytes = Annotated[
    int,
    typer.Option("--max-file-bytes", min=1, help="Skip files larger than this many bytes."),
]
DEFAULT_MAX_FILE_BYTES = MAX_FILE_BYTES
RuleSet = Annotated[
    str,
    typer.Option(
        "--rules",
        help="Built-in rules to run: 'stable' (default) or 'experimental' (adds the rules "
        "below the precision gate on real code; `vibe-audit rules list` shows them).",
    ),
]


def check_rule_set(value: str) -> Literal["stable", "experimental"]:
    if value == "stable":
        return "stable"
    if value == "experimental":
        return "experimental"
    raise UserError(f"--rules {value}: expected 'stable' or 'experimental'")


IncludeTests = Annotated[
    bool,
    typer.Option(
        "--include-tests",
        help="Audit test code too (test folders, test_*.py, *.spec.ts, conftest.py, fixtures, "
        "Rust #[cfg(test)] modules). Skipped by default and counted as 'test code (skipped)'.",
    ),
]
RequireCoverage = Annotated[
    float | None,
    typer.Option(
        "--require-coverage",
        min=0,
        max=100,
        help="Exit 4 when an audit read less than PCT% of the code routed to it "
        "(failed or clipped symbols count against it).",
    ),
]


def check_coverage(report: Report, required: float | None) -> None:
    """Raise CoverageError (exit 4) when an audit's coverage is below ``required``."""
    if required is None or report.coverage is None:
        return
    short = [
        f"{a.audit} {a.percent:g}% ({a.not_audited} not audited)"
        for a in report.coverage.audits
        if a.percent is not None and a.percent < required
    ]
    if short:
        raise CoverageError(
            f"--require-coverage {required:g}: below it: {', '.join(short)}; the report was "
            "written and lists what was not audited"
        )


KeepDismissed = Annotated[
    bool,
    typer.Option(
        "--keep-dismissed",
        help="Keep the rule findings a model dismissed (answering their hint) among the scored "
        "findings; they are listed under 'Dismissed by the model' either way.",
    ),
]
NoInteractionContext = Annotated[
    bool,
    typer.Option(
        "--no-interaction-context",
        help="Do not add the other readers and writers of the resources a request's code "
        "touches (tables, checkpoint files, shared objects) to model requests.",
    ),
]
