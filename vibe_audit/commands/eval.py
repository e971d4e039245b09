"""`vibe-audit eval`: compare models on the labeled corpora; `eval compare A.json B.json`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from vibe_audit.agent.run import ModelOptions
from vibe_audit.commands.options import ApiKey, BaseUrl, Concurrency, Prompt, Quiet, Timeout
from vibe_audit.commands.run import model_options, say_line, write_atomic
from vibe_audit.errors import UserError
from vibe_audit.evals.labels import LabelError, label_file
from vibe_audit.evals.leaderboard import (
    load_result,
    render_compare,
    render_html,
    render_json,
    render_markdown,
    render_png,
)
from vibe_audit.evals.suite import DOUBLES, double_options, packaged_corpora, run_eval
from vibe_audit.prompts import resolve_prompt_ids

app = typer.Typer(
    help="Compare models on the labeled corpora: precision, recall, F1, cost, stability.",
    invoke_without_command=True,
)


@app.callback()
def evaluate(
    ctx: typer.Context,
    models: Annotated[
        str,
        typer.Option(
            "--models",
            "-m",
            help="Comma-separated: static, oracle, noisy-oracle (test doubles), or model specs "
            "such as openai:gpt-4.1-mini, anthropic:claude-sonnet-4-6.",
        ),
    ] = "static,oracle",
    prompt: Prompt = "all",
    repeat: Annotated[
        int, typer.Option("--repeat", min=1, max=20, help="Runs per model (stability).")
    ] = 1,
    max_cost: Annotated[
        float | None, typer.Option("--max-cost", min=0, help="USD cap per model.")
    ] = None,
    corpus: Annotated[
        list[Path] | None,
        typer.Option("--corpus", help="A labeled service folder (repeat; default: packaged)."),
    ] = None,
    out_dir: Annotated[
        Path,
        typer.Option("--out-dir", help="Where leaderboard.{md,json,html,png} are written."),
    ] = Path("vibe-audit-eval"),
    api_key: ApiKey = None,
    base_url: BaseUrl = None,
    concurrency: Concurrency = None,
    timeout: Timeout = None,
    quiet: Quiet = False,
    triage: Annotated[
        str | None,
        typer.Option(
            "--triage",
            metavar="MODEL",
            help="Also run each model with this triage model first (e.g. noisy-oracle, "
            "openai:gpt-4.1-nano): recall and cost with and without triage.",
        ),
    ] = None,
) -> None:
    """Run each model over the labeled corpora and print the leaderboard."""
    if ctx.invoked_subcommand is not None:
        return
    say = (lambda _m: None) if quiet else say_line
    names = [m.strip() for m in models.split(",") if m.strip()]
    if not names or len(set(names)) != len(names):
        raise UserError("--models: give a comma-separated list of distinct models")
    audits = resolve_prompt_ids(prompt)
    corpora = [c.resolve() for c in corpus] if corpus else packaged_corpora()
    for folder in corpora:
        if not folder.is_dir() or label_file(folder) is None:
            raise UserError(f"--corpus {folder}: not a folder with LABELS.toml or DEFECTS.md")

    def options_for(spec: str) -> ModelOptions:
        if spec == "static" or spec.split(":", 1)[0] in DOUBLES.values():
            return double_options(spec)
        _, options, _ = model_options(
            Path("."),
            audits=audits,
            say=say,
            model=spec,
            api_key=api_key,
            base_url=base_url,
            concurrency=concurrency,
            timeout=timeout,
            no_cache=True,
        )
        return options

    try:
        result = run_eval(
            models=names,
            audits=audits,
            corpora=corpora,
            repeat=repeat,
            options_for=options_for,
            say=say,
            max_cost=max_cost,
            triage=triage,
        )
    except LabelError as exc:
        raise UserError(str(exc)) from exc
    markdown = render_markdown(result)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        typer.echo(markdown, nl=False)
        raise UserError(f"--out-dir {out_dir}: {exc.strerror or exc}") from exc
    typer.echo(markdown, nl=False)
    write_atomic(out_dir / "leaderboard.json", render_json(result), echo_on_failure=False)
    write_atomic(out_dir / "leaderboard.md", markdown, echo_on_failure=False)
    write_atomic(out_dir / "leaderboard.png", render_png(result), echo_on_failure=False)
    write_atomic(
        out_dir / "leaderboard.html", render_html(result, "leaderboard.png"), echo_on_failure=False
    )
    say(f"wrote leaderboard.md, .json, .html and .png to {out_dir}")


@app.command("compare")
def compare(
    before: Annotated[Path, typer.Argument(metavar="A.json", help="An earlier eval result.")],
    after: Annotated[Path, typer.Argument(metavar="B.json", help="A later eval result.")],
) -> None:
    """Per model in both results: each metric in A and B and the change."""
    typer.echo(
        render_compare(
            load_result(before), load_result(after), a_name=before.name, b_name=after.name
        ),
        nl=False,
    )
