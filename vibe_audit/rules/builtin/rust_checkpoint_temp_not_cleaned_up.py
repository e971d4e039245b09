"""Hand-named unique temp file renamed into place, with nothing that removes it on failure.

What it finds:
    A Rust function that writes a temp file whose path it builds with a new name per write
    (``format!("{}.tmp.{}", path, nanos)``: a timestamp, a random suffix, a counter; a
    name unique only per process, ``std::process::id()``, is reused by the next save)
    using ``std::fs`` / ``tokio::fs`` (``fs::write``, ``File::create``,
    ``OpenOptions::open``) and moves it over its target with ``fs::rename``, with no
    ``remove_file`` anywhere in the function (nor a scope guard). ``tempfile::NamedTempFile``
    deletes itself when dropped on the error path and is not reported; neither is a fixed
    temp name (``path.with_extension("tmp")``), which the next save overwrites.

Why it matters:
    When the write or the rename fails (a full disk, a permission error, a serialisation
    error after the file was created), ``?`` returns early and the half-written temp file
    stays next to the target. Its name is unique, so no later save reuses it: each failed
    save adds one file that nothing deletes.

Example:
    let tmp = format!("{}.tmp.{}", path.display(), std::process::id());
    std::fs::write(&tmp, &bytes)?;
    std::fs::rename(&tmp, &path)?;

Use instead:
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;  // removed on drop
    tmp.write_all(&bytes)?;
    tmp.as_file().sync_all()?;
    tmp.persist(&path)?;
"""

from __future__ import annotations

from collections.abc import Iterator

from vibe_audit.chunker.parsing import node_text
from vibe_audit.rules.base import Hit, Rule, RuleMeta, node_hit
from vibe_audit.rules.context import FileContext
from vibe_audit.rules.state_files_util import new_name_per_write, rust_atomic_writes
from vibe_audit.schemas import Confidence, Severity

META = RuleMeta(
    id="rust-checkpoint-temp-not-cleaned-up",
    title="Temp file of an atomic write is left behind when the write fails",
    severity=Severity.MONITOR,
    confidence=Confidence.HIGH,
    categories={"checkpoint": "Orphans", "concurrency": "Checkpoint"},
    checklist=["checkpoint.4B", "concurrency.2D"],
    problem=(
        "{function}() writes a temp file at `{factory}` (a new name on every write) and "
        "renames it over {target} with `{rename}`, but nothing in {function}() removes the "
        "temp file when a step before the rename returns an error."
    ),
    scenario=(
        "A save fails half-way (full disk, permission error, a serialisation error): `?` "
        "returns early and the uniquely named temp file stays next to the target. Every "
        "further failed save adds another one."
    ),
    impact=(
        "Orphaned temp files accumulate in the data directory and use disk space, with "
        "nothing that deletes them; the directory fills fastest when writes are already "
        "failing for lack of space."
    ),
    how_to_verify=(
        "Make the write fail (a read-only target, a full tmpfs) and call {function}(): the "
        "temp file is still in the target's directory afterwards."
    ),
    fix=(
        "Use tempfile::NamedTempFile::new_in(dir) (deleted on drop when the write fails, "
        "then `persist(&path)`), or remove the hand-made temp file on the error path:\n"
        "    if let Err(e) = write_and_rename(&tmp, &path) {\n"
        "        let _ = std::fs::remove_file(&tmp);\n"
        "        return Err(e);\n"
        "    }"
    ),
    trade_off="A few lines per writer (or the tempfile crate); none at run time.",
    effort_hours=(0.25, 0.5),
    languages=["rust"],
)


def check_file(ctx: FileContext) -> Iterator[Hit]:
    for write in rust_atomic_writes(ctx):
        if not write.unique or write.cleans_up or write.self_cleaning:
            continue
        if not new_name_per_write(write.factory):
            continue  # one name per process: the next write reuses it
        yield node_hit(
            ctx,
            write.rename,
            named_by=write.function,
            details={
                "function": write.name,
                "factory": write.factory[:100],
                "target": f"`{write.target}`",
                "rename": node_text(write.rename).split("\n")[0][:100],
            },
        )


RULE = Rule(meta=META, doc=__doc__ or "", check_file=check_file)
