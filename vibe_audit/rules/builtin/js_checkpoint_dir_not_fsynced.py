"""Atomic rename of a synced state file, with no fsync of its directory afterwards.

What it finds:
    A function that writes a temp file, fsyncs it (``fs.fsyncSync``, ``filehandle.sync()``,
    ``{ flush: true }``) and renames it over its target (``rename`` / ``renameSync``), in a
    file where nothing fsyncs the target's directory afterwards (no ``fs.openSync(dir, "r")``
    + ``fs.fsyncSync``). Only writers that already fsync the file are reported: they show
    the state is meant to survive a power loss.

    Optional hardening: reported as MONITOR, experimental (``--rules experimental``).

Why it matters:
    The rename changes the directory, and the directory is a file of its own: until its
    entry is flushed, a power loss or kernel crash can bring the directory back with the old
    entry (the previous version of the file) or, for a file created for the first time,
    with no entry at all. fsyncing the file protects its bytes, not its name.

Example:
    const fd = fs.openSync(tmp, "w");
    fs.writeSync(fd, data);
    fs.fsyncSync(fd);
    fs.closeSync(fd);
    fs.renameSync(tmp, file);

Use instead:
    fs.renameSync(tmp, file);
    const dirFd = fs.openSync(path.dirname(file), "r");
    try { fs.fsyncSync(dirFd); } finally { fs.closeSync(dirFd); }
"""

from __future__ import annotations

from collections.abc import Iterator

from vibe_audit.chunker.parsing import node_text
from vibe_audit.rules import js
from vibe_audit.rules.base import Hit, Rule, RuleMeta, node_hit
from vibe_audit.rules.context import FileContext
from vibe_audit.rules.state_files_util import js_atomic_writes
from vibe_audit.schemas import Confidence, Severity

META = RuleMeta(
    id="js-checkpoint-dir-not-fsynced",
    title="Directory not fsynced after the atomic rename of a synced state file",
    severity=Severity.MONITOR,
    confidence=Confidence.MEDIUM,
    categories={"checkpoint": "Corruption", "concurrency": "Checkpoint"},
    checklist=["checkpoint.2C"],
    problem=(
        "{function}() syncs its temp file and renames it over {target} (`{rename}`), but "
        "the directory holding {target} is never fsynced, so the rename itself is not yet "
        "durable when {function}() returns."
    ),
    scenario=(
        "Power fails shortly after a save: the file's data is on disk, but the directory "
        "still holds the old entry, so after reboot the previous version (or, for a new "
        "file, nothing) is found."
    ),
    impact=(
        "The last save is silently rolled back after an unclean shutdown; work done since "
        "the previous save is repeated or lost. Rare, and only on power or kernel failure."
    ),
    how_to_verify=(
        "`strace -f -e trace=fsync,rename,openat` on a save: after the rename there is no "
        "open of the directory followed by an fsync of that descriptor."
    ),
    fix=(
        "Fsync the directory after the rename (POSIX; skip on Windows):\n"
        '    const dirFd = fs.openSync(path.dirname(file), "r");\n'
        "    try { fs.fsyncSync(dirFd); } finally { fs.closeSync(dirFd); }"
    ),
    trade_off=(
        "One more fsync per save (milliseconds); not available on Windows, where the rename "
        "is made durable differently. Skip it for state that can be recomputed."
    ),
    effort_hours=(0.1, 0.25),
    languages=js.JS_LANGUAGES,
    experimental=True,  # optional hardening per the audit document
)


def check_file(ctx: FileContext) -> Iterator[Hit]:
    for write in js_atomic_writes(ctx):
        if not write.fsyncs or write.dir_syncs:
            continue
        yield node_hit(
            ctx,
            write.rename,
            named_by=write.function,
            details={
                "function": write.name,
                "target": f"`{write.target}`",
                "rename": node_text(write.rename).split("\n")[0][:100],
            },
        )


RULE = Rule(meta=META, doc=__doc__ or "", check_file=check_file)
