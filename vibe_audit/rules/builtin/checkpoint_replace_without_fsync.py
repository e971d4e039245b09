"""Temp file renamed into place without an fsync first.

What it finds:
    A function that writes a temp file (``open(tmp, "w")``, ``tmp.write_text(...)``,
    ``NamedTemporaryFile``, ``mkstemp``) and then renames that same file over its target
    (``os.replace``, ``os.rename``, ``Path.replace``, ``shutil.move``) without calling
    ``os.fsync`` anywhere in the function.

    Writes with no rename at all are reported by checkpoint-non-atomic-write instead.
    Caches (a file, function or destination named ``*cache*`` or ``*.pyc``) are skipped:
    they are rebuilt when lost.

Why it matters:
    The rename is atomic for the directory entry, not for the data. Until the file's pages
    are flushed, the kernel can persist the rename before the contents: after a power loss
    or host crash the target is a zero-length or partial file and the previous good
    version is gone. ext4 (with its default mount options) often papers over this; XFS,
    btrfs and many network filesystems do not.

Example:
    with open(tmp, "w") as f:
        json.dump(state, f)
    os.replace(tmp, path)

Use instead:
    with open(tmp, "w") as f:
        json.dump(state, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
"""

from __future__ import annotations

from collections.abc import Iterator

from vibe_audit.chunker.parsing import node_text
from vibe_audit.rules import syntax
from vibe_audit.rules.base import Hit, Rule, RuleMeta, node_hit
from vibe_audit.rules.context import FileContext
from vibe_audit.rules.files import (
    RENAME_TEXT,
    WRITE_TEXT,
    aliases,
    fsyncs,
    functions_matching,
    regenerable,
    rename_source,
    scratch_destination,
    written_files,
)
from vibe_audit.schemas import Confidence, Severity

META = RuleMeta(
    id="checkpoint-replace-without-fsync",
    title="Temp file renamed into place without fsync",
    severity=Severity.MEDIUM,
    confidence=Confidence.MEDIUM,
    categories={
        "checkpoint": "Corruption",
        "concurrency": "Checkpoint",
        "reliability": "Concurrency",
    },
    checklist=[
        "checkpoint.2B",
        "checkpoint.2A",
        "concurrency.2A",
        "concurrency.checkpoint_checklist.2",
        "reliability.9.2",
    ],
    problem=(
        "{function}() writes {temp} and renames it over the target (`{rename}`) without "
        "fsyncing it first. The rename can reach the disk before the file's contents do."
    ),
    scenario=(
        "Power fails or the host crashes a few seconds after a save: on reboot the directory "
        "entry points at the new file, but its data blocks were never written, so the "
        "checkpoint is empty or truncated and the previous version is already replaced."
    ),
    impact=(
        "A zero-length or garbage checkpoint after an unclean shutdown; resume fails to parse "
        "it. Rare (needs an OS-level crash) but the loss is total for that file."
    ),
    how_to_verify=(
        "On XFS or btrfs, run a save loop in a VM and hard-reset it; check the target files "
        "for zero length. `strace -e fsync,rename` on a save shows no fsync before the rename."
    ),
    fix=(
        "Flush and fsync the temp file before the rename (and optionally fsync the "
        "directory after it):\n"
        "    f.flush()\n"
        "    os.fsync(f.fileno())\n"
        "    ...\n"
        "    os.replace(tmp, path)"
    ),
    trade_off=(
        "An fsync costs milliseconds (more on busy disks); for frequent small saves, batch "
        "them or accept losing the latest save but never the file."
    ),
    effort_hours=(0.25, 0.5),
    experimental=True,  # below the precision gate on real code: benchmarks/precision.py
)


def check_file(ctx: FileContext) -> Iterator[Hit]:
    if not WRITE_TEXT.search(ctx.source.text):
        return
    for function in functions_matching(ctx, RENAME_TEXT):
        renames = [c for c in syntax.own_calls(function) if syntax.is_rename(c)]
        if not renames:
            continue
        written = written_files(function)
        if not written or fsyncs(function):
            continue
        names = aliases(function, set(written))
        for rename in renames:
            source = rename_source(rename)
            if source is None or source not in names:
                continue
            if scratch_destination(function, rename) or regenerable(ctx, function, rename):
                continue
            yield node_hit(
                ctx,
                rename,
                named_by=function,
                details={
                    "function": syntax.function_name(function),
                    "temp": f"`{source}`",
                    "rename": node_text(rename),
                },
            )
            break


RULE = Rule(meta=META, doc=__doc__ or "", check_file=check_file)
