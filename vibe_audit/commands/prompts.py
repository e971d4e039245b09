"""`vibe-audit prompts`: list the audit templates, show one, render a request for a chunk."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from vibe_audit.agent.context_pack import build_context_pack
from vibe_audit.agent.requests import hints_for
from vibe_audit.chunker import discover, slice_file
from vibe_audit.errors import UserError
from vibe_audit.index import indexed
from vibe_audit.prompts import load_audits, resolve_prompt_ids
from vibe_audit.prompts.render import render_request, render_system
from vibe_audit.rules.engine import run_rules
from vibe_audit.schemas import AuditId

app = typer.Typer(help="The five audit templates.", no_args_is_help=True)


@app.command("list")
def list_prompts() -> None:
    """One line per audit: id, version, item count, categories, title."""
    for spec in load_audits().values():
        typer.echo(
            f"{spec.id:<12} {spec.version}  {len(spec.checklist):>3} items  "
            f"{spec.title}  [{', '.join(spec.categories)}]"
        )


@app.command("show")
def show(
    audit_id: Annotated[str, typer.Argument(metavar="ID", help="Audit id.")],
    render: Annotated[
        Path | None,
        typer.Option("--render", help="Render the full request for a chunk of this file."),
    ] = None,
    symbol: Annotated[
        str | None, typer.Option("--symbol", help="With --render: the chunk's symbol.")
    ] = None,
    root: Annotated[
        Path | None,
        typer.Option(
            "--root",
            help="With --render: the tree the rule hints come from (default: the file's folder).",
        ),
    ] = None,
) -> None:
    """Print the template as sent (system message), or a whole request with --render."""
    audit = _one(audit_id)
    spec = load_audits()[audit]
    if render is None:
        typer.echo(render_system(spec), nl=False)
        return
    if not render.is_file():
        raise UserError(f"--render {render}: not a file")
    tree = discover(root or render.parent)
    rel = _rel(render, tree.root)
    source = next((f for f in tree.files if f.path == rel), None)
    if source is None:
        reason = next((s.reason for s in tree.skipped if s.path == rel), "not discovered")
        raise UserError(f"--render {render}: not an auditable file ({reason})")
    chunks = slice_file(source)
    chosen = [c for c in chunks if symbol is None or c.symbol == symbol]
    if not chosen:
        names = ", ".join(sorted({c.symbol or "" for c in chunks}))
        raise UserError(f"--symbol {symbol}: not in {render}; symbols: {names}")
    repo = indexed(tree.files)
    findings = run_rules(repo, [audit])
    context = build_context_pack(repo.facts, audit)
    request = render_request(spec, chosen[0], hints_for(chosen[0], findings, audit), context)
    typer.echo(f"=== system ({spec.id} template {spec.version})\n{request.system}")
    typer.echo(f"=== user ({request.chunk_id})\n{request.user}", nl=False)


def _rel(path: Path, root: Path) -> str:
    try:
        return path.resolve().relative_to(root).as_posix()
    except ValueError as exc:
        raise UserError(f"--render {path} is not inside --root {root}") from exc


def _one(audit_id: str) -> AuditId:
    audits = resolve_prompt_ids(audit_id)
    if len(audits) != 1:
        raise UserError("prompts show takes one audit id")
    return audits[0]
