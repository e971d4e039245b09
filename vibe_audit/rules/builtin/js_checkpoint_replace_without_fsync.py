"""Temp file renamed into place without an fsync first (TypeScript/JavaScript).

What it finds:
    A function that writes a temp file with Node's fs (``writeFile``, ``writeFileSync``,
    fs-extra ``outputFile``, ``open``, ``Bun.write``) and renames that same file over its
    target (``rename`` / ``renameSync`` / fs-extra ``move``), with no ``fs.fsync`` /
    ``fs.fsyncSync`` / ``fdatasync``, ``filehandle.sync()`` / ``datasync()`` or
    ``{ flush: true }`` anywhere in the function. Caches (a destination or function named
    ``*cache*``) are skipped: they are rebuilt when lost.

Why it matters:
    The rename is atomic for the directory entry, not for the data. writeFile returns once
    the data is in the page cache; the kernel may persist the rename before the contents.
    After a power loss or host crash the target is a zero-length or partial file and the
    previous good version is gone.

Example:
    fs.writeFileSync(tmp, JSON.stringify(state));
    fs.renameSync(tmp, file);

Use instead:
    const fd = fs.openSync(tmp, "w");
    try { fs.writeSync(fd, JSON.stringify(state)); fs.fsyncSync(fd); } finally { fs.closeSync(fd); }
    fs.renameSync(tmp, file);
    // or: await fsp.writeFile(tmp, data, { flush: true }) (Node >= 21), or write-file-atomic
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
    id="js-checkpoint-replace-without-fsync",
    title="Temp file renamed into place without fsync",
    severity=Severity.MEDIUM,
    confidence=Confidence.MEDIUM,
    categories={
        "checkpoint": "Corruption",
        "concurrency": "Checkpoint",
        "reliability": "Concurrency",
    },
    checklist=["checkpoint.2B", "concurrency.checkpoint_checklist.2"],
    problem=(
        "{function}() writes `{temp}` and renames it over {target} (`{rename}`) without "
        "fsyncing it first. The rename can reach the disk before the file's contents do."
    ),
    scenario=(
        "Power fails or the host crashes a few seconds after a save: on reboot the directory "
        "entry points at the new file, but its data blocks were never written, so the file "
        "is empty or truncated and the previous version is already replaced."
    ),
    impact=(
        "A zero-length or garbage state file after an unclean shutdown; the next JSON.parse "
        "fails. Rare (needs an OS-level crash) but the loss is total for that file."
    ),
    how_to_verify=(
        "`strace -f -e trace=fsync,fdatasync,rename node ...` during a save shows the rename "
        "with no fsync of the temp file before it."
    ),
    fix=(
        "Flush the temp file to disk before the rename: open it, write, "
        "`fs.fsyncSync(fd)` (or `await fh.sync()` on a FileHandle, or "
        "`writeFile(tmp, data, { flush: true })` on Node >= 21), close, then rename."
    ),
    trade_off=(
        "An fsync costs milliseconds (more on busy disks); for frequent small saves, batch "
        "them or accept losing the latest save but never the file."
    ),
    effort_hours=(0.25, 0.5),
    languages=js.JS_LANGUAGES,
    experimental=True,  # durability hardening: worth it only for state that must survive
)


def check_file(ctx: FileContext) -> Iterator[Hit]:
    for write in js_atomic_writes(ctx):
        if write.fsyncs:
            continue
        yield node_hit(
            ctx,
            write.rename,
            named_by=write.function,
            details={
                "function": write.name,
                "temp": write.temp,
                "target": f"`{write.target}`",
                "rename": node_text(write.rename).split("\n")[0][:100],
            },
        )


RULE = Rule(meta=META, doc=__doc__ or "", check_file=check_file)
