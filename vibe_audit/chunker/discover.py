"""Find the files to audit under a path, and account for every file that is not audited.

Candidates come from ``git ls-files`` when the path is inside a git work tree (tracked plus
untracked-but-not-ignored files), otherwise from a walk that honours every ``.gitignore``
on the way down. Each candidate is then kept or skipped with a reason: --include/--exclude,
vendored or generated trees, generated files, lock files, snapshots, secret files, symlinks
that leave the tree or loop, oversized, binary, minified, test code (unless include_tests;
a file named on the command line is always read), a Rust file outside its crate's module
tree, or a file type the chunker does not read.
Secrets inside kept files are redacted before anything else sees the text.
"""

from __future__ import annotations

import errno
import hashlib
import os
import stat
import subprocess
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pathspec

from vibe_audit.chunker.languages import language_for
from vibe_audit.chunker.rustmods import SKIP_REASON as RUST_DEAD
from vibe_audit.chunker.rustmods import outside_module_tree
from vibe_audit.chunker.secrets import redact
from vibe_audit.chunker.testcode import SKIP_REASON as TEST_CODE
from vibe_audit.chunker.testcode import cfg_test_regions, is_test_content, is_test_path
from vibe_audit.errors import TargetNotFoundError, UnreadableFileError, UserError
from vibe_audit.schemas import SkippedFile, SourceFile

MAX_FILE_BYTES = 1_000_000
SNIFF_BYTES = 8192
MINIFIED_LINE_CHARS = 2000
MINIFIED_AVERAGE_CHARS = 300
GIT_TIMEOUT_S = 60

# Directories never audited: VCS data, virtualenvs, caches, vendored and built trees.
SKIP_DIRS = frozenset(
    {
        ".git", ".hg", ".svn", ".venv", "venv", ".env", "node_modules", "vendor",
        "bower_components", "__pycache__", ".mypy_cache", ".ruff_cache", ".pytest_cache",
        ".tox", ".nox", "dist", "build", "site-packages", "target", ".next", ".nuxt",
        "coverage", "htmlcov", ".idea", ".vscode", "__snapshots__", ".terraform",
    }
)  # fmt: skip
LOCK_FILES = frozenset(
    {
        "package-lock.json", "yarn.lock", "pnpm-lock.yaml", "poetry.lock", "Pipfile.lock",
        "uv.lock", "Cargo.lock", "go.sum", "composer.lock", "Gemfile.lock", "bun.lockb",
    }
)  # fmt: skip
GENERATED_SUFFIXES = (
    "_pb2.py", "_pb2_grpc.py", "_pb2.pyi", ".pb.go", ".min.js", ".min.css", ".min.mjs",
    ".bundle.js", ".js.map", ".css.map", ".snap", ".generated.ts", ".generated.js", ".g.dart",
)  # fmt: skip
SECRET_NAMES = frozenset(
    {".env", "id_rsa", "id_dsa", "id_ecdsa", "id_ed25519", ".netrc", ".pgpass", ".npmrc",
     ".pypirc", "credentials.json", "service-account.json"}
)  # fmt: skip
SECRET_SUFFIXES = (".pem", ".key", ".p12", ".pfx", ".keystore", ".jks", ".crt", ".der")
_MINIFIABLE = frozenset({"javascript", "typescript", "tsx"})


@dataclass(frozen=True)
class DiscoveryOptions:
    max_bytes: int = MAX_FILE_BYTES
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    use_git: bool = True
    include_tests: bool = False  # --include-tests: audit test code too (chunker/testcode.py)


@dataclass
class Discovery:
    root: Path
    files: list[SourceFile] = field(default_factory=list)
    skipped: list[SkippedFile] = field(default_factory=list)
    secrets_redacted: Counter[str] = field(default_factory=Counter)
    source: str = "walk"  # "git" when git ls-files listed the candidates

    def skip(self, rel: str, reason: str) -> None:
        self.skipped.append(SkippedFile(path=rel, reason=reason))

    def skip_counts(self) -> dict[str, int]:
        return dict(sorted(Counter(s.reason for s in self.skipped).items()))


