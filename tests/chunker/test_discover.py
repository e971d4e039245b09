from __future__ import annotations

from pathlib import Path

import pytest

from vibe_audit.chunker import discover
from vibe_audit.errors import TargetNotFoundError, UnreadableFileError


def test_every_skipped_file_is_accounted_for_with_its_reason(write_tree) -> None:
    root = write_tree(
        {
            "app/main.py": "x = 1\n",
            "app/util.py": "def f():\n    return 2\n",
            ".env": "SECRET=1\n",
            "certs/server.pem": "-----BEGIN PRIVATE KEY-----\n",
            "node_modules/lib/index.js": "module.exports = 1\n",
            ".venv/lib/site.py": "x = 1\n",
            "logo.png": b"\x89PNG\r\n\x1a\n\x00\x00\x00",
            "README.md": "# docs\n",
            "big.py": "x = 1\n" * 100,
        }
    )
    found = discover(root, max_bytes=500)
    assert sorted(f.path for f in found.files) == ["app/main.py", "app/util.py"]
    skipped = {s.path: s.reason for s in found.skipped}
    assert skipped == {
        ".env": "secret file",
        "certs/server.pem": "secret file",
        "node_modules/": "excluded directory",
        ".venv/": "excluded directory",
        "logo.png": "binary",
        "README.md": "language not supported yet",
        "big.py": "oversized",
    }
    assert found.skip_counts()["secret file"] == 2


def test_non_utf8_file_is_decoded_with_replacement(write_tree) -> None:
    root = write_tree({"latin.py": b"name = '\xe9t\xe9'\n"})
    (source,) = discover(root).files
    assert source.decoded_with_replacement
    assert source.text == "name = '\ufffdt\ufffd'\n"


def test_symlinked_directory_loop_is_skipped_not_followed(write_tree) -> None:
    root = write_tree({"pkg/mod.py": "x = 1\n"})
    (root / "pkg" / "loop").symlink_to(root, target_is_directory=True)
    found = discover(root)
    assert [f.path for f in found.files] == ["pkg/mod.py"]
    assert {s.path: s.reason for s in found.skipped} == {"pkg/loop/": "symlinked directory"}


def test_missing_target_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(TargetNotFoundError, match="path not found"):
        discover(tmp_path / "nope")


def test_unreadable_target_file_is_a_usage_error(
    write_tree, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = write_tree({"locked.py": "x = 1\n"})

    def deny(self: Path) -> bytes:
        raise PermissionError(13, "Permission denied")

    # Tests run as root here, where chmod 000 does not stop reads: simulate the OS refusal.
    monkeypatch.setattr(Path, "read_bytes", deny)
    with pytest.raises(UnreadableFileError, match="Permission denied"):
        discover(root / "locked.py")
    assert {s.reason for s in discover(root).skipped} == {"unreadable"}
