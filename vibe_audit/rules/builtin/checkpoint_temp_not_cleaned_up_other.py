"""Uniquely named temp file renamed into place, with nothing that removes it when the write fails.

What it finds:
    A TypeScript/JavaScript function that writes a temp file whose name is new on every
    write (``Date.now()``, ``Math.random()``, ``randomUUID()``, a counter in the name)
    with Node's fs (``writeFile``, ``writeFileSync``, fs-extra ``outputFile``, ``open``,
    ``Bun.write``) and renames it over its target (``rename`` / ``renameSync`` / fs-extra
    ``move``), with no ``catch`` / ``finally`` clause (or ``.catch()`` handler) in the
    function that unlinks or removes anything. A fixed temp name (``${file}.tmp``) is
    overwritten by the next save and is not reported; neither is a name unique only per
    process (``process.pid``), which the process's next save reuses.

Why it matters:
    When serialising, writing or the rename fails (a full disk, a permission error, a value
    JSON.stringify rejects after the file was opened), the exception leaves the half-written
    temp file next to the target. Its name is unique, so the next save does not reuse it:
    every failed save adds one file that nothing ever deletes.

Example:
    const tmp = `${file}.${Date.now()}.tmp`;
    await fsp.writeFile(tmp, JSON.stringify(state));
    await fsp.rename(tmp, file);

Use instead:
    const tmp = `${file}.${Date.now()}.tmp`;
    try {
      await fsp.writeFile(tmp, JSON.stringify(state));
      await fsp.rename(tmp, file);
    } catch (err) {
      await fsp.rm(tmp, { force: true });
      throw err;
    }
"""

from __future__ import annotations

from collections.abc import Iterator

from vibe_audit.chunker.parsing import node_text
from vibe_audit.rules.base import Hit, Rule
from vibe_audit.rules.builtin.checkpoint_temp_not_cleaned_up import META as _PY_META
from vibe_audit.rules.context import FileContext
from vibe_audit.rules.state_files_util import (
    atomic_writes,
    family_meta,
    new_name_per_write,
    write_hit,
)

# This module builds the TypeScript/JavaScript rule (its docstring) and the Rust rule
# (_RUST_DOC) from the Python rule's texts; the Python rule has its own check.
META = family_meta(
    _PY_META,
    "js",
    {
        "problem": (
            "{function}() writes a temp file named `{factory}` (a new name on every write) and "
            "renames it over {target} with `{rename}`, but nothing in {function}() removes the "
            "temp file when a step before the rename throws."
        ),
        "scenario": (
            "A save fails half-way (full disk, permission error, a rejected write): the error "
            "propagates and the uniquely named temp file stays next to the target. Every "
            "further failed save adds another one."
        ),
        "how_to_verify": (
            "Make the write fail (a read-only directory, or stub writeFile to reject after "
            "creating the file) and call {function}(): the temp file is still there "
            "afterwards."
        ),
        "fix": (
            "Wrap the write and the rename, and remove the temp file on any failure:\n"
            "    try {\n"
            "      ...write the temp file...\n"
            "      await fsp.rename(tmp, target);\n"
            "    } catch (err) {\n"
            "      await fsp.rm(tmp, { force: true });\n"
            "      throw err;\n"
            "    }\n"
            "and delete stale temp files at startup."
        ),
    },
)

_RUST_META = family_meta(
    _PY_META,
    "rust",
    {
        "problem": (
            "{function}() writes a temp file at `{factory}` (a new name on every write) and "
            "renames it over {target} with `{rename}`, but nothing in {function}() removes "
            "the temp file when a step before the rename returns an error."
        ),
        "scenario": (
            "A save fails half-way (full disk, permission error, a serialisation error): `?` "
            "returns early and the uniquely named temp file stays next to the target. Every "
            "further failed save adds another one."
        ),
        "how_to_verify": (
            "Make the write fail (a read-only target, a full tmpfs) and call {function}(): "
            "the temp file is still in the target's directory afterwards."
        ),
        "fix": (
            "Use tempfile::NamedTempFile::new_in(dir) (deleted on drop when the write fails, "
            "then `persist(&path)`), or remove the hand-made temp file on the error path:\n"
            "    if let Err(e) = write_and_rename(&tmp, &path) {\n"
            "        let _ = std::fs::remove_file(&tmp);\n"
            "        return Err(e);\n"
            "    }"
        ),
        "trade_off": "A few lines per writer (or the tempfile crate); none at run time.",
    },
)

_RUST_DOC = """\
Hand-named unique temp file renamed into place, with nothing that removes it on failure.

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


def check_file(ctx: FileContext) -> Iterator[Hit]:
    for write in atomic_writes(ctx):
        # A Rust NamedTempFile deletes itself when the write fails (never so in JS).
        if not write.unique or write.cleans_up or write.self_cleaning:
            continue
        if not new_name_per_write(write.factory):
            continue  # one name per process: the next write reuses it
        yield write_hit(
            ctx,
            write,
            factory=write.factory.split("\n")[0][:100],
            target=f"`{write.target}`",
            rename=node_text(write.rename).split("\n")[0][:100],
        )


RULES = [
    Rule(meta=META, doc=__doc__ or "", check_file=check_file),
    Rule(meta=_RUST_META, doc=_RUST_DOC, check_file=check_file),
]
