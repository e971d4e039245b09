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
from vibe_audit.rules import js
from vibe_audit.rules.base import Hit, Rule, RuleMeta, node_hit
from vibe_audit.rules.context import FileContext
from vibe_audit.rules.state_files_util import js_atomic_writes, new_name_per_write
from vibe_audit.schemas import Confidence, Severity

META = RuleMeta(
    id="js-checkpoint-temp-not-cleaned-up",
    title="Temp file of an atomic write is left behind when the write fails",
    severity=Severity.MONITOR,
    confidence=Confidence.HIGH,
    categories={"checkpoint": "Orphans", "concurrency": "Checkpoint"},
    checklist=["checkpoint.4B", "concurrency.2D"],
    problem=(
        "{function}() writes a temp file named `{factory}` (a new name on every write) and "
        "renames it over {target} with `{rename}`, but nothing in {function}() removes the "
        "temp file when a step before the rename throws."
    ),
    scenario=(
        "A save fails half-way (full disk, permission error, a rejected write): the error "
        "propagates and the uniquely named temp file stays next to the target. Every further "
        "failed save adds another one."
    ),
    impact=(
        "Orphaned temp files accumulate in the data directory and use disk space, with "
        "nothing that deletes them; the directory fills fastest when writes are already "
        "failing for lack of space."
    ),
    how_to_verify=(
        "Make the write fail (a read-only directory, or stub writeFile to reject after "
        "creating the file) and call {function}(): the temp file is still there afterwards."
    ),
    fix=(
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
    trade_off="A few lines per writer; none at run time.",
    effort_hours=(0.25, 0.5),
    languages=js.JS_LANGUAGES,
)


def check_file(ctx: FileContext) -> Iterator[Hit]:
    for write in js_atomic_writes(ctx):
        if not write.unique or write.cleans_up:
            continue
        if not new_name_per_write(write.factory):
            continue  # one name per process: the next write reuses it
        yield node_hit(
            ctx,
            write.rename,
            named_by=write.function,
            details={
                "function": write.name,
                "factory": write.factory.split("\n")[0][:100],
                "target": f"`{write.target}`",
                "rename": node_text(write.rename).split("\n")[0][:100],
            },
        )


RULE = Rule(meta=META, doc=__doc__ or "", check_file=check_file)
