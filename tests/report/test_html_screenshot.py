"""scripts/html_screenshot.sh renders the example app's HTML report in headless Chromium and
checks that the page's script filled in the issue counter (the count taken from the report's
own JSON). It runs wherever a Chromium is on PATH (CI installs one: apt-get install
chromium) and is skipped, saying why, where none is."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

BROWSERS = ("chromium", "chromium-browser", "google-chrome")  # what the script looks for


def test_html_report_renders_in_headless_chromium(tmp_path: Path) -> None:
    if not any(shutil.which(name) for name in BROWSERS):
        pytest.skip(
            "scripts/html_screenshot.sh not run: no Chromium on PATH "
            f"({', '.join(BROWSERS)}); install one (apt-get install chromium) to run it"
        )
    out = tmp_path / "html"
    env = {k: v for k, v in os.environ.items() if not k.startswith("VIBE_AUDIT")}
    env["PYTHON"] = sys.executable  # the interpreter running the tests has vibe-audit
    env["HOME"] = str(tmp_path)  # Chromium's profile and crash files stay out of the home
    result = subprocess.run(
        ["bash", str(ROOT / "scripts" / "html_screenshot.sh"), str(out)],
        capture_output=True, text=True, env=env, timeout=300, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert "DOM check passed" in result.stdout
    assert (out / "report.png").stat().st_size > 0
    assert 'id="shown"' in (out / "dom.html").read_text(encoding="utf-8")
