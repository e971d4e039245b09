"""`vibe-audit chunks`: show how a tree is discovered and sliced."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from vibe_audit.chunker import DiscoveryOptions, discover, recount, slice_file, token_counter
from vibe_audit.commands.options import (
    DEFAULT_MAX_FILE_BYTES,
    Exclude,
    Include,
    IncludeTests,
    MaxFileBytes,
)
from vibe_audit.schemas import ChunkListing


class ListingFormat(StrEnum):
    table = "table"
    json = "json"


def chunks(
    path: Annotated[Path, typer.Argument(help="Directory or file to slice.")] = Path("."),
    output_format: Annotated[
        ListingFormat, typer.Option("--format", "-f", help="Output format.")
    ] = ListingFormat.table,
    include: Include = None,
    exclude: Exclude = None,
    max_file_bytes: MaxFileBytes = DEFAULT_MAX_FILE_BYTES,
    include_tests: IncludeTests = False,
) -> None:
    """List the chunks of PATH (symbol, lines, tokens) and every file that was skipped."""
    found = discover(
        path,
        DiscoveryOptions(
            max_bytes=max_file_bytes,
            include=tuple(include or ()),
            exclude=tuple(exclude or ()),
            include_tests=include_tests,
        ),
    )
    chunks = [c for source in found.files for c in slice_file(source)]
    recount(chunks)
    listing = ChunkListing(
        root=str(found.root),
        discovery="git" if found.source == "git" else "walk",
        token_counter=token_counter(),
        files=len(found.files),
        chunks=chunks,
        skipped=found.skipped,
        secrets_redacted=dict(sorted(found.secrets_redacted.items())),
    )
    if output_format is ListingFormat.json:
        typer.echo(listing.model_dump_json(indent=2))
        return
    typer.echo(f"{'path':<40} {'kind':<8} {'symbol':<32} {'lines':>11} {'tokens':>7}")
    for c in listing.chunks:
        symbol = (c.symbol or "") + (f" [{c.part}]" if c.part else "")
        lines = f"{c.start_line}-{c.end_line}"
        typer.echo(f"{c.path:<40} {c.kind:<8} {symbol:<32} {lines:>11} {c.tokens:>7}")
    total = sum(c.tokens for c in listing.chunks)
    typer.echo(
        f"\n{len(listing.chunks)} chunk(s) from {listing.files} file(s), {total} tokens "
        f"({listing.token_counter}); files listed by {listing.discovery}"
    )
    for skipped in listing.skipped:
        typer.echo(f"skipped {skipped.path}: {skipped.reason}")
    for kind, count in listing.secrets_redacted.items():
        typer.echo(f"redacted {count} secret(s): {kind}")
