from __future__ import annotations

from pathlib import Path

import pytest

from vibe_audit.chunker import discover
from vibe_audit.rules.context import RepoContext, build_context

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE_APP = ROOT / "examples" / "docstore"


def repo_from(path: Path) -> RepoContext:
    return build_context(discover(path).files)


@pytest.fixture
def write_tree(tmp_path: Path):
    """Write {relative path: text or bytes} under tmp_path and return tmp_path."""

    def write(files: dict[str, str | bytes]) -> Path:
        for rel, content in files.items():
            target = tmp_path / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, bytes):
                target.write_bytes(content)
            else:
                target.write_text(content, encoding="utf-8")
        return tmp_path

    return write
