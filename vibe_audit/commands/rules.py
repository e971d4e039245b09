"""`vibe-audit rules`: the built-in rules, listed and documented from their own metadata."""

from __future__ import annotations

import difflib
import json
from enum import StrEnum
from typing import Annotated

import typer

from vibe_audit.errors import UserError
from vibe_audit.prompts import resolve_prompt_ids
from vibe_audit.rules import precision
from vibe_audit.rules.base import Rule
from vibe_audit.rules.engine import load_rules
from vibe_audit.schemas import Severity

app = typer.Typer(help="The built-in rules (the engine used when no model is set).")


class ListFormat(StrEnum):
    text = "text"
    md = "md"
    json = "json"


@app.command("list")
def list_rules(
    audit: Annotated[
        str | None,
        typer.Option("--audit", "-p", help="Only rules serving these audits (ids, or 'all')."),
    ] = None,
    language: Annotated[
        str | None, typer.Option("--language", help="Only rules reading this language.")
    ] = None,
    output: Annotated[ListFormat, typer.Option("--format", "-f", help="Output format.")] = (
        ListFormat.text
    ),
) -> None:
    """One line per rule: id, severity, confidence, audits, languages, measured precision on
    real code (benchmarks/precision.py), title; experimental rules are marked."""
    rules = list(load_rules().values())
    if audit is not None:
        wanted = set(resolve_prompt_ids(audit))
        rules = [r for r in rules if wanted & set(r.meta.categories)]
    if language is not None:
        known = sorted({lang for r in load_rules().values() for lang in r.meta.languages})
        if language not in known:
            raise UserError(f"--language {language}: no rule reads it; known: {', '.join(known)}")
        rules = [r for r in rules if language in r.meta.languages]
    if output is ListFormat.json:
        payload = [_as_json(rule) for rule in rules]
        typer.echo(json.dumps(payload, indent=2, ensure_ascii=False))
    elif output is ListFormat.md:
        typer.echo(markdown_table(rules), nl=False)
    else:
        width = max((len(r.meta.id) for r in rules), default=0)
        for rule in rules:
            meta = rule.meta
            mark = " [experimental: --rules experimental]" if meta.experimental else ""
            typer.echo(
                f"{meta.id:<{width}}  {meta.severity.value:<8} {meta.confidence.value:<6} "
                f"{','.join(meta.categories):<34} {','.join(meta.languages):<28} "
                f"{precision.label(meta.id):<14} {meta.title}{mark}"
            )
        experimental = sum(1 for r in rules if r.meta.experimental)
        typer.echo(
            f"{len(rules)} rule(s), {experimental} experimental (off unless --rules "
            "experimental); precision: true positives on the real-world corpus",
            err=True,
        )


@app.command("show")
def show(rule_id: Annotated[str, typer.Argument(metavar="ID", help="Rule id.")]) -> None:
    """The rule's metadata, checklist items and documentation."""
    rules = load_rules()
    rule = rules.get(rule_id)
    if rule is None:
        close = difflib.get_close_matches(rule_id, list(rules), n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else "; see `vibe-audit rules list`"
        raise UserError(f"unknown rule '{rule_id}'{hint}")
    meta = rule.meta
    summary, _, body = rule.doc.strip().partition("\n")
    categories = ", ".join(f"{audit}: {category}" for audit, category in meta.categories.items())
    low, high = meta.effort_hours
    typer.echo(f"{meta.id}: {meta.title}")
    typer.echo(f"  {summary.strip()}")
    typer.echo(f"  severity    {meta.severity.value}  (confidence {meta.confidence.value})")
    typer.echo(f"  audits      {categories}")
    typer.echo(f"  checklist   {', '.join(meta.checklist)}")
    typer.echo(f"  languages   {', '.join(meta.languages)}")
    typer.echo(f"  checks      {rule_scope(rule)}")
    typer.echo(f"  effort      {low:g}-{high:g} h per finding")
    typer.echo(f"  precision   {precision.label(meta.id)} on the real-world corpus")
    if meta.experimental:
        typer.echo("  experimental: below the precision gate; runs only with --rules experimental")
    if meta.needs_concurrency:
        typer.echo("  severity    at most MEDIUM where the code shows no concurrency")
    typer.echo("")
    typer.echo(body.strip("\n"))
    typer.echo(f"\nSuppress one finding with `# vibe-audit: ignore[{meta.id}]` on its line.")


def markdown_table(rules: list[Rule]) -> str:
    """The README's rule table, generated (tests/test_docs.py checks the README matches)."""
    lines = [
        "| rule | severity | audits | languages | precision on real code | finds |",
        "|---|---|---|---|---|---|",
    ]
    order = list(Severity)
    for rule in sorted(rules, key=lambda r: (order.index(r.meta.severity), r.meta.id)):
        meta = rule.meta
        mark = " (experimental)" if meta.experimental else ""
        lines.append(
            f"| `{meta.id}`{mark} | {meta.severity.value} | {', '.join(meta.categories)} | "
            f"{', '.join(meta.languages)} | {precision.label(meta.id)} | {meta.title} |"
        )
    return "\n".join(lines) + "\n"


def rule_scope(rule: Rule) -> str:
    parts = []
    if rule.check_file is not None:
        parts.append("each file")
    if rule.check_repo is not None:
        parts.append("the whole repository (facts across files)")
    return " and ".join(parts)


def _as_json(rule: Rule) -> dict[str, object]:
    meta = rule.meta.model_dump(mode="json")
    meta["doc"] = rule.doc.strip()
    found = precision.measured().get(rule.meta.id)
    meta["measured_precision"] = (
        None
        if found is None
        else {"findings": found.findings, "true_positives": found.true_positives}
    )
    meta["scope"] = rule_scope(rule)
    return meta
