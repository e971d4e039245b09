from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from vibe_audit.chunker import DiscoveryOptions, discover
from vibe_audit.errors import TargetNotFoundError, UnreadableFileError, UserError

TREE: dict[str, str | bytes] = {
    "app/main.py": "x = 1\n",
    "app/util.ts": "export const f = () => 1;\n",
    "app/schema.sql": "CREATE TABLE t (id INTEGER);\n",
    "Dockerfile": "FROM python:3.12-slim\n",
    ".env": "SECRET=1\n",
    "certs/server.pem": "-----BEGIN PRIVATE KEY-----\n",
    "node_modules/lib/index.js": "module.exports = 1\n",
    "app/api_pb2.py": "DESCRIPTOR = None\n",
    "package-lock.json": "{}\n",
    "web/app.min.js": "var a=1;\n",
    "logo.png": b"\x89PNG\r\n\x1a\n\x00\x00\x00",
    "compiled.py": b"\x00\x01binary\x00",
    "README.md": "# docs\n",
    "big.py": "x = 1\n" * 100,
}


def test_every_skipped_file_is_accounted_for_with_its_reason(write_tree) -> None:
    root = write_tree(TREE)
    found = discover(root, DiscoveryOptions(max_bytes=500))
    assert found.source == "walk"
    assert sorted(f.path for f in found.files) == [
        "Dockerfile", "app/main.py", "app/schema.sql", "app/util.ts",
    ]  # fmt: skip
    assert {f.path: f.language for f in found.files}["app/util.ts"] == "typescript"
    assert {s.path: s.reason for s in found.skipped} == {
        ".env": "secret file",
        "certs/server.pem": "secret file",
        "node_modules/": "vendored or generated directory",
        "app/api_pb2.py": "generated file",
        "package-lock.json": "lock file",
        "web/app.min.js": "generated file",
        "logo.png": "file type not read by the chunker",
        "compiled.py": "binary",
        "README.md": "file type not read by the chunker",
        "big.py": "oversized",
    }


def test_git_work_tree_lists_tracked_and_untracked_but_not_ignored(write_tree) -> None:
    root = write_tree({**TREE, ".gitignore": "ignored/\n", "ignored/secret_plan.py": "x = 1\n"})
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    subprocess.run(["git", "-C", str(root), "add", "app/main.py"], check=True)
    found = discover(root, DiscoveryOptions(max_bytes=500))
    assert found.source == "git"
    assert "app/main.py" in {f.path for f in found.files}
    assert "ignored/secret_plan.py" not in {f.path for f in found.files} | {
        s.path for s in found.skipped
    }
    # node_modules files are listed by git (not ignored here) and skipped one by one
    assert {s.path: s.reason for s in found.skipped}["node_modules/lib/index.js"] == (
        "vendored or generated directory"
    )


def test_a_directory_its_repository_ignores_is_walked_when_named(write_tree) -> None:
    root = write_tree({".gitignore": "vendor/\n", "vendor/lib/db.py": "x = 1\n", "a.py": "y = 2\n"})
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    assert [f.path for f in discover(root).files] == ["a.py"]
    named = discover(root / "vendor")
    assert named.source != "git"
    assert [f.path for f in named.files] == ["lib/db.py"]


def test_walk_honours_nested_gitignore(write_tree) -> None:
    root = write_tree(
        {
            ".gitignore": "*.log\nbuild_out/\n",
            "pkg/.gitignore": "local_*.py\n",
            "pkg/keep.py": "x = 1\n",
            "pkg/local_settings.py": "x = 2\n",
            "other/local_settings.py": "x = 3\n",
            "build_out/gen.py": "x = 4\n",
        }
    )
    found = discover(root)
    assert sorted(f.path for f in found.files) == ["other/local_settings.py", "pkg/keep.py"]
    assert {s.path: s.reason for s in found.skipped} == {
        ".gitignore": "file type not read by the chunker",
        "pkg/.gitignore": "file type not read by the chunker",
        "build_out/": "gitignored",
        "pkg/local_settings.py": "gitignored",
    }


