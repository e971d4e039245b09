"""Find the files to audit under a path, and account for every file that is not audited.

The walking skeleton walks the tree itself; git ls-files, .gitignore and --include/--exclude
arrive with the chunker issue. Every skipped file or directory is recorded with its reason.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path

from vibe_audit.chunker.parsing import LANGUAGE_BY_SUFFIX
from vibe_audit.errors import TargetNotFoundError, UnreadableFileError
from vibe_audit.schemas import SkippedFile, SourceFile

MAX_FILE_BYTES = 1_000_000
SNIFF_BYTES = 8192

# Directories never audited: VCS data, virtualenvs, caches, vendored and built trees.
SKIP_DIRS = frozenset(
    {
        ".git", ".hg", ".svn", ".venv", "venv", "env", "node_modules", "vendor",
        "__pycache__", ".mypy_cache", ".ruff_cache", ".pytest_cache", ".tox", ".nox",
        "dist", "build", "site-packages", ".idea", ".vscode",
    }
)  # fmt: skip
SECRET_NAMES = frozenset({".env", "id_rsa", "id_dsa", "id_ecdsa", "id_ed25519", ".netrc"})
SECRET_SUFFIXES = (".pem", ".key", ".p12", ".pfx", ".keystore")


@dataclass
class Discovery:
    root: Path
    files: list[SourceFile] = field(default_factory=list)
    skipped: list[SkippedFile] = field(default_factory=list)

    def skip(self, rel: str, reason: str) -> None:
        self.skipped.append(SkippedFile(path=rel, reason=reason))

    def skip_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for item in self.skipped:
            counts[item.reason] = counts.get(item.reason, 0) + 1
        return dict(sorted(counts.items()))


def discover(target: Path, max_bytes: int = MAX_FILE_BYTES) -> Discovery:
    """Collect auditable files under ``target`` (a directory or one file)."""
    if not target.exists():
        raise TargetNotFoundError(f"path not found: {target}")
    if target.is_file():
        found = Discovery(root=target.parent.resolve())
        _consider(found, target, target.name, max_bytes, explicit=True)
        return found
    root = target.resolve()
    found = Discovery(root=root)
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        here = Path(dirpath)
        keep = []
        for name in sorted(dirnames):
            rel = _rel(here / name, root)
            if name in SKIP_DIRS or name.endswith(".egg-info"):
                found.skip(rel + "/", "excluded directory")
            elif (here / name).is_symlink():
                found.skip(rel + "/", "symlinked directory")
            else:
                keep.append(name)
        dirnames[:] = keep
        for name in sorted(filenames):
            _consider(found, here / name, _rel(here / name, root), max_bytes, explicit=False)
    return found


def _rel(path: Path, root: Path) -> str:
    return path.relative_to(root).as_posix()


def _consider(found: Discovery, path: Path, rel: str, max_bytes: int, explicit: bool) -> None:
    name = path.name
    if name in SECRET_NAMES or name.startswith(".env.") or name.endswith(SECRET_SUFFIXES):
        found.skip(rel, "secret file")
        return
    if path.is_symlink() and not path.exists():
        found.skip(rel, "broken symlink")
        return
    language = LANGUAGE_BY_SUFFIX.get(path.suffix.lower())
    try:
        size = path.stat().st_size
        if size > max_bytes:
            found.skip(rel, "oversized")
            return
        data = path.read_bytes()
    except OSError as exc:
        if explicit:
            raise UnreadableFileError(f"cannot read {path}: {exc.strerror or exc}") from exc
        found.skip(rel, "unreadable")
        return
    if b"\x00" in data[:SNIFF_BYTES]:
        found.skip(rel, "binary")
        return
    if language is None:
        found.skip(rel, "language not supported yet")
        return
    try:
        text, replaced = data.decode("utf-8"), False
    except UnicodeDecodeError:
        text, replaced = data.decode("utf-8", errors="replace"), True
    found.files.append(
        SourceFile(
            path=rel,
            language=language,
            text=text,
            sha256=hashlib.sha256(data).hexdigest(),
            decoded_with_replacement=replaced,
        )
    )
