"""Temp file renamed into place, with nothing that removes it when the write fails.

What it finds:
    A function that creates a uniquely named temp file next to its target
    (``tempfile.mkstemp(dir=...)``, ``NamedTemporaryFile(delete=False, dir=...)``,
    ``mktemp(dir=...)``) and renames it over the target (``os.replace``, ``os.rename``,
    ``Path.replace``, ``shutil.move``), with no ``except`` or ``finally`` clause in the function
    that unlinks or removes anything.

Why it matters:
    The temp file gets a new random name on every write. When serialising, writing or the
    rename fails (a value json cannot encode, a full disk, a permission error) the exception
    leaves the half-written temp file in the data directory, and nothing ever deletes it:
    each failed save adds one. Readers never see it, so orphans pile up unnoticed until the
    disk or the directory listing is full, often exactly while the disk is already full.

Example:
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    with os.fdopen(fd, "w") as f:
        json.dump(state, f)
    os.replace(tmp, path)

Use instead:
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(state, f)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
"""

from __future__ import annotations

from collections.abc import Iterator

import tree_sitter

from vibe_audit.chunker.parsing import node_text
from vibe_audit.rules import syntax
from vibe_audit.rules.base import Hit, Rule, RuleMeta, node_hit
from vibe_audit.rules.context import FileContext
from vibe_audit.rules.files import (
    RENAME_TEXT,
    TEMP_FACTORIES,
    aliases,
    functions_matching,
    rename_source,
    scratch_destination,
    temp_names,
)
from vibe_audit.schemas import Confidence, Severity

META = RuleMeta(
    id="checkpoint-temp-not-cleaned-up",
    title="Temp file of an atomic write is left behind when the write fails",
    severity=Severity.MONITOR,
    confidence=Confidence.HIGH,
    categories={"checkpoint": "Orphans", "concurrency": "Checkpoint"},
    checklist=["checkpoint.4B", "concurrency.2D"],
    problem=(
        "{function}() writes to a temp file created by `{factory}` and moves it over the "
        "target with `{rename}`, but nothing in {function}() removes the temp file when a "
        "step before the rename raises."
    ),
    scenario=(
        "A save fails half-way (a value the serialiser rejects, a full disk, a permission "
        "error): the exception propagates and the randomly named temp file stays next to the "
        "target. Every further failed save adds another one."
    ),
    impact=(
        "Orphaned temp files accumulate in the data directory and use disk space, with "
        "nothing that deletes them; the directory fills fastest when writes are already "
        "failing for lack of space."
    ),
    how_to_verify=(
        "Make the write fail (patch the serialiser to raise, or fill the disk) and call "
        "{function}(): the temp file is still in the target's directory afterwards."
    ),
    fix=(
        "Wrap the write and the rename, and remove the temp file on any failure:\n"
        "    try:\n"
        "        ...write the temp file...\n"
        "        os.replace(tmp, target)\n"
        "    except BaseException:\n"
        "        with contextlib.suppress(OSError):\n"
        "            os.unlink(tmp)\n"
        "        raise\n"
        "and delete stale temp files older than an hour at startup."
    ),
    trade_off="A few lines per writer; none at run time.",
    effort_hours=(0.25, 0.5),
)

# Calls in an except / finally clause that delete a file.
_CLEANUP = frozenset({"unlink", "remove", "rmtree", "removedirs", "cleanup"})
_DIR_POSITION = {"mkstemp": 2, "mktemp": 2, "NamedTemporaryFile": 6}


def check_file(ctx: FileContext) -> Iterator[Hit]:
    if "tempfile" not in ctx.imports and "tempfile" not in ctx.source.text:
        return
    for function in functions_matching(ctx, RENAME_TEXT):
        calls = syntax.own_calls(function)
        temps: dict[str, tree_sitter.Node] = {}
        for call in calls:
            if _unique_temp_in_target_dir(call):
                for name in temp_names(call):
                    temps[name] = call
        if not temps or _cleans_up(function):
            continue
        for rename in (c for c in calls if syntax.is_rename(c)):
            factory = _factory(function, temps, rename_source(rename))
            if factory is None or scratch_destination(function, rename):
                continue
            yield node_hit(
                ctx,
                rename,
                named_by=function,
                details={
                    "function": syntax.function_name(function),
                    "factory": syntax.callee(factory) + "(...)",
                    "rename": node_text(rename),
                },
            )
            break


def _unique_temp_in_target_dir(call: tree_sitter.Node) -> bool:
    """A temp factory call that creates a randomly named file which outlives its handle, in
    a directory the caller chose (without ``dir=`` it is the system temp directory, cleaned
    by the OS, and checkpoint-temp-in-other-dir's case)."""
    name = syntax.callee(call)
    if name not in TEMP_FACTORIES:
        return False
    short = syntax.last_name(name)
    keywords = syntax.keyword_names(call)
    if "**" in keywords:
        return False
    has_dir = "dir" in keywords or len(syntax.positional_args(call)) > _DIR_POSITION[short]
    if not has_dir:
        return False
    if short == "NamedTemporaryFile":
        delete = syntax.keyword_value(call, "delete")
        return delete is not None and node_text(delete) in {"False", "0"}
    return True


def _cleans_up(function: tree_sitter.Node) -> bool:
    """An except or finally clause of the function deletes a file (or the function hands
    its temp files to a cleanup helper there)."""
    for clause in syntax.body_nodes(function, "except_clause", "finally_clause"):
        for call in syntax.of_type(clause, "call"):
            if syntax.last_name(syntax.callee(call)).lower().lstrip("_") in _CLEANUP:
                return True
    return False


def _factory(
    function: tree_sitter.Node, temps: dict[str, tree_sitter.Node], source: str | None
) -> tree_sitter.Node | None:
    """The temp factory call whose file ``source`` names, following simple aliases and
    ``Path(tmp)`` / ``str(tmp)`` wrappers."""
    if source is None:
        return None
    inner = source
    for wrapper in ("Path(", "str(", "os.fspath(", "pathlib.Path("):
        if source.startswith(wrapper) and source.endswith(")"):
            inner = source[len(wrapper) : -1].strip()
    for name, call in temps.items():
        known = aliases(function, {name})
        if source in known or inner in known:
            return call
    return None


RULE = Rule(meta=META, doc=__doc__ or "", check_file=check_file)
