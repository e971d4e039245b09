"""Uniquely named temp files written next to state, and nothing ever sweeps stale ones.

What it finds:
    A repository whose code writes temp files next to its state files under a new name on
    every write (``tempfile.mkstemp(dir=...)``, ``NamedTemporaryFile(delete=False,
    dir=...)``, or a name built with ``os.getpid()`` / ``uuid`` / ``time.time()``) and
    renames them into place, while no function anywhere in the repository lists a directory
    (``os.listdir`` / ``os.scandir`` / ``glob`` / ``Path.iterdir``) and removes temp files
    from it (``unlink`` / ``remove`` in a function that mentions tmp/temp/stale files). One
    finding per repository, at the first such writer. A fixed temp name (``state.json.tmp``)
    is reused by the next save and is not reported.

    Only writers that run in a long-lived process are reported: a server or worker framework
    reaches the module, it runs threads or tasks, or it schedules its saves on a timer (for
    Rust: a server framework anywhere in the crate). A command-line tool rarely dies
    mid-write and has no startup to sweep in.

    Repository-level and heuristic: experimental (``--rules experimental``).

Why it matters:
    A crash, kill -9, OOM kill or power loss between creating the temp file and the rename
    leaves it behind, and its unique name means no later save overwrites it. Cleanup on the
    error path cannot run when the process dies; only a sweep at startup removes these
    files. Without one they accumulate in the data directory for the life of the
    deployment.

Example:
    fd, tmp = tempfile.mkstemp(dir=state_dir, suffix=".tmp")
    ...
    os.replace(tmp, state_path)
    # and no code anywhere removes stale *.tmp files from state_dir

Use instead:
    def sweep_temp_files(state_dir: Path, max_age: float = 3600) -> None:
        for stale in state_dir.glob("*.tmp"):
            if time.time() - stale.stat().st_mtime > max_age:
                stale.unlink(missing_ok=True)
    # called once at startup, before the first save
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from vibe_audit.chunker.parsing import node_text
from vibe_audit.rules.base import Hit, Rule, RuleMeta
from vibe_audit.rules.context import RepoContext
from vibe_audit.rules.state_files_util import (
    LANGUAGES,
    atomic_writes,
    family_doc,
    family_meta,
    long_lived,
    sweeps_temp_files,
    write_hit,
)
from vibe_audit.schemas import Confidence, Severity

META = RuleMeta(
    id="checkpoint-temp-files-never-swept",
    title="Uniquely named temp files are never swept at startup",
    severity=Severity.MONITOR,
    confidence=Confidence.MEDIUM,
    categories={"concurrency": "Checkpoint", "checkpoint": "Orphans"},
    checklist=["concurrency.checkpoint_checklist.6"],
    problem=(
        "{function}() writes a temp file named `{factory}` (a new name on every write) and "
        "renames it into place ({count}), but no code in the repository removes stale "
        "temp files at startup, and it runs in a long-lived process: {service}."
    ),
    scenario=(
        "The process is killed (deploy, OOM, crash, power loss) between creating the temp "
        "file and the rename: the temp file stays, and since every write picks a new name, "
        "nothing ever overwrites or deletes it."
    ),
    impact=(
        "Orphaned temp files accumulate next to the state for the life of the deployment, "
        "using disk space and cluttering the directory; each one is a copy of (possibly "
        "sensitive) state."
    ),
    how_to_verify=(
        "Kill the process with SIGKILL while {function}() saves in a loop, restart it, and "
        "list the directory: the temp files from before the restart are still there."
    ),
    fix=(
        "At startup, before the first save, remove temp files older than an hour from the "
        "state directory:\n"
        '    for stale in state_dir.glob("*.tmp"):\n'
        "        if time.time() - stale.stat().st_mtime > 3600:\n"
        "            stale.unlink(missing_ok=True)"
    ),
    trade_off=(
        "A directory listing at startup; only files older than any save in progress may be "
        "deleted (another process may be writing one right now)."
    ),
    effort_hours=(0.25, 1.0),
    languages=["python"],
    experimental=True,  # repository-level heuristic
)

# The documentation of the TypeScript/JavaScript and Rust rules: the sections they word
# differently; family_doc takes the rest from the module docstring (and, after a closing
# "...", the rest of a section).
_JS_DOC = family_doc(
    __doc__ or "",
    """
