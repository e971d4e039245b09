"""Atomic rename of a synced state file, with no fsync of its directory afterwards.

What it finds:
    A function that writes a temp file, fsyncs it (``os.fsync``) and renames it over its
    target (``os.replace``, ``os.rename``, ``Path.replace``), in a file where nothing fsyncs
    the target's directory afterwards (no ``os.open(dir, os.O_RDONLY | os.O_DIRECTORY)`` +
    ``os.fsync``, no ``fsync_dir``-style helper). Only writers that already fsync the file are
    reported: they show the state is meant to survive a power loss.

    Optional hardening: reported as MONITOR, experimental (``--rules experimental``).

Why it matters:
    The rename changes the directory, and the directory is a file of its own: until its
    entry is flushed, a power loss or kernel crash can bring the directory back with the old
    entry (the previous version of the file) or, for a file created for the first time,
    with no entry at all. fsyncing the file protects its bytes, not its name.

Example:
    with open(tmp, "w") as f:
        json.dump(state, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)

Use instead:
    os.replace(tmp, path)
    dir_fd = os.open(os.path.dirname(path) or ".", os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
"""

from __future__ import annotations

from collections.abc import Iterator

from vibe_audit.chunker.parsing import node_text
from vibe_audit.rules.base import Hit, Rule, RuleMeta
from vibe_audit.rules.context import FileContext
from vibe_audit.rules.state_files_util import (
    atomic_writes,
    family_doc,
    family_meta,
    write_hit,
)
from vibe_audit.schemas import Confidence, Severity

META = RuleMeta(
    id="checkpoint-dir-not-fsynced",
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
        "Fsync the directory after the rename (POSIX):\n"
        '    fd = os.open(os.path.dirname(path) or ".", os.O_RDONLY | os.O_DIRECTORY)\n'
        "    try:\n"
        "        os.fsync(fd)\n"
        "    finally:\n"
        "        os.close(fd)"
    ),
    trade_off=(
        "One more fsync per save (milliseconds); not available on Windows, where the rename "
        "is made durable differently. Skip it for state that can be recomputed."
    ),
    effort_hours=(0.1, 0.25),
    languages=["python"],
    experimental=True,  # optional hardening per the audit document
)

# The documentation of the TypeScript/JavaScript and Rust rules: the sections they word
# differently; family_doc takes the rest from the module docstring (and, after a closing
# "...", the rest of a section).
_JS_DOC = family_doc(
    __doc__ or "",
    """
What it finds:
    A function that writes a temp file, fsyncs it (``fs.fsyncSync``, ``filehandle.sync()``,
    ``{ flush: true }``) and renames it over its target (``rename`` / ``renameSync``), in a
    file where nothing fsyncs the target's directory afterwards (no ``fs.openSync(dir, "r")``
    + ``fs.fsyncSync``). Only writers that already fsync the file are reported: they show
    the state is meant to survive a power loss.

    Optional hardening: reported as MONITOR, experimental (``--rules experimental``).

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
""",
)

_RUST_DOC = family_doc(
    __doc__ or "",
    """
What it finds:
    A function that writes a temp file, calls ``sync_all`` / ``sync_data`` on it and moves
    it over its target (``fs::rename``, ``NamedTempFile::persist``), in a file where nothing
    fsyncs the target's directory afterwards (no ``File::open(dir)?.sync_all()``). Only
    writers that already sync the file are reported: they show the state is meant to survive
    a power loss.

    Optional hardening: reported as MONITOR, experimental (``--rules experimental``).

Example:
    file.sync_all()?;
    std::fs::rename(&tmp, &path)?;

Use instead:
    file.sync_all()?;
    std::fs::rename(&tmp, &path)?;
    #[cfg(unix)]
    std::fs::File::open(path.parent().unwrap_or(Path::new(".")))?.sync_all()?;
""",
)

# What each language's rule says in its own words (the rest is META's).
_OWN_TEXTS: dict[str, dict[str, str]] = {
    "python": {},
    "js": {
        "fix": (
            "Fsync the directory after the rename (POSIX; skip on Windows):\n"
            '    const dirFd = fs.openSync(path.dirname(file), "r");\n'
            "    try { fs.fsyncSync(dirFd); } finally { fs.closeSync(dirFd); }"
        ),
    },
    "rust": {
        "fix": (
            "Fsync the directory after the rename (Unix):\n"
            "    #[cfg(unix)]\n"
            '    std::fs::File::open(path.parent().unwrap_or(Path::new(".")))?.sync_all()?;'
        ),
    },
}
_DOCS = {"python": __doc__ or "", "js": _JS_DOC, "rust": _RUST_DOC}


def check_file(ctx: FileContext) -> Iterator[Hit]:
    """The file's atomic writes (in its own language) that sync the temp file but never
    its directory."""
    for write in atomic_writes(ctx):
        if not write.fsyncs or write.dir_syncs:
            continue
        yield write_hit(
            ctx,
            write,
            target=f"`{write.target}`",
            rename=node_text(write.rename).split("\n")[0][:100],
        )


RULES = [
    Rule(meta=family_meta(META, language, own), doc=_DOCS[language], check_file=check_file)
    for language, own in _OWN_TEXTS.items()
]
