"""`vibe-audit review`: audit what a change touched and review the pull request."""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
from typing import Annotated

import typer

from vibe_audit.agent import run_audit
from vibe_audit.commands.options import (
    ApiKey,
    BaseUrl,
    CacheDir,
    IncludeTests,
    KeepDismissed,
    MaxCost,
    Model,
    Prompt,
    Quiet,
    RequireCoverage,
    RuleSet,
    check_coverage,
    check_rule_set,
)
from vibe_audit.commands.run import model_options, progress_reporter, say_line, write_atomic
from vibe_audit.errors import EXIT_FINDINGS, UserError
from vibe_audit.fixes import MAX_REPO_VERIFICATIONS
from vibe_audit.prompts import resolve_prompt_ids
from vibe_audit.review.bot import post, review_sarif, split, summary
from vibe_audit.review.diff import changed_lines, repo_root, resolve
from vibe_audit.review.github import GitHub
from vibe_audit.schemas import Plan, RunRequest, Severity

DEFAULT_API = "https://api.github.com"


def review(
    base: Annotated[
        str | None, typer.Option("--base", help="Compare against this ref (e.g. origin/main).")
    ] = None,
    head: Annotated[str, typer.Option("--head", help="The reviewed ref.")] = "HEAD",
    staged: Annotated[
        bool, typer.Option("--staged", help="Review the staged changes (pre-commit).")
    ] = False,
    path: Annotated[Path, typer.Option("--path", help="Inside the git work tree.")] = Path("."),
    prompt: Prompt = "all",
    model: Model = None,
    api_key: ApiKey = None,
    base_url: BaseUrl = None,
    max_cost: MaxCost = None,
    cache_dir: CacheDir = None,
    repo: Annotated[
        str | None, typer.Option("--repo", help="owner/name (default: $GITHUB_REPOSITORY).")
    ] = None,
    pr: Annotated[
        int | None, typer.Option("--pr", help="Pull request number (default: the event's).")
    ] = None,
    github_api: Annotated[
        str | None, typer.Option("--github-api", help="REST API URL (default: $GITHUB_API_URL).")
    ] = None,
    no_post: Annotated[bool, typer.Option("--no-post", help="Do not post to GitHub.")] = False,
    sarif: Annotated[Path | None, typer.Option("--sarif", help="Also write SARIF here.")] = None,
    fail_on: Annotated[
        Severity | None,
        typer.Option(
            "--fail-on",
            case_sensitive=False,
            help="Exit 1 when a finding introduced by the change is at or above this.",
        ),
    ] = None,
    quiet: Quiet = False,
    require_coverage: RequireCoverage = None,
    include_tests: IncludeTests = False,
    rules: RuleSet = "stable",
    keep_dismissed: KeepDismissed = False,
) -> None:
    """Audit the lines a change touched; post one review and one summary to the PR."""
    if not staged and base is None:
        raise UserError("review needs --base REF (or --staged)")
    audits = resolve_prompt_ids(prompt)
    say = (lambda _m: None) if quiet else say_line
    root = repo_root(path)
    changed = changed_lines(root, base=base, head=head, staged=staged)
    say(f"{sum(len(r) for r in changed.values())} changed hunk(s) in {len(changed)} file(s)")
    spec, options, config = model_options(
        root,
        audits=audits,
        say=say,
        model=model,
        api_key=api_key,
        base_url=base_url,
        max_cost=max_cost,
        cache_dir=cache_dir,
    )
    options = dataclasses.replace(options, keep_dismissed=keep_dismissed)
    request = RunRequest(
        target=str(root),
        audits=audits,
        model=spec,
        focus=changed,
        include=config.include,
        exclude=config.exclude,
        include_tests=include_tests,
        rules=check_rule_set(rules),
    )
    result = run_audit(
        request,
        say=say,
        model=options,
        progress=None if quiet else progress_reporter,
        patch_limit=MAX_REPO_VERIFICATIONS,  # suggestions come from verified patches only
    )
    assert not isinstance(result, Plan)
    outcome = split(result, changed)
    head_sha = "staged" if staged else resolve(root, head)
    text = summary(outcome, head_sha)
    typer.echo(text, nl=False)
    if sarif is not None:
        text_sarif = review_sarif(outcome, root, base=base, head=head, staged=staged)
        write_atomic(sarif, text_sarif, echo_on_failure=False)
    step_summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if step_summary:
        with open(step_summary, "a", encoding="utf-8") as handle:
            handle.write(text)
    target = _pull_request(repo, pr)
    token = os.environ.get("GITHUB_TOKEN")
    if not no_post and not staged and target is not None:
        if not token:
            raise UserError("posting a review needs GITHUB_TOKEN (or pass --no-post)")
        api = github_api or os.environ.get("GITHUB_API_URL") or DEFAULT_API
        client = GitHub(api, token, target[0])
        for line in post(client, target[1], outcome):
            say(line)
    check_coverage(result, require_coverage)
    if fail_on is not None and any(f.severity.at_least(fail_on) for f in outcome.introduced):
        raise typer.Exit(EXIT_FINDINGS)


def _pull_request(repo: str | None, pr: int | None) -> tuple[str, int] | None:
    """owner/name and number from flags, else from the GitHub Actions event payload."""
    repo = repo or os.environ.get("GITHUB_REPOSITORY")
    if pr is None and os.environ.get("GITHUB_EVENT_PATH"):
        try:
            event = json.loads(Path(os.environ["GITHUB_EVENT_PATH"]).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise UserError(f"cannot read the GitHub event payload: {exc}") from exc
        number = (event.get("pull_request") or {}).get("number")
        pr = int(number) if number is not None else None
        repo = repo or (event.get("repository") or {}).get("full_name")
    if repo and pr is not None:
        return repo, pr
    return None
