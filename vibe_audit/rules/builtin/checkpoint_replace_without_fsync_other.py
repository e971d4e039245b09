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
from vibe_audit.rules.base import Hit, Rule
from vibe_audit.rules.builtin.checkpoint_replace_without_fsync import META as _PY_META
from vibe_audit.rules.context import FileContext
from vibe_audit.rules.state_files_util import atomic_writes, family_meta, write_hit

# This module builds the TypeScript/JavaScript rule (its docstring) and the Rust rule
# (_RUST_DOC) from the Python rule's texts; the Python rule has its own check.
META = family_meta(
    _PY_META,
    "js",
    {
        "checklist": ["checkpoint.2B", "concurrency.checkpoint_checklist.2"],
        "problem": (
            "{function}() writes `{temp}` and renames it over {target} (`{rename}`) without "
            "fsyncing it first. The rename can reach the disk before the file's contents do."
        ),
        "scenario": (
            "Power fails or the host crashes a few seconds after a save: on reboot the "
            "directory entry points at the new file, but its data blocks were never written, "
            "so the file is empty or truncated and the previous version is already replaced."
        ),
        "impact": (
            "A zero-length or garbage state file after an unclean shutdown; the next "
            "JSON.parse fails. Rare (needs an OS-level crash) but the loss is total for that "
            "file."
        ),
        "how_to_verify": (
            "`strace -f -e trace=fsync,fdatasync,rename node ...` during a save shows the "
            "rename with no fsync of the temp file before it."
        ),
        "fix": (
            "Flush the temp file to disk before the rename: open it, write, "
            "`fs.fsyncSync(fd)` (or `await fh.sync()` on a FileHandle, or "
            "`writeFile(tmp, data, { flush: true })` on Node >= 21), close, then rename."
        ),
    },
)

_RUST_META = family_meta(
    META,
    "rust",
    {
        "title": "Temp file renamed into place without sync_all",
        "problem": (
            "{function}() writes `{temp}` and moves it over {target} (`{rename}`) without "
            "`sync_all` first. The rename can reach the disk before the file's contents do."
        ),
        "impact": (
            "A zero-length or garbage state file after an unclean shutdown; deserializing it "
            "fails. Rare (needs an OS-level crash) but the loss is total for that file."
        ),
        "how_to_verify": (
            "`strace -f -e trace=fsync,fdatasync,rename` on a save shows the rename with no "
            "fsync of the temp file before it."
        ),
        "fix": (
            "Call `file.sync_all()?` (or `tmp.as_file().sync_all()?` for a NamedTempFile) "
            "after the last write and before the rename or persist."
        ),
    },
)

_RUST_DOC = """Temp file renamed into place without sync_all first (Rust).

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


def check_file(ctx: FileContext) -> Iterator[Hit]:
    for write in atomic_writes(ctx):
        if write.fsyncs:
            continue
        yield write_hit(
            ctx,
            write,
            temp=write.temp,
            target=f"`{write.target}`",
            rename=node_text(write.rename).split("\n")[0][:100],
        )


RULES = [
    Rule(meta=META, doc=__doc__ or "", check_file=check_file),
    Rule(meta=_RUST_META, doc=_RUST_DOC, check_file=check_file),
]
