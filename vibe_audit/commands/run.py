"""`vibe-audit run`: audit a tree and write one report."""

from __future__ import annotations

import dataclasses
import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer

from vibe_audit.agent import ModelOptions, run_audit
from vibe_audit.agent.batch import BatchSettings
from vibe_audit.agent.cache import default_cache_dir
from vibe_audit.agent.config import FileConfig, load_config, retry_backoff
from vibe_audit.agent.planner import render_plan
from vibe_audit.agent.providers import ProviderSettings
from vibe_audit.agent.runner import Progress, RunnerSettings
from vibe_audit.commands.options import (
    DEFAULT_FORMAT,
    DEFAULT_MAX_FILE_BYTES,
    MODEL_ENV,
    ApiKey,
    BaseUrl,
    CacheDir,
    Concurrency,
    Exclude,
    Include,
    IncludeTests,
    KeepDismissed,
    MaxCost,
    MaxFileBytes,
    Model,
    NoInteractionContext,
    Out,
    Prompt,
    Quiet,
    ReportFormat,
    RequireCoverage,
    RuleSet,
    Timeout,
    check_coverage,
    check_rule_set,
)
from vibe_audit.errors import EXIT_FINDINGS, OutputWriteError, RunError, UserError
from vibe_audit.findings.suppress import baseline_text, read_baseline
from vibe_audit.prompts import resolve_prompt_ids
from vibe_audit.report import RENDERERS, render_summary
from vibe_audit.report.terminal import strict_losses
from vibe_audit.rules.engine import rules_for
from vibe_audit.schemas import AuditId, JobOutcome, Plan, RunRequest, Severity


def say_line(message: str) -> None:
    typer.echo(f"vibe-audit: {message}", err=True)


def run(
    path: Annotated[Path, typer.Argument(help="Repository, directory or file to audit.")] = Path(
        "."
    ),
    prompt: Prompt = "all",
    output_format: ReportFormat = DEFAULT_FORMAT,
    out: Out = None,
    fail_on: Annotated[
        Severity | None,
        typer.Option(
            "--fail-on", case_sensitive=False, help="Exit 1 when a finding is at or above this."
        ),
    ] = None,
    model: Model = None,
    api_key: ApiKey = None,
    base_url: BaseUrl = None,
    concurrency: Concurrency = None,
    timeout: Timeout = None,
    max_output_tokens: Annotated[
        int | None, typer.Option("--max-output-tokens", min=64, help="Per answer (4096).")
    ] = None,
    max_cost: MaxCost = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print the plan (jobs, tokens, cost); call nothing.")
    ] = False,
    no_cache: Annotated[
        bool, typer.Option("--no-cache", help="Do not read or write the cache.")
    ] = False,
    cache_dir: CacheDir = None,
    quiet: Quiet = False,
    strict: Annotated[
        bool,
        typer.Option(
            "--strict",
            help="Exit 3 when a model request failed or was skipped, a finding was dropped "
            "(invalid in an answer, or by verification), or an answer came back empty where "
            "the rules or the interaction context flag the code.",
        ),
    ] = False,
    require_coverage: RequireCoverage = None,
    no_interaction_context: NoInteractionContext = False,
    keep_dismissed: KeepDismissed = False,
    triage: Annotated[
        str | None,
        typer.Option(
            "--triage",
            metavar="MODEL",
            help="A cheap model reads every routed chunk first; only chunks it (or a rule) "
            "flags go to --model. Its cost counts under --max-cost.",
        ),
    ] = None,
    batch: Annotated[
        bool,
        typer.Option(
            "--batch",
            help="Send the model requests through the provider's batch API (OpenAI Batch, "
            "Anthropic Message Batches): about half the price, answers within 24 h. Batch ids "
            "are kept in the cache: a stopped run is resumed by the same command.",
        ),
    ] = False,
    batch_poll: Annotated[
        float,
        typer.Option(
            "--batch-poll",
            min=0.01,
            help="Seconds before the first batch poll; "
            "the interval grows by half up to 10 minutes.",
        ),
    ] = BatchSettings.poll_s,
    batch_wait: Annotated[
        float,
        typer.Option(
            "--batch-wait",
            min=0,
            help="Stop waiting for batches after this many "
            "seconds (exit 5; the same command resumes them).",
        ),
    ] = BatchSettings.wait_s,
    include: Include = None,
    exclude: Exclude = None,
    max_file_bytes: MaxFileBytes = DEFAULT_MAX_FILE_BYTES,
    include_tests: IncludeTests = False,
    rules: RuleSet = "stable",
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
    say = (lambda _m: None) if quiet else say_line
    spec, options, config = model_options(
        path,
        audits=audits,
        say=say,
        model=model,
        api_key=api_key,
        base_url=base_url,
        concurrency=concurrency,
        timeout=timeout,
        max_output_tokens=max_output_tokens,
        max_cost=max_cost,
        dry_run=dry_run,
        no_cache=no_cache,
        cache_dir=cache_dir,
    )
    if triage is not None and spec == "static":
        raise UserError("--triage needs --model: it picks the chunks a model reads")
    if batch and spec == "static":
        raise UserError("--batch needs --model openai:... or anthropic:...")
    options = dataclasses.replace(
        options,
        interaction=not no_interaction_context,
        keep_dismissed=keep_dismissed,
        triage=triage,
        batch=BatchSettings(poll_s=batch_poll, wait_s=batch_wait) if batch else None,
    )
    request = RunRequest(
        target=str(path),
        audits=audits,
        model=spec,
        max_file_bytes=max_file_bytes,
        include=[*config.include, *(include or [])],
        exclude=[*config.exclude, *(exclude or [])],
        include_tests=include_tests,
        rules=check_rule_set(rules),
        baseline=sorted(known),
    )
    result = run_audit(
        request, say=say, model=options, progress=None if quiet else progress_reporter
    )
    if isinstance(result, Plan):
        typer.echo(render_plan(result), nl=False)
        if batch:
            typer.echo("costs are at the batch price (half the list price), as --batch bills")
        return
    report = result
    text = RENDERERS[output_format.value](report)
    if out is None:
        typer.echo(text, nl=False)
    else:
        write_atomic(out, text)
        say(f"report written to {out}")
    if write_baseline is not None:
        write_atomic(write_baseline, baseline_text(report.findings), echo_on_failure=False)
        say(f"baseline of {len(report.findings)} finding(s) written to {write_baseline}")
    if not quiet:
        typer.echo(render_summary(report), err=True)
    if strict and (lost := strict_losses(report)):
        raise RunError(f"--strict: {'; '.join(lost)}; the report was written but is partial")
    check_coverage(report, require_coverage)
    if fail_on is not None and report.findings_at_or_above(fail_on):
        raise typer.Exit(EXIT_FINDINGS)


