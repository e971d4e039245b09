"""The `vibe-audit` command line.

Exit codes come from vibe_audit.errors: 0 clean, 1 findings at/above --fail-on,
2 usage or configuration error, 3 run failure.
"""

from __future__ import annotations

import os
import sys
from typing import Annotated

import typer
from typer.exceptions import TyperException

from vibe_audit import __version__
from vibe_audit.commands import eval as eval_commands
from vibe_audit.commands import prompts as prompts_commands
from vibe_audit.commands import rules as rules_commands
from vibe_audit.commands.chunks import chunks as chunks_command
from vibe_audit.commands.fix import fix as fix_command
from vibe_audit.commands.index import index as index_command
from vibe_audit.commands.review import review as review_command
from vibe_audit.commands.run import run as run_command
from vibe_audit.errors import (
    EXIT_CLEAN,
    EXIT_INTERRUPTED,
    EXIT_RUN,
    EXIT_USAGE,
    RAISE_ENV,
    VibeAuditError,
)
from vibe_audit.prompts import get_audit
from vibe_audit.report.json import render_schema
from vibe_audit.schemas import AUDIT_IDS

app = typer.Typer(
    name="vibe-audit",
    help="Audit a repository for data-integrity, concurrency, checkpoint, SQLite and "
    "reliability defects.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


app.add_typer(prompts_commands.app, name="prompts")
app.add_typer(rules_commands.app, name="rules")
app.add_typer(eval_commands.app, name="eval")
app.command("chunks")(chunks_command)
app.command("index")(index_command)
app.command("run")(run_command)
app.command("review")(review_command)
app.command("fix")(fix_command)


def _say(message: str) -> None:
    typer.echo(f"vibe-audit: {message}", err=True)


@app.command()
def schema() -> None:
    """Print the JSON Schema of the report (`run --format json` validates against it)."""
    typer.echo(render_schema(), nl=False)


def version_text() -> str:
    """The version and each audit template's version (a content hash: part of the cache key)."""
    lines = [f"vibe-audit {__version__}"]
    lines += [f"  {a}: template {get_audit(a).version}" for a in AUDIT_IDS]
    return "\n".join(lines)


@app.command()
def version() -> None:
    """Print the version and the audit templates' versions."""
    typer.echo(version_text())


def _show_version(value: bool) -> None:
    if value:
        typer.echo(version_text())
        raise typer.Exit(EXIT_CLEAN)


@app.callback()
def main_options(
    show_version: Annotated[
        bool,
        typer.Option(
            "--version",
            callback=_show_version,
            is_eager=True,
            help="Print the version and the templates' versions, and exit.",
        ),
    ] = False,
) -> None:
    """Audit a repository for data-integrity, concurrency, checkpoint, SQLite and reliability
    defects."""


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
    except KeyboardInterrupt:
        result = EXIT_INTERRUPTED
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
    if result == EXIT_INTERRUPTED:  # typer turns Ctrl-C into exit 130 itself
        _say(
            "interrupted: every model answer received so far is in the response cache (and "
            "--batch batches are resumed): the same command continues where this one stopped"
        )
    return result if isinstance(result, int) else EXIT_CLEAN


def main() -> None:
    sys.exit(cli(sys.argv[1:]))
