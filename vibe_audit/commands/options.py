"""Options shared by the commands, declared once: those of every command that reads a tree
(chunks, index, run, review) and those of the commands that call a model (run, review, eval).

Each is an ``Annotated`` type a command's parameter takes, with its default beside it.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated, Literal

import typer

from vibe_audit.chunker.discover import MAX_FILE_BYTES
from vibe_audit.errors import CoverageError, UserError
from vibe_audit.report import RENDERERS
from vibe_audit.schemas import AUDIT_IDS, Report

MODEL_ENV = "VIBE_AUDIT_MODEL"

# The report formats are the renderers' names: a new renderer is a new --format choice.
OutputFormat = StrEnum(  # type: ignore[misc]  # members come from the registry, not literals
    "OutputFormat", [(name, name) for name in RENDERERS]
)
DEFAULT_FORMAT = OutputFormat("md")
ReportFormat = Annotated[OutputFormat, typer.Option("--format", "-f", help="Report format.")]
Out = Annotated[
    Path | None, typer.Option("--out", "-o", help="Write the report to FILE (default: stdout).")
]
Prompt = Annotated[
    str,
    typer.Option(
        "--prompt",
        "-p",
        help=f"Audit id ({', '.join(AUDIT_IDS)}), a comma-separated list, or 'all'.",
    ),
]
Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="No progress messages.")]

# The model options of run, review and eval; model_options() in commands/run.py resolves
# them against the config file and the environment.
Model = Annotated[
    str | None,
    typer.Option(
        "--model",
        help="static | openai:<model> | anthropic:<model> | ollama:<model> | "
        f"openai-compat:<base-url>#<model> (default: config, then ${MODEL_ENV}, then static).",
    ),
]
ApiKey = Annotated[
    str | None, typer.Option("--api-key", help="API key (default: config, then environment).")
]
BaseUrl = Annotated[
    str | None, typer.Option("--base-url", help="Send model requests to this base URL.")
]
Concurrency = Annotated[
    int | None, typer.Option("--concurrency", min=1, help="Parallel model requests (8).")
]
Timeout = Annotated[
    float | None, typer.Option("--timeout", min=1, help="Seconds per model call (60).")
]
MaxCost = Annotated[
    float | None, typer.Option("--max-cost", min=0, help="Stop spending at this many USD.")
]
CacheDir = Annotated[
    Path | None,
    typer.Option("--cache-dir", help="Response cache folder (default: ~/.cache/vibe-audit)."),
]

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
        "Rust #\\[cfg(test)] modules). Skipped by default and counted as 'test code (skipped)'.",
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
