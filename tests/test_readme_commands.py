"""Every ```console block of README.md is run: each `$ ` command from the repository root
(offline, no keys, vibe-audit from this environment), and every line shown under it must
appear in what it printed, in that order (`...` stands for lines left out). The manual's
samples are real output and cannot drift.

A command writes only under ``${TMPDIR:-/tmp}``, never in the repository nor at a fixed path
(two runs at once would share it): the test gives each block a fresh TMPDIR, and shows that
folder as ``/tmp`` in what it compares, as a user with the default TMPDIR sees it."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

README = (ROOT / "README.md").read_text(encoding="utf-8")
# ```console, or ````console around output that has ``` fences of its own
BLOCK = re.compile(r"^(`{3,})console\n(.*?)^\1$", re.M | re.S)


def _blocks() -> list[list[tuple[str, list[str]]]]:
    """Each console block: its commands in order, each with the lines shown under it."""
    blocks = []
    for _, block in BLOCK.findall(README):
        samples: list[tuple[str, list[str]]] = []
        for line in block.splitlines():
            if line.startswith("$ "):
                samples.append((line[2:], []))
            elif samples:
                samples[-1][1].append(line.rstrip())
        blocks.append(samples)
    return blocks


BLOCKS = _blocks()


def test_the_readme_has_console_samples() -> None:
    commands = [command for block in BLOCKS for command, _ in block]
    assert len(commands) >= 10
    assert all(c.startswith(("vibe-audit ", "bash examples/")) for c in commands)
    # Outputs go to the temporary folder only, so a test run leaves nothing behind.
    fixed = [c for c in commands if "/tmp" in c.replace("${TMPDIR:-/tmp}", "")]
    assert not fixed, f"a fixed /tmp path instead of ${{TMPDIR:-/tmp}}: {fixed}"
    assert not [c for c in commands if re.search(r"--out(-dir)? (?![\"']?\$\{TMPDIR)", c)]


@pytest.mark.parametrize("block", BLOCKS, ids=[b[0][0] for b in BLOCKS])
def test_readme_console_block(block: list[tuple[str, list[str]]], tmp_path: Path) -> None:
    """The block's commands run in order (a later one may use what an earlier one made)."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("VIBE_AUDIT") and not k.endswith("_API_KEY")
    }
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["HOME"] = str(tmp_path)  # no user config, an empty cache
    env.pop("XDG_CACHE_HOME", None)
    env.pop("XDG_CONFIG_HOME", None)
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    env["TMPDIR"] = str(scratch)  # every output of the block lands here
    for command, expected in block:
        result = subprocess.run(
            ["bash", "-c", command], cwd=ROOT, capture_output=True, text=True, env=env, timeout=300
        )
        shown = subprocess.CompletedProcess(
            result.args,
            result.returncode,
            result.stdout.replace(str(scratch), "/tmp"),
            result.stderr,
        )
        _assert_shown(command, expected, shown)


def _assert_shown(
    command: str, expected: list[str], result: subprocess.CompletedProcess[str]
) -> None:
    printed = [line.rstrip() for line in result.stdout.splitlines()]
    at = 0
    for want in expected:
        if want == "...":
            continue
        while at < len(printed) and printed[at] != want:
            at += 1
        assert at < len(printed), (
            f"README sample line not printed (in order) by `{command}`:\n{want}\n"
            f"--- stdout ---\n{result.stdout[:4000]}\n--- stderr ---\n{result.stderr[:2000]}"
        )
        at += 1
