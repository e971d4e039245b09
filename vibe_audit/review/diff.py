"""Which lines a change touched, from git.

``git diff --unified=0`` hunks give, for each file of the new side, the added or modified
line ranges. Deleted files have none; renamed files are reported under their new path.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from vibe_audit.errors import UserError

_FILE = re.compile(r"^\+\+\+ (?:b/(.*)|/dev/null)$")
_HUNK = re.compile(r"^@@ -\d+(?:,\d+)? \+(\d+)(?:,(\d+))? @@")
Ranges = dict[str, list[tuple[int, int]]]


def _git(root: Path, *args: str) -> str:
    try:
        result = subprocess.run(
            ["git", "-C", str(root), *args],
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise UserError(f"git is needed for review: {exc}") from exc
    if result.returncode != 0:
        message = " ".join(result.stderr.split()) or f"git {' '.join(args)} failed"
        raise UserError(f"git: {message}")
    return result.stdout


def repo_root(path: Path) -> Path:
    return Path(_git(path, "rev-parse", "--show-toplevel").strip())


def resolve(root: Path, ref: str) -> str:
    return _git(root, "rev-parse", "--verify", f"{ref}^{{commit}}").strip()


def parse_diff(text: str) -> Ranges:
    changed: Ranges = {}
    path: str | None = None
    for line in text.splitlines():
        file_match = _FILE.match(line)
        if file_match:
            path = file_match.group(1)
            continue
        hunk = _HUNK.match(line)
        if hunk and path is not None:
            start, count = int(hunk.group(1)), int(hunk.group(2) or "1")
            if count:
                changed.setdefault(path, []).append((start, start + count - 1))
    return changed


def changed_lines(root: Path, base: str | None, head: str | None, staged: bool = False) -> Ranges:
    """Changed line ranges of the new side: base...head, or the staged changes."""
    if staged:
        return parse_diff(
            _git(root, "diff", "--cached", "--unified=0", "--no-color", "--no-ext-diff")
        )
    assert base is not None
    target = f"{resolve(root, base)}...{resolve(root, head or 'HEAD')}"
    return parse_diff(_git(root, "diff", "--unified=0", "--no-color", "--no-ext-diff", target))


def touches(ranges: list[tuple[int, int]], start: int, end: int) -> bool:
    return any(a <= end and start <= b for a, b in ranges)


def base_revision(root: Path, *, base: str | None, head: str | None, staged: bool = False) -> str:
    """The revision the change's new side is compared with: the merge base of base and head
    (what ``base...head`` diffs from), or HEAD for staged changes ('' before any commit)."""
    if staged:
        try:
            return resolve(root, "HEAD")
        except UserError:
            return ""
    assert base is not None
    return _git(root, "merge-base", resolve(root, base), resolve(root, head or "HEAD")).strip()


def old_paths(
    root: Path, *, base: str | None, head: str | None, staged: bool = False
) -> dict[str, str]:
    """Each changed file of the new side -> its path at the base revision ('' when the change
    added it); renames are followed."""
    args = ["diff", "--name-status", "-z", "-M", "--no-color", "--no-ext-diff"]
    if staged:
        args.append("--cached")
    else:
        assert base is not None
        args.append(f"{resolve(root, base)}...{resolve(root, head or 'HEAD')}")
    fields = _git(root, *args).split("\0")
    out: dict[str, str] = {}
    at = 0
    while at < len(fields) and fields[at]:
        status = fields[at]
        if status[0] in "RC":
            out[fields[at + 2]] = fields[at + 1] if status[0] == "R" else ""
            at += 3
            continue
        if status[0] != "D":
            out[fields[at + 1]] = "" if status[0] == "A" else fields[at + 1]
        at += 2
    return out


def text_at(root: Path, revision: str, path: str) -> str | None:
    """A file's text at a revision; None when it is not there (or not text)."""
    if not revision or not path:
        return None
    try:
        return _git(root, "show", f"{revision}:{path}")
    except (UserError, UnicodeDecodeError):
        return None
