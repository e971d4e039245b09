"""`vibe-audit index`: the repository's shared resources and who reads and writes them."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from vibe_audit.chunker import DiscoveryOptions, discover
from vibe_audit.commands.options import (
    DEFAULT_MAX_FILE_BYTES,
    Exclude,
    Include,
    IncludeTests,
    MaxFileBytes,
)
from vibe_audit.errors import UserError
from vibe_audit.index import indexed
from vibe_audit.schemas.resources import RESOURCE_KINDS, Access, ResourceMap


class IndexFormat(StrEnum):
    table = "table"
    json = "json"


def index(
    path: Annotated[Path, typer.Argument(help="Repository, directory or file to index.")] = Path(
        "."
    ),
    output_format: Annotated[
        IndexFormat, typer.Option("--format", "-f", help="Output format.")
    ] = IndexFormat.table,
    kind: Annotated[
        list[str] | None,
        typer.Option("--kind", "-k", help=f"Only this kind (repeat): {', '.join(RESOURCE_KINDS)}."),
    ] = None,
    include: Include = None,
    exclude: Exclude = None,
    max_file_bytes: MaxFileBytes = DEFAULT_MAX_FILE_BYTES,
    include_tests: IncludeTests = False,
) -> None:
    """Print the resource map of PATH: who reads and writes each shared resource.

    Resources are SQL tables, checkpoint directories and file paths, locks, queues,
    connection registries and module-level mutable objects."""
    unknown = sorted(set(kind or ()) - set(RESOURCE_KINDS))
    if unknown:
        raise UserError(f"--kind {', '.join(unknown)}: known kinds are {', '.join(RESOURCE_KINDS)}")
    found = discover(
        path,
        DiscoveryOptions(
            max_bytes=max_file_bytes,
            include=tuple(include or ()),
            exclude=tuple(exclude or ()),
            include_tests=include_tests,
        ),
    )
    if not found.files:
        reasons = ", ".join(f"{r}: {n}" for r, n in found.skip_counts().items()) or "empty"
        raise UserError(f"nothing to index under {path} ({reasons})")
    resource_map = indexed(found.files).resources
    if kind:
        resource_map = resource_map.model_copy(
            update={"resources": [r for r in resource_map.resources if r.kind in kind]}
        )
    if output_format is IndexFormat.json:
        typer.echo(resource_map.model_dump_json(indent=2))
    else:
        typer.echo(render_table(resource_map), nl=False)


def render_table(resource_map: ResourceMap) -> str:
    """One block per resource: its kind and name, then a line per writer and per reader."""
    lines: list[str] = []
    for resource in resource_map.resources:
        lines.append(f"{resource.kind:<18} {resource.name}")
        for label, accesses in (("writes", resource.writers), ("reads", resource.readers)):
            lines += [f"  {label:<6} {_where(a)}" for a in accesses]
    counts = {k: len(resource_map.of_kind(k)) for k in RESOURCE_KINDS}
    summary = ", ".join(f"{n} {k}" for k, n in counts.items() if n) or "no shared resources"
    lines += ["", f"{summary} in {resource_map.files} file(s)"]
    return "\n".join(lines) + "\n"


def _where(access: Access) -> str:
    lines = ",".join(str(n) for n in access.lines)
    return f"{access.path}:{lines}  {access.symbol or '<module>'}  ({', '.join(access.operations)})"