def test_a_gitignore_line_git_would_ignore_does_not_stop_the_walk(write_tree) -> None:
    """black's sdist has a test .gitignore holding only '!': pathspec refuses it, git ignores
    the line; the other lines of the file still apply."""
    root = write_tree(
        {
            "pkg/.gitignore": "!\n*.tmp.py\n",
            "pkg/keep.py": "x = 1\n",
            "pkg/scratch.tmp.py": "x = 2\n",
        }
    )
    found = discover(root)
    assert [f.path for f in found.files] == ["pkg/keep.py"]
    assert {s.path: s.reason for s in found.skipped}["pkg/scratch.tmp.py"] == "gitignored"


def test_include_and_exclude_globs(write_tree) -> None:
    root = write_tree({"app/a.py": "x=1\n", "app/tests/test_a.py": "x=1\n", "tools/b.py": "x=1\n"})
    found = discover(root, DiscoveryOptions(include=("app/**",), exclude=("**/tests/**",)))
    assert [f.path for f in found.files] == ["app/a.py"]
    assert {s.path: s.reason for s in found.skipped} == {
        "app/tests/test_a.py": "excluded by --exclude",
        "tools/b.py": "not matched by --include",
    }
    with pytest.raises(UserError, match="--exclude: invalid pattern"):
        discover(root, DiscoveryOptions(exclude=("!",)))


def test_five_megabyte_minified_file_is_skipped(write_tree) -> None:
    bundle = "var a=" + "1+" * (2_500_000) + "1;\n"
    root = write_tree({"static/bundle.js": bundle, "app.js": "const a = 1;\n"})
    assert len(bundle) > 5_000_000
    found = discover(root, DiscoveryOptions(max_bytes=10_000_000))
    assert [f.path for f in found.files] == ["app.js"]
    assert {s.path: s.reason for s in found.skipped} == {"static/bundle.js": "minified"}
    default = discover(root)
    assert {s.path: s.reason for s in default.skipped} == {"static/bundle.js": "oversized"}


def test_non_utf8_file_is_decoded_with_replacement(write_tree) -> None:
    root = write_tree({"latin.py": b"name = '\xe9t\xe9'\n"})
    (source,) = discover(root).files
    assert source.decoded_with_replacement
    assert source.text == "name = '\ufffdt\ufffd'\n"


def test_symlink_loop_and_escaping_links_are_skipped_not_followed(write_tree, tmp_path) -> None:
    root = write_tree({"repo/pkg/mod.py": "x = 1\n", "outside.py": "x = 2\n"}) / "repo"
    (root / "pkg" / "loop").symlink_to(root, target_is_directory=True)
    (root / "a.py").symlink_to(root / "b.py")
    (root / "b.py").symlink_to(root / "a.py")
    (root / "escape.py").symlink_to(tmp_path / "outside.py")
    (root / "dangling.py").symlink_to(root / "nowhere.py")
    found = discover(root)
    assert [f.path for f in found.files] == ["pkg/mod.py"]
    assert {s.path: s.reason for s in found.skipped} == {
        "pkg/loop/": "symlinked directory (not followed)",
        "a.py": "symlink loop",
        "b.py": "symlink loop",
        "escape.py": "symlink leaves the tree",
        "dangling.py": "broken symlink",
    }


def test_planted_secrets_are_redacted_and_counted(write_tree) -> None:
    root = write_tree(
        {
            "settings.py": (
                'AWS_ACCESS_KEY_ID = "AKIAIOSFODNN7EXAMPLE"\n'
                'DB_PASSWORD = "hunter2hunter2"\n'
                'token = os.environ["API_TOKEN"]\n'
                'KEY = """-----BEGIN RSA PRIVATE KEY-----\n'
                "MIIEowIBAAKCAQEAxyz\n"
                '-----END RSA PRIVATE KEY-----"""\n'
            )
        }
    )
    found = discover(root)
    (source,) = found.files
    assert "AKIAIOSFODNN7EXAMPLE" not in source.text
    assert "hunter2hunter2" not in source.text
    assert "MIIEowIBAAKCAQEAxyz" not in source.text
    assert source.text.splitlines()[0] == 'AWS_ACCESS_KEY_ID = "[REDACTED:aws-access-key-id]"'
    assert source.text.splitlines()[2] == 'token = os.environ["API_TOKEN"]'
    assert len(source.text.splitlines()) == 6  # line numbers stay exact
    assert dict(found.secrets_redacted) == {
        "aws-access-key-id": 1,
        "assigned-secret": 1,
        "private-key": 1,
    }
    assert source.secrets_redacted == 3


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