def discover(target: Path, options: DiscoveryOptions | None = None) -> Discovery:
    """Collect auditable files under ``target`` (a directory or one file)."""
    options = options or DiscoveryOptions()
    if not target.exists() and not target.is_symlink():
        raise TargetNotFoundError(f"path not found: {target}")
    include = _spec(options.include, "--include")
    exclude = _spec(options.exclude, "--exclude")
    if not target.is_dir():
        found = Discovery(root=target.parent.resolve())
        _consider(found, target, target.name, options, explicit=True)
        return found
    root = target.resolve()
    found = Discovery(root=root)
    candidates = _git_files(root) if options.use_git else None
    if candidates is not None:
        found.source = "git"
    else:
        candidates = _walk(root, found)
    for rel in candidates:
        if exclude is not None and exclude.match_file(rel):
            found.skip(rel, "excluded by --exclude")
        elif include is not None and not include.match_file(rel):
            found.skip(rel, "not matched by --include")
        else:
            _consider(found, root / rel, rel, options, explicit=False)
    _drop_dead_rust(found)
    return found


def _drop_dead_rust(found: Discovery) -> None:
    """Skip Rust files no crate root reaches through ``mod`` (chunker/rustmods.py)."""
    texts = {f.path: f.text for f in found.files if f.language == "rust"}
    dead = outside_module_tree(found.root, texts) if texts else set()
    if dead:
        found.files = [f for f in found.files if f.path not in dead]
        for path in sorted(dead):
            found.skip(path, RUST_DEAD)


def _spec(patterns: tuple[str, ...], option: str) -> pathspec.PathSpec[Any] | None:
    if not patterns:
        return None
    try:
        return pathspec.GitIgnoreSpec.from_lines(patterns)
    except Exception as exc:  # pathspec raises several types for a bad pattern
        raise UserError(f"{option}: invalid pattern: {exc}") from exc


def _gitignore_spec(lines: list[str]) -> pathspec.PathSpec[Any]:
    """A .gitignore's patterns, leaving out the lines git itself would ignore as invalid (a
    lone ``!``, an unclosed ``[``): one bad line in an audited tree never stops the run."""
    try:
        return pathspec.GitIgnoreSpec.from_lines(lines)
    except Exception:  # pathspec raises several types for a bad pattern
        return pathspec.GitIgnoreSpec.from_lines([line for line in lines if _valid(line)])


def _valid(line: str) -> bool:
    try:
        pathspec.GitIgnoreSpec.from_lines([line])
    except Exception:
        return False
    return True


def _git_files(root: Path) -> list[str] | None:
    """Tracked and untracked-not-ignored files under root, relative to it; None if not git.

    Also None when git lists nothing: the directory named on the command line is itself
    ignored by its enclosing repository (a vendored or downloaded tree), so it is walked.
    """
    try:
        result = subprocess.run(
            ["git", "-C", str(root), "ls-files", "-z", "--cached", "--others",
             "--exclude-standard", "--", "."],
            capture_output=True, timeout=GIT_TIMEOUT_S, check=False,
        )  # fmt: skip
    except (OSError, subprocess.TimeoutExpired):
        return None
    if result.returncode != 0:
        return None
    paths = result.stdout.decode("utf-8", errors="surrogateescape").split("\0")
    return sorted({p for p in paths if p}) or None


