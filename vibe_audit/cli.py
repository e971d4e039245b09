"""The `vibe-audit` command line.

Exit codes come from vibe_audit.errors: 0 clean, 1 findings at/above --fail-on,
2 usage or configuration error, 3 run failure.
"""

from __future__ import annotations

import os
import sys
import tempfile
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from typer.exceptions import TyperException

from vibe_audit import __version__
from vibe_audit.agent import run_audit
from vibe_audit.commands import prompts as prompts_commands
from vibe_audit.commands.chunks import chunks as chunks_command
from vibe_audit.commands.options import DEFAULT_MAX_FILE_BYTES, Exclude, Include, MaxFileBytes
from vibe_audit.errors import (
    EXIT_CLEAN,
    EXIT_FINDINGS,
    EXIT_RUN,
    EXIT_USAGE,
    RAISE_ENV,
    OutputWriteError,
    UserError,
    VibeAuditError,
)
from vibe_audit.prompts import resolve_prompt_ids
from vibe_audit.report import RENDERERS, render_summary
from vibe_audit.report.json import render_schema
from vibe_audit.rules.engine import rules_for
from vibe_audit.schemas import RunRequest, Severity
from vibe_audit.schemas.suppress import baseline_text, read_baseline

MODEL_ENV = "VIBE_AUDIT_MODEL"

app = typer.Typer(
    name="vibe-audit",
    help="Audit a repository for data-integrity, concurrency, checkpoint, SQLite and "
    "reliability defects.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


app.add_typer(prompts_commands.app, name="prompts")
app.command("chunks")(chunks_command)


class OutputFormat(StrEnum):
    md = "md"
    json = "json"
    sarif = "sarif"
    html = "html"


def _say(message: str) -> None:
    typer.echo(f"vibe-audit: {message}", err=True)


@app.command()
def run(
    path: Annotated[Path, typer.Argument(help="Repository, directory or file to audit.")] = Path(
        "."
    ),
    prompt: Annotated[
        str,
        typer.Option(
            "--prompt",
            "-p",
            help="Audit id (concurrency, checkpoint, sqlite, reliability, "
            "guardrails), a comma-separated list, or 'all'.",
        ),
    ] = "all",
    output_format: Annotated[
        OutputFormat, typer.Option("--format", "-f", help="Report format.")
    ] = OutputFormat.md,
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Write the report to FILE (default: stdout).")
    ] = None,
    fail_on: Annotated[
        Severity | None,
        typer.Option(
            "--fail-on",
            case_sensitive=False,
            help="Exit 1 when a finding is at or above this severity.",
        ),
    ] = None,
    model: Annotated[
        str | None,
        typer.Option(
            "--model", help=f"Model spec (default: ${MODEL_ENV}, else 'static': the rule engine)."
        ),
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress messages.")] = False,
    include: Include = None,
    exclude: Exclude = None,
    max_file_bytes: MaxFileBytes = DEFAULT_MAX_FILE_BYTES,
    baseline: Annotated[
        Path | None,
        typer.Option("--baseline", help="Report only findings not in this baseline file."),
    ] = None,
    write_baseline: Annotated[
        Path | None,
        typer.Option("--write-baseline", help="Write the findings' fingerprints to this file."),
    ] = None,
) -> None:
    """Audit PATH and print one deduplicated, scored report."""
    audits = resolve_prompt_ids(prompt)
    for option, target in (("--out", out), ("--write-baseline", write_baseline)):
        if target is not None and (target.is_dir() or not target.parent.is_dir()):
            raise UserError(f"{option} {target}: not a writable file path (is its folder missing?)")
    known = read_baseline(baseline) if baseline is not None else set()
    say = (lambda _m: None) if quiet else _say
    spec = model or os.environ.get(MODEL_ENV) or "static"
    if spec == "static":
        rule_count = len(rules_for(audits))
        note = "" if model or os.environ.get(MODEL_ENV) else "no model configured; "
        say(f"{note}using the built-in rule engine ({rule_count} rules, no network)")
    request = RunRequest(
        target=str(path),
        audits=audits,
        model=spec,
        max_file_bytes=max_file_bytes,
        include=include or [],
        exclude=exclude or [],
        baseline=sorted(known),
    )
    report = run_audit(request, say=say)
    text = RENDERERS[output_format.value](report)
    if out is None:
        typer.echo(text, nl=False)
    else:
        _write_atomic(out, text)
        say(f"report written to {out}")
    if write_baseline is not None:
        _write_atomic(write_baseline, baseline_text(report.findings), echo_on_failure=False)
        say(f"baseline of {len(report.findings)} finding(s) written to {write_baseline}")
    if not quiet:
        typer.echo(render_summary(report), err=True)
    if fail_on is not None and report.findings_at_or_above(fail_on):
        raise typer.Exit(EXIT_FINDINGS)


def _write_atomic(out: Path, text: str, echo_on_failure: bool = True) -> None:
    """Write via a temp file + os.replace; on failure the report goes to stdout, not lost."""
    tmp_name = None
    try:
        with tempfile.NamedTemporaryFile(
            "w", encoding="utf-8", dir=out.parent, prefix=f".{out.name}.", delete=False
        ) as tmp:
            tmp_name = tmp.name
            tmp.write(text)
        os.chmod(tmp_name, 0o644)  # NamedTemporaryFile creates 0600; a report is not secret
        os.replace(tmp_name, out)
    except OSError as exc:
        if tmp_name is not None and os.path.exists(tmp_name):
            os.unlink(tmp_name)
        if echo_on_failure:
            typer.echo(text, nl=False)
        where = "; the report was printed to stdout" if echo_on_failure else ""
        raise OutputWriteError(f"could not write {out}: {exc.strerror or exc}{where}") from exc


@app.command()
def schema() -> None:
    """Print the JSON Schema of the report (`run --format json` validates against it)."""
    typer.echo(render_schema(), nl=False)


@app.command()
def version() -> None:
    """Print the version."""
    typer.echo(__version__)


def cli(argv: list[str] | None = None) -> int:
    """Run the app and return its exit code; every error is one line on stderr."""
    try:
        # Outside standalone mode, typer returns the code of a typer.Exit instead of raising.
        result = app(args=argv, prog_name="vibe-audit", standalone_mode=False)
    except VibeAuditError as exc:
        if os.environ.get(RAISE_ENV):
            raise
        _say(f"error: {exc.message}")
        return exc.exit_code
    except typer.Abort:
        _say("aborted")
        return EXIT_RUN
    except TyperException as exc:
        if os.environ.get(RAISE_ENV):
            raise
        if not exc.format_message().strip():
            return EXIT_USAGE  # bare `vibe-audit`: help was printed
        _say(f"error: {' '.join(exc.format_message().split())} (see --help)")
        return EXIT_USAGE
    except Exception as exc:
        if os.environ.get(RAISE_ENV):
            raise
        detail = " ".join(str(exc).split())
        _say(
            f"internal error: {type(exc).__name__}: {detail} "
            f"(set {RAISE_ENV}=1 to see the traceback)"
        )
        return EXIT_RUN
    return result if isinstance(result, int) else EXIT_CLEAN


def main() -> None:
    sys.exit(cli(sys.argv[1:]))
