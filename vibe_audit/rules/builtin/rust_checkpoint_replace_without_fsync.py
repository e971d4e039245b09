"""Temp file renamed into place without sync_all first (Rust).

What it finds:
    A function that writes a temp file (``std::fs::write`` / ``tokio::fs::write``,
    ``File::create``, ``OpenOptions::open``) and renames it over its target with
    ``fs::rename``, or persists a ``tempfile::NamedTempFile`` over it (``persist``), with no
    ``sync_all`` / ``sync_data`` (or an fsync helper) anywhere in the function. Caches (a
    destination named ``*cache*``) and scratch destinations are skipped.

Why it matters:
    The rename is atomic for the directory entry, not for the data. ``write`` returns once
    the bytes are in the page cache; the kernel may persist the rename before the contents.
    After a power loss or host crash the target is a zero-length or partial file and the
    previous good version is gone. ``NamedTempFile::persist`` does not sync either.

Example:
    std::fs::write(&tmp, &bytes)?;
    std::fs::rename(&tmp, &path)?;

Use instead:
    let mut file = std::fs::File::create(&tmp)?;
    file.write_all(&bytes)?;
    file.sync_all()?;
    std::fs::rename(&tmp, &path)?;
"""

from __future__ import annotations

from collections.abc import Iterator

from vibe_audit.chunker.parsing import node_text
from vibe_audit.rules.base import Hit, Rule, RuleMeta, node_hit
from vibe_audit.rules.context import FileContext
from vibe_audit.rules.state_files_util import rust_atomic_writes
from vibe_audit.schemas import Confidence, Severity

META = RuleMeta(
    id="rust-checkpoint-replace-without-fsync",
    title="Temp file renamed into place without sync_all",
    severity=Severity.MEDIUM,
    confidence=Confidence.MEDIUM,
    categories={
        "checkpoint": "Corruption",
        "concurrency": "Checkpoint",
        "reliability": "Concurrency",
    },
    checklist=["checkpoint.2B", "concurrency.checkpoint_checklist.2"],
    problem=(
        "{function}() writes `{temp}` and moves it over {target} (`{rename}`) without "
        "`sync_all` first. The rename can reach the disk before the file's contents do."
    ),
    scenario=(
        "Power fails or the host crashes a few seconds after a save: on reboot the directory "
        "entry points at the new file, but its data blocks were never written, so the file "
        "is empty or truncated and the previous version is already replaced."
    ),
    impact=(
        "A zero-length or garbage state file after an unclean shutdown; deserializing it "
        "fails. Rare (needs an OS-level crash) but the loss is total for that file."
    ),
    how_to_verify=(
        "`strace -f -e trace=fsync,fdatasync,rename` on a save shows the rename with no "
        "fsync of the temp file before it."
    ),
    fix=(
        "Call `file.sync_all()?` (or `tmp.as_file().sync_all()?` for a NamedTempFile) after "
        "the last write and before the rename or persist."
    ),
    trade_off=(
        "An fsync costs milliseconds (more on busy disks); for frequent small saves, batch "
        "them or accept losing the latest save but never the file."
    ),
    effort_hours=(0.25, 0.5),
    languages=["rust"],
    experimental=True,  # durability hardening: worth it only for state that must survive
)


def check_file(ctx: FileContext) -> Iterator[Hit]:
    for write in rust_atomic_writes(ctx):
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
