"""State file overwritten with no previous version kept.

What it finds:
    A repository-level rule, for Python, TypeScript/JavaScript and Rust. A state file (a
    file the code serializes state to - json.dump, JSON.stringify, a serde serializer - and
    parses back elsewhere, linked by path in the resource index) is rewritten, in place or
    atomically, while neither the files that write it nor the files that read it keep a
    previous version: no ``.bak`` / ``.prev`` / ``.old`` / backup name, no rotation, no copy
    of the file (``shutil.copy``, ``fs.copyFile``, ``fs::copy``) before it is replaced.
    Only files named as working state are reported (the file, or a function writing or
    reading it, says checkpoint, state, progress, resume, cursor, offset, manifest, ...):
    configuration and credential files a user edits are not. Caches, locks, logs, temp
    files and test code are not reported. Reported once per
    state file, at its first write. Experimental and MONITOR: many state files are cheap
    to rebuild, and only the owner knows which are not.

Why it matters:
    An atomic write protects against a torn file, not against a bad save: a bug that writes
    an empty or wrong state, a half-migrated shape, or a file that is valid JSON but
    truncated by a logic error replaces the only good copy. With no previous version there
    is nothing to fall back to when the load fails or the data is wrong.

Example:
    def save_progress(progress: dict) -> None:
        tmp = PROGRESS.with_suffix(".tmp")
        tmp.write_text(json.dumps(progress))
        os.replace(tmp, PROGRESS)          # the previous progress is gone

Use instead:
    def save_progress(progress: dict) -> None:
        tmp = PROGRESS.with_suffix(".tmp")
        tmp.write_text(json.dumps(progress))
        if PROGRESS.exists():
            os.replace(PROGRESS, PROGRESS.with_suffix(".json.bak"))   # keep one generation
        os.replace(tmp, PROGRESS)
    # and on load: fall back to the .bak file when the main one fails to parse
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from vibe_audit.rules import js
from vibe_audit.rules.base import Hit, Rule, RuleMeta
from vibe_audit.rules.context import RepoContext
from vibe_audit.rules.state_integrity_util import (
    checkpointish,
    files_text,
    state_files,
    state_hit,
)
from vibe_audit.schemas import Confidence, Severity

META = RuleMeta(
    id="state-file-without-backup",
    title="State file overwritten with no previous version kept",
    severity=Severity.MONITOR,
    confidence=Confidence.LOW,
    categories={"checkpoint": "Corruption", "concurrency": "Checkpoint"},
    checklist=["checkpoint.3B", "concurrency.checkpoint_checklist.5"],
    problem=(
        "{file} is overwritten by {writers} and loaded back by {readers}, and no code that "
        "writes or reads it keeps a previous version (.bak, .prev, rotation or a copy "
        "before the replace): the last save is the only copy."
    ),
    scenario=(
        "A bug or a crash at the wrong moment saves an empty or wrong state to {file}; the "
        "next load by {readers} fails or resumes from bad data, and there is no earlier "
        "version to go back to."
    ),
    impact=(
        "The saved state is lost, or must be rebuilt from scratch; how bad that is depends "
        "on what {file} holds and whether it can be rebuilt."
    ),
    how_to_verify=(
        "List the directory {file} lives in after a few saves: only the one file is there. "
        "Decide whether losing it costs more than a rebuild."
    ),
    fix=(
        "Before replacing {file}, move or copy the current one to a backup name (`.bak`, "
        "or keep N generations), and let the loader fall back to it when the main file "
        "fails to load or validate."
    ),
    trade_off=(
        "Twice the disk space for the file and one more rename per save; the fallback "
        "path must be tested, or it will not work when needed."
    ),
    effort_hours=(0.5, 1.5),
    languages=["python", *js.JS_LANGUAGES, "rust"],
    experimental=True,
)

_BACKUP = re.compile(
    r"\.bak\b|\bbak\b|\.prev\b|\.old\b|backup|rotat|generation|"
    r"shutil\.copy|copyfile|copyFile|cpSync|fs::copy|std::fs::copy|\.copy\(",
    re.I,
)


def check_repo(repo: RepoContext) -> Iterator[Hit]:
    for state in state_files(repo, ("python", "js", "rust")):
        if not checkpointish(state):
            continue
        if _BACKUP.search(files_text(state)) or _BACKUP.search(state.name):
            continue
        yield state_hit(state, {})


RULE = Rule(meta=META, doc=__doc__ or "", check_repo=check_repo)