def model_options(
    path: Path,
    *,
    audits: list[AuditId],
    say: Callable[[str], None],
    model: str | None = None,
    api_key: str | None = None,
    base_url: str | None = None,
    concurrency: int | None = None,
    timeout: float | None = None,
    max_output_tokens: int | None = None,
    max_cost: float | None = None,
    dry_run: bool = False,
    no_cache: bool = False,
    cache_dir: Path | None = None,
) -> tuple[str, ModelOptions, FileConfig]:
    """The model spec and options: flags, then config, then environment, then defaults.

    ``path`` is where the config file is looked for (the audited tree)."""
    config = load_config(path)
    backoff, backoff_max = retry_backoff(config)
    spec = model or config.model or os.environ.get(MODEL_ENV) or "static"
    if spec == "static":
        chosen = model or config.model or os.environ.get(MODEL_ENV)
        note = "" if chosen else "no model configured; "
        say(f"{note}using the built-in rule engine ({len(rules_for(audits))} rules, no network)")
    options = ModelOptions(
        settings=ProviderSettings(
            spec=spec,
            api_key=api_key or config.api_key,
            base_url=base_url or config.base_url,
            timeout_s=timeout or config.timeout or 60.0,
            max_output_tokens=max_output_tokens or config.max_output_tokens or 4096,
            plan_only=dry_run,
        ),
        runner=RunnerSettings(
            concurrency=concurrency or config.concurrency or 8,
            timeout_s=timeout or config.timeout or 60.0,
            max_cost_usd=max_cost if max_cost is not None else config.max_cost,
            backoff_base_s=RunnerSettings.backoff_base_s if backoff is None else backoff,
            backoff_max_s=RunnerSettings.backoff_max_s if backoff_max is None else backoff_max,
        ),
        cache_dir=None if no_cache else (cache_dir or default_cache_dir()),
        prices={k: (v.input, v.output) for k, v in config.pricing.items()},
        dry_run=dry_run,
    )
    return spec, options, config


def progress_reporter(total: int) -> Progress:
    """A rich progress bar on a terminal; a line per 10% otherwise."""
    done = {"jobs": 0, "tokens": 0, "cost": 0.0}
    if sys.stderr.isatty():
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

        bar = Progress(
            TextColumn("model requests"), BarColumn(), MofNCompleteColumn(),
            TextColumn("{task.fields[tokens]} tokens, ${task.fields[cost]:.4f}"),
            transient=True,
        )  # fmt: skip
        task = bar.add_task("jobs", total=total, tokens=0, cost=0.0)
        bar.start()

        def tick(outcome: JobOutcome) -> None:
            done["jobs"] += 1
            done["tokens"] += outcome.tokens_in + outcome.tokens_out
            done["cost"] += outcome.cost_usd
            bar.update(task, advance=1, tokens=done["tokens"], cost=done["cost"])
            if done["jobs"] >= total:
                bar.stop()

        return tick

    def line(outcome: JobOutcome) -> None:
        done["jobs"] += 1
        done["tokens"] += outcome.tokens_in + outcome.tokens_out
        done["cost"] += outcome.cost_usd
        step = max(1, total // 10)
        if done["jobs"] % step == 0 or done["jobs"] == total:
            say_line(
                f"{done['jobs']}/{total} model requests, {done['tokens']} tokens, "
                f"${done['cost']:.4f}"
            )

    return line


def write_atomic(out: Path, text: str | bytes, *, echo_on_failure: bool = True) -> None:
    """Write via a temp file + os.replace; on failure the report goes to stdout, not lost."""
    tmp_name = None
    data = text.encode("utf-8") if isinstance(text, str) else text
    try:
        with tempfile.NamedTemporaryFile(
            "wb", dir=out.parent, prefix=f".{out.name}.", delete=False
        ) as tmp:
            tmp_name = tmp.name
            tmp.write(data)
            tmp.flush()
            os.fsync(tmp.fileno())  # the new content is on disk before it replaces the old
        os.chmod(tmp_name, 0o644)  # NamedTemporaryFile creates 0600; a report is not secret
        os.replace(tmp_name, out)
    except OSError as exc:
        if tmp_name is not None and os.path.exists(tmp_name):
            os.unlink(tmp_name)
        if echo_on_failure and isinstance(text, str):
            typer.echo(text, nl=False)
        where = "; the report was printed to stdout" if echo_on_failure else ""
        raise OutputWriteError(f"could not write {out}: {exc.strerror or exc}{where}") from exc
