"""JSON state file written with neither a version nor a checksum.

What it finds:
    A repository-level rule for TypeScript/JavaScript. A state file (a file the code writes
    with ``JSON.stringify`` and reads back with ``JSON.parse``, linked by path in the
    resource index) where neither the writing nor the reading function, nor the files they
    are in, carry a version or a checksum: no ``version`` / ``schemaVersion`` key or
    property, no ``schema``, no ``checksum`` / ``createHash`` / ``digest``. Only files
    named as working state are reported (the file, or a function writing or reading it,
    says checkpoint, state, progress, resume, cursor, offset, ...). Caches, locks,
    logs, temp files and test code are not reported. Reported once per state file, at its
    first write. Experimental: a version may be set where the object is built, out of
    sight of the save and load.

Why it matters:
    The file outlives the release that wrote it. After a release that renames a field or
    changes its meaning, the old file parses fine and is used as if it had the new shape
    (``undefined`` where a value is expected), and a damaged file that still parses is
    accepted as is. With neither a version nor a checksum in the file, the loader cannot
    tell an old or damaged file from a good one, so it cannot migrate or reject it.

Example:
    await fsp.writeFile(STATE_FILE, JSON.stringify({ cursor, seen }));
    const { cursor, seen } = JSON.parse(await fsp.readFile(STATE_FILE, "utf8"));

Use instead:
    const STATE_VERSION = 2;
    await writeFileAtomic(STATE_FILE, JSON.stringify({ version: STATE_VERSION, cursor, seen }));

    const saved = JSON.parse(await fsp.readFile(STATE_FILE, "utf8"));
    const state = saved.version === STATE_VERSION ? StateSchema.parse(saved) : migrate(saved);
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
    functions_text,
    state_files,
    state_hit,
)
from vibe_audit.schemas import Confidence, Severity

META = RuleMeta(
    id="js-state-file-without-version",
    title="JSON state file written with neither a version nor a checksum",
    severity=Severity.MEDIUM,
    confidence=Confidence.LOW,
    categories={"checkpoint": "Schema", "concurrency": "Validation"},
    checklist=["concurrency.checkpoint_checklist.4"],
    problem=(
        "{file} is written with JSON.stringify by {writers} and parsed back by {readers}, "
        "and it carries neither a version nor a checksum: an old-format or damaged file that "
        "still parses is used as if it were current."
    ),
    scenario=(
        "A release renames a field of what {file} holds. The file saved before the upgrade "
        "still parses in {readers}; the renamed field reads as undefined and the code runs "
        "on with it, or fails far from the load."
    ),
    impact=(
        "Every upgrade that changes the shape risks wrong or lost state for all existing "
        "users, and old files cannot be migrated because nothing marks them as old."
    ),
    how_to_verify=(
        "Save {file}, rename one of its keys by hand, and load it: nothing rejects or migrates it."
    ),
    fix=(
        "Write a `version` (and, where damage matters, a checksum of the content) into "
        "{file}; on load check it, migrate older versions, and validate the shape (zod, "
        "valibot) before use."
    ),
    trade_off="A version constant to bump on each breaking change, and a migration per step.",
    effort_hours=(0.5, 1.5),
    languages=js.JS_LANGUAGES,
    experimental=True,
)

_MARKED = re.compile(
    r"\bversion\s*[:=]|\.version\b|[\"']version[\"']|schemaVersion|\bschema\b|\bv\s*:\s*\d|"
    r"checksum|createHash|digest|\bcrc",
    re.I,
)


def check_repo(repo: RepoContext) -> Iterator[Hit]:
    for state in state_files(repo, ("js",)):
        if not checkpointish(state):
            continue
        if _MARKED.search(functions_text(state)) or _MARKED.search(files_text(state)):
            continue
        yield state_hit(state, {})


RULE = Rule(meta=META, doc=__doc__ or "", check_repo=check_repo)