What it finds:
    A repository whose code writes temp files next to its state files under a new name on
    every write (``Date.now()``, ``process.pid``, ``Math.random()``, ``randomUUID()``) and
    renames them into place, while no function anywhere in the repository lists a directory
    (``fs.readdir`` / ``readdirSync`` / ``glob``) and removes temp files from it (``unlink``
    / ``rm`` in a function that mentions tmp/temp/stale files). One finding per repository,
    at the first such writer. A fixed temp name (``state.json.tmp``) is reused by the next
    save and is not reported.

    ...

Example:
    const tmp = `${file}.${process.pid}.${Date.now()}.tmp`;
    await fsp.writeFile(tmp, data);
    await fsp.rename(tmp, file);
    // and no code anywhere removes stale *.tmp files from that directory

Use instead:
    async function sweepTempFiles(dir: string, maxAgeMs = 3_600_000) {
      for (const name of await fsp.readdir(dir)) {
        if (!name.endsWith(".tmp")) continue;
        const full = path.join(dir, name);
        const { mtimeMs } = await fsp.stat(full);
        if (Date.now() - mtimeMs > maxAgeMs) await fsp.rm(full, { force: true });
      }
    }
    // called once at startup, before the first save
""",
)

_RUST_DOC = family_doc(
    __doc__ or "",
    """
What it finds:
    A repository whose code writes temp files next to its state files under a new name on
    every write (``std::process::id()``, a timestamp, a random suffix, or
    ``tempfile::NamedTempFile::new_in(dir)`` (deleted on drop, but not when the process is
    killed)) and renames them into place, while no function anywhere in the repository lists
    a directory (``fs::read_dir`` / ``glob`` / ``WalkDir``) and removes temp files from it
    (``remove_file`` in a function that mentions tmp/temp/stale files). One finding per
    repository, at the first such writer. A fixed temp name (``state.json.tmp``) is reused
    by the next save and is not reported.

    ...

Example:
    let tmp = format!("{}.{}.tmp", path.display(), std::process::id());
    std::fs::write(&tmp, &bytes)?;
    std::fs::rename(&tmp, &path)?;
    // and no code anywhere removes stale *.tmp files from that directory

Use instead:
    fn sweep_temp_files(dir: &Path, max_age: Duration) -> std::io::Result<()> {
        for entry in std::fs::read_dir(dir)? {
            let entry = entry?;
            let stale = entry.metadata()?.modified()?.elapsed().unwrap_or_default() > max_age;
            if entry.path().extension() == Some("tmp".as_ref()) && stale {
                let _ = std::fs::remove_file(entry.path());
            }
        }
        Ok(())
    }
    // called once at startup, before the first save
""",
)

# What each language's rule says in its own words (the rest is META's).
_OWN_TEXTS: dict[str, dict[str, str]] = {
    "python": {},
    "js": {
        "fix": (
            "At startup, before the first save, remove temp files older than an hour from the "
            'state directory: `for (const n of await fsp.readdir(dir)) if (n.endsWith(".tmp")) '
            "...stat it, and fsp.rm it when its mtime is older than an hour`."
        ),
    },
    "rust": {
        "fix": (
            "At startup, before the first save, remove temp files older than an hour from the "
            "state directory: iterate `std::fs::read_dir(dir)?`, and `remove_file` each `*.tmp` "
            "entry whose `metadata()?.modified()?` is older than an hour."
        ),
    },
}
_DOCS = {"python": __doc__ or "", "js": _JS_DOC, "rust": _RUST_DOC}


def _check(languages: list[str]) -> Callable[[RepoContext], Iterator[Hit]]:
    def check_repo(repo: RepoContext) -> Iterator[Hit]:
        contexts = repo.in_language(*languages)
        found = [(ctx, w) for ctx in contexts for w in atomic_writes(ctx) if w.unique]
        if not found or any(sweeps_temp_files(ctx) for ctx in contexts):
            return
        lasting = [(ctx, w, why) for ctx, w in found if (why := long_lived(ctx, repo)) is not None]
        if not lasting:
            return  # a command-line tool: it rarely dies mid-write and has no startup to sweep
        ctx, write, service = lasting[0]
        others = len({(c.source.path, w.name) for c, w in found}) - 1
        yield write_hit(
            ctx,
            write,
            service=service,
            factory=write.factory.split("\n")[0][:100],
            count=(
                f"{others} other function(s) do the same"
                if others
                else node_text(write.rename)[:80]
            ),
        )

    return check_repo


RULES = [
    Rule(
        meta=family_meta(META, language, own),
        doc=_DOCS[language],
        check_repo=_check(LANGUAGES[language]),
    )
    for language, own in _OWN_TEXTS.items()
]
