"""Temp file created in the system temp directory, then renamed over the target.

What it finds:
    ``tempfile.NamedTemporaryFile`` / ``mkstemp`` / ``mktemp`` called without ``dir=``
    (so the file lands in /tmp or $TMPDIR), whose name is then passed to ``os.replace``,
    ``os.rename``, ``Path.replace/rename`` or ``shutil.move`` in the same function.

Why it matters:
    A rename is atomic only within one filesystem. /tmp is often tmpfs or a different
    volume from the data directory (always so in containers with a mounted data volume):
    ``os.replace``/``os.rename`` then fail with ``OSError: [Errno 18] Invalid cross-device
    link``, and ``shutil.move`` silently falls back to copy-then-delete, which writes the
    target in place, non-atomically, exactly what the temp file was meant to avoid.

Example:
    fd, tmp = tempfile.mkstemp(suffix=".json")
    with os.fdopen(fd, "w") as f:
        json.dump(state, f)
    os.replace(tmp, path)

Use instead:
    fd, tmp = tempfile.mkstemp(suffix=".json", dir=path.parent)   # same filesystem
    ...
    os.replace(tmp, path)
"""

from __future__ import annotations

from collections.abc import Iterator

import tree_sitter

from vibe_audit.chunker.parsing import node_text
from vibe_audit.rules import syntax
from vibe_audit.rules.base import Hit, Rule, RuleMeta, node_hit
from vibe_audit.rules.context import FileContext
from vibe_audit.rules.files import (
    TEMP_FACTORIES,
    aliases,
    rename_source,
    scratch_destination,
    temp_names,
)
from vibe_audit.schemas import Confidence, Severity

META = RuleMeta(
    id="checkpoint-temp-in-other-dir",
    title="Temp file in the system temp dir renamed into place (cross-filesystem rename)",
    severity=Severity.HIGH,
    confidence=Confidence.MEDIUM,
    categories={"checkpoint": "Atomicity", "concurrency": "Checkpoint"},
    checklist=[
        "checkpoint.2A",
        "concurrency.2A",
        "concurrency.checkpoint_checklist.1",
    ],
    problem=(
        "{function}() creates its temp file with `{factory}` and no dir=, so it lives in the "
        "system temp directory, then moves it onto the target with `{rename}`. That is only "
        "an atomic rename when both are on the same filesystem."
    ),
    scenario=(
        "In the container, /tmp is the overlay (or tmpfs) and the data directory a mounted "
        "volume: {rename_call} raises 'Invalid cross-device link' on every save, or "
        "shutil.move copies the bytes into the target in place, so a crash mid-copy leaves a "
        "truncated file."
    ),
    impact=(
        "Saves that fail outright in production but pass on a developer laptop, or a silent "
        "loss of atomicity: readers and crash recovery see half-written files."
    ),
    how_to_verify=(
        "Mount the target directory on a different filesystem from /tmp (e.g. a tmpfs or a "
        "Docker volume) and run the save: OSError errno 18 (EXDEV), or strace shows a copy "
        "instead of a rename."
    ),
    fix=(
        "Create the temp file next to its target, and keep the target's mode (mkstemp "
        "creates 0600):\n"
        "    fd, tmp = tempfile.mkstemp(dir=target.parent)\n"
        "    ...\n"
        "    if target.exists():\n"
        "        os.chmod(tmp, stat.S_IMODE(target.stat().st_mode))\n"
        "    os.replace(tmp, target)"
    ),
    trade_off=(
        "Temp files now appear in the data directory; give them a recognisable suffix and "
        "clean up stale ones at startup."
    ),
    effort_hours=(0.25, 0.5),
)

_DIR_POSITION = {"mkstemp": 2, "mktemp": 2, "NamedTemporaryFile": 6}


def check_file(ctx: FileContext) -> Iterator[Hit]:
    text = ctx.source.text
    if "tempfile" not in ctx.imports or "tempfile.tempdir" in text:
        return
    for function in syntax.functions(ctx.root):
        calls = syntax.own_calls(function)
        temps: dict[str, tree_sitter.Node] = {}
        for call in calls:
            if syntax.callee(call) in TEMP_FACTORIES and not _has_dir(call):
                for name in temp_names(call):
                    temps[name] = call
        if not temps:
            continue
        for rename in (c for c in calls if syntax.is_rename(c)):
            source = rename_source(rename)
            factory = _factory(function, temps, source)
            if factory is None:
                continue
            if scratch_destination(function, rename):
                continue
            yield node_hit(
                ctx,
                rename,
                named_by=function,
                details={
                    "function": syntax.function_name(function),
                    "factory": syntax.callee(factory) + "(...)",
                    "rename": syntax.callee(rename),
                    "rename_call": node_text(rename),
                },
            )
            break


def _has_dir(call: tree_sitter.Node) -> bool:
    keywords = syntax.keyword_names(call)
    if "dir" in keywords or "**" in keywords:
        return True
    position = _DIR_POSITION[syntax.last_name(syntax.callee(call))]
    return len(syntax.positional_args(call)) > position


def _factory(
    function: tree_sitter.Node, temps: dict[str, tree_sitter.Node], source: str | None
) -> tree_sitter.Node | None:
    """The temp factory call whose file ``source`` names, following simple aliases."""
    if source is None:
        return None
    for name, call in temps.items():
        if source in aliases(function, {name}):
            return call
    return None


RULE = Rule(meta=META, doc=__doc__ or "", check_file=check_file)
