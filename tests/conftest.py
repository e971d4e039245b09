from __future__ import annotations

from pathlib import Path

import pytest

from vibe_audit.chunker import discover
from vibe_audit.index import indexed
from vibe_audit.rules.context import RepoContext

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE_APP = ROOT / "examples" / "docstore"


def repo_from(path: Path) -> RepoContext:
    return indexed(discover(path).files)


def write_files(root: Path, files: dict[str, str | bytes]) -> Path:
    """Write {relative path: text or bytes} under root and return root."""
    for rel, content in files.items():
        target = root / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            target.write_bytes(content)
        else:
            target.write_text(content, encoding="utf-8")
    return root


@pytest.fixture
def write_tree(tmp_path: Path):
    """Write {relative path: text or bytes} under tmp_path and return tmp_path."""
    return lambda files: write_files(tmp_path, files)


def one_file_per_directory(root: Path) -> Path:
    """The example app with each module in a directory of its own: a request packs one
    directory's files, so this makes one request per module and audit, and a module's
    tables are read and written by code outside its request (interaction context)."""
    for source in sorted((EXAMPLE_APP / "app").glob("*.py")):
        (root / source.stem).mkdir(parents=True)
        (root / source.stem / source.name).write_text(source.read_text(encoding="utf-8"))
    return root
