"""Options shared by commands that read a tree."""

from __future__ import annotations

from typing import Annotated

import typer

from vibe_audit.chunker.discover import MAX_FILE_BYTES

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
NoInteractionContext = Annotated[
    bool,
    typer.Option(
        "--no-interaction-context",
        help="Do not add the other readers and writers of the resources a request's code "
        "touches (tables, checkpoint files, shared objects) to model requests.",
    ),
]