def _walk(root: Path, found: Discovery) -> list[str]:
    """Files under root, pruning skipped directories and honouring nested .gitignore files."""
    files: list[str] = []
    ignores: list[tuple[str, pathspec.PathSpec[Any]]] = []

    def unreadable(error: OSError) -> None:
        where = Path(error.filename or root)
        rel = where.relative_to(root).as_posix() if where != root else "."
        found.skip(rel + "/", "unreadable directory")

    for dirpath, dirnames, filenames in os.walk(root, onerror=unreadable, followlinks=False):
        here = Path(dirpath)
        base = "" if here == root else here.relative_to(root).as_posix() + "/"
        ignores = [(b, s) for b, s in ignores if base.startswith(b)]
        gitignore = here / ".gitignore"
        if gitignore.is_file():
            lines = gitignore.read_text(encoding="utf-8", errors="replace").splitlines()
            ignores.append((base, _gitignore_spec(lines)))

        def ignored(rel: str, is_dir: bool, active: list[tuple[str, Any]] = ignores) -> bool:
            suffix = "/" if is_dir else ""
            return any(spec.match_file(rel[len(b) :] + suffix) for b, spec in active)

        keep = []
        for name in sorted(dirnames):
            rel = base + name
            if name in SKIP_DIRS or name.endswith(".egg-info"):
                found.skip(rel + "/", "vendored or generated directory")
            elif os.path.islink(os.path.join(dirpath, name)):
                found.skip(rel + "/", "symlinked directory (not followed)")
            elif ignored(rel, is_dir=True):
                found.skip(rel + "/", "gitignored")
            else:
                keep.append(name)
        dirnames[:] = keep
        for name in sorted(filenames):
            rel = base + name
            if ignored(rel, is_dir=False):
                found.skip(rel, "gitignored")
            else:
                files.append(rel)
    return files


def _path_reason(rel: str) -> str | None:
    *folders, name = rel.split("/")
    if any(part in SKIP_DIRS or part.endswith(".egg-info") for part in folders):
        return "vendored or generated directory"
    if name in SECRET_NAMES or name.startswith(".env.") or name.endswith(SECRET_SUFFIXES):
        return "secret file"
    if name in LOCK_FILES:
        return "lock file"
    if name.endswith(GENERATED_SUFFIXES):
        return "generated file"
    return None


def _consider(
    found: Discovery, path: Path, rel: str, options: DiscoveryOptions, explicit: bool
) -> None:
    reason = _path_reason(rel)
    if reason:
        found.skip(rel, reason)
        return
    try:
        info = path.lstat()
        if stat.S_ISLNK(info.st_mode):
            resolved = path.resolve(strict=True)
            if not explicit and not resolved.is_relative_to(found.root):
                found.skip(rel, "symlink leaves the tree")
                return
            info = resolved.stat()
    except RuntimeError:
        found.skip(rel, "symlink loop")
        return
    except FileNotFoundError:
        found.skip(rel, "broken symlink" if os.path.islink(path) else "listed but missing")
        return
    except OSError as exc:
        found.skip(rel, "symlink loop" if exc.errno == errno.ELOOP else "unreadable")
        return
    if not stat.S_ISREG(info.st_mode):
        found.skip(rel, "not a regular file")
        return
    language = language_for(rel)
    if language is None:
        found.skip(rel, "file type not read by the chunker")
        return
    tests_skipped = not options.include_tests and not explicit
    if tests_skipped and is_test_path(rel):
        found.skip(rel, TEST_CODE)
        return
    if info.st_size > options.max_bytes:
        found.skip(rel, "oversized")
        return
    try:
        data = path.read_bytes()
    except OSError as exc:
        if explicit:
            raise UnreadableFileError(f"cannot read {path}: {exc.strerror or exc}") from exc
        found.skip(rel, "unreadable")
        return
    if b"\x00" in data[:SNIFF_BYTES]:
        found.skip(rel, "binary")
        return
    try:
        text, replaced = data.decode("utf-8"), False
    except UnicodeDecodeError:
        text, replaced = data.decode("utf-8", errors="replace"), True
    if language.name in _MINIFIABLE and _minified(text):
        found.skip(rel, "minified")
        return
    if tests_skipped and is_test_content(text, language.name):  # the path was checked above
        found.skip(rel, TEST_CODE)
        return
    redacted, counts = redact(text)
    found.secrets_redacted.update(counts)
    found.files.append(
        SourceFile(
            path=rel,
            language=language.name,
            text=redacted,
            sha256=hashlib.sha256(data).hexdigest(),
            decoded_with_replacement=replaced,
            secrets_redacted=sum(counts.values()),
            test_regions=[] if options.include_tests else cfg_test_regions(text, language.name),
        )
    )


def _minified(text: str) -> bool:
    lines = text.splitlines() or [""]
    longest = max(len(line) for line in lines)
    return longest > MINIFIED_LINE_CHARS or len(text) / len(lines) > MINIFIED_AVERAGE_CHARS
