"""State file written and loaded with no checksum.

What it finds:
    A repository-level rule, for Python, TypeScript/JavaScript and Rust. A state file (a
    file the code serializes state to - json.dump, JSON.stringify, a serde serializer - and
    parses back elsewhere, linked by path in the resource index) whose writing and reading
    code computes no checksum or hash: no ``hashlib`` / ``zlib.crc32`` / ``hmac`` in Python,
    no ``crypto.createHash`` in JavaScript, no ``crc32fast`` / ``sha2`` / ``blake3`` /
    ``xxhash`` in Rust, nothing named checksum or digest, in the files that write or read
    it. Only files named as working state are reported (the file, or a function writing or
    reading it, says checkpoint, state, progress, resume, cursor, offset, manifest, ...):
    a checksum on a configuration file a user edits by hand would only get in the way.
    Caches, locks, logs, temp files and test code are not reported. Reported once per
    state file, at its first write. Experimental and MONITOR: a checksum matters for state
    that is expensive to lose or that another program may corrupt; a parse error already
    catches most torn writes.

Why it matters:
    A parse error catches a file cut off mid-value, but not one cut at a value boundary,
    a flipped byte in a number, or a file another process or a restore replaced with a
    stale copy. Such a file loads "successfully" and the program resumes from wrong state,
    with nothing to say it is not the file that was written.

Example:
    def save(state: dict) -> None:
        STATE.write_text(json.dumps(state))

    def load() -> dict:
        return json.loads(STATE.read_text())

Use instead:
    def save(state: dict) -> None:
        body = json.dumps(state, sort_keys=True)
        digest = hashlib.sha256(body.encode()).hexdigest()
        STATE.write_text(json.dumps({"sha256": digest, "state": state}))

    def load() -> dict:
        doc = json.loads(STATE.read_text())
        body = json.dumps(doc["state"], sort_keys=True)
        if hashlib.sha256(body.encode()).hexdigest() != doc["sha256"]:
            raise CorruptState(STATE)
        return doc["state"]
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
    id="state-file-without-checksum",
    title="State file written and loaded with no checksum",
    severity=Severity.MONITOR,
    confidence=Confidence.LOW,
    categories={"checkpoint": "Corruption"},
    checklist=["checkpoint.3A"],
    problem=(
        "{file} is written by {writers} and loaded back by {readers}, and neither side "
        "computes a checksum or hash of the content: a damaged file that still parses is "
        "accepted as the state that was saved."
    ),
    scenario=(
        "A disk error, a partial restore or another process leaves {file} damaged but still "
        "valid to the parser (a changed number, a file from an older backup); it loads "
        "in {readers} and the program resumes from wrong state without noticing."
    ),
    impact=(
        "Silent use of wrong state; found, if at all, from its effects much later. How much "
        "that matters depends on what {file} holds."
    ),
    how_to_verify=(
        "Change one value in {file} by hand (keeping it valid) and run the code that loads "
        "it: nothing reports the change."
    ),
    fix=(
        "Store a SHA-256 (or CRC32) of the serialized content beside it (a field or a "
        "sidecar file), recompute it on load, and treat a mismatch like a parse error: "
        "reject the file and fall back to a backup."
    ),
    trade_off=(
        "A hash per save and load, and a format change (old files without a checksum need "
        "a migration path). Not worth it for state that is cheap to rebuild."
    ),
    effort_hours=(0.5, 1.5),
    languages=["python", *js.JS_LANGUAGES, "rust"],
    experimental=True,
)

_HASH = re.compile(
    r"hashlib|\bcrc32|zlib\.adler32|\bhmac\b|createHash|createHmac|crc32fast|\bcrc\b|"
    r"\bsha2\b|Sha256|sha256|sha1|md5|blake|xxhash|twox|seahash|checksum|digest|integrity",
    re.I,
)


def check_repo(repo: RepoContext) -> Iterator[Hit]:
    for state in state_files(repo, ("python", "js", "rust")):
        if not checkpointish(state) or _HASH.search(files_text(state)):
            continue
        yield state_hit(state, {})


RULE = Rule(meta=META, doc=__doc__ or "", check_repo=check_repo)
