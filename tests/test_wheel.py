"""The wheel works on its own: built from this tree by `python -m build` and installed into
a fresh venv, it carries the prompt templates, rules, pricing table and eval corpora, and its
commands run offline.

The fresh venv gets the wheel (never the source tree: commands run from a scratch folder)
and borrows only the third-party dependencies from the test environment, through a .pth
file, so the test needs no network and no package index.
"""

from __future__ import annotations

import json
import shutil
import site
import subprocess
import sys
import sysconfig
import venv
import zipfile
from pathlib import Path

import pytest

from tests.conftest import EXAMPLE_APP, ROOT
from vibe_audit import __version__

pytest.importorskip("build", reason="`python -m build` is in the test extra")
pytest.importorskip("hatchling", reason="the build backend is in the test extra")


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bin/ folder of a fresh venv with only the built wheel installed."""
    work = tmp_path_factory.mktemp("wheel")
    build = subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--no-isolation",
         "--outdir", str(work / "dist"), str(ROOT)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert build.returncode == 0, build.stderr
    wheels = list((work / "dist").glob("vibe_audit-*.whl"))
    assert len(wheels) == 1
    env = work / "venv"
    venv.EnvBuilder(with_pip=False).create(env)
    python = env / "bin" / "python"
    install = subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet",
         "--no-deps", "--no-index", str(wheels[0])],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert install.returncode == 0, install.stderr
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    dependencies = {sysconfig.get_paths()["purelib"], *site.getsitepackages()}
    (Path(purelib) / "test_dependencies.pth").write_text(
        "\n".join(sorted(dependencies)) + "\n", encoding="utf-8"
    )
    (work / "wheel.whl").write_bytes(wheels[0].read_bytes())
    return env / "bin"


def _run(bin_dir: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(bin_dir / "vibe-audit"), *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=300,
        env={"PATH": "/usr/bin:/bin", "HOME": str(cwd)},
    )


def test_wheel_carries_templates_rules_pricing_and_corpora(installed: Path) -> None:
    names = zipfile.ZipFile(installed.parent.parent / "wheel.whl").namelist()
    for audit in ("concurrency", "checkpoint", "sqlite", "reliability", "guardrails"):
        assert f"vibe_audit/prompts/audits/{audit}.md" in names
    assert "vibe_audit/agent/pricing.toml" in names
    assert "vibe_audit/rules/builtin/http_call_without_timeout.py" in names
    for service in ("scanflow", "notesync", "ledgerq"):
        assert f"vibe_audit/evals/corpora/{service}/LABELS.toml" in names
    assert not any(n.startswith(("tests/", "examples/", "benchmarks/")) for n in names)


def test_installed_wheel_runs_offline(installed: Path, tmp_path: Path) -> None:
    example = tmp_path / "docstore"
    shutil.copytree(EXAMPLE_APP, example)
    where = subprocess.run(
        [str(installed / "python"), "-c", "import vibe_audit; print(vibe_audit.__file__)"],
        capture_output=True, text=True, cwd=tmp_path, check=True,
    ).stdout  # fmt: skip
    assert str(installed.parent) in where  # the wheel's copy, not the source tree

    version = _run(installed, "--version", cwd=tmp_path)
    assert version.returncode == 0, version.stderr
    assert version.stdout.startswith(f"vibe-audit {__version__}\n")
    assert "sqlite: template " in version.stdout

    report = _run(installed, "run", str(example), "--format", "json", "--quiet", cwd=tmp_path)
    assert report.returncode == 0, report.stderr
    findings = json.loads(report.stdout)["findings"]
    assert {"checkpoint-non-atomic-write", "sqlite-wal-not-enabled"} <= {
        f["rule_id"] for f in findings
    }

    prompts = _run(installed, "prompts", "list", cwd=tmp_path)
    assert prompts.returncode == 0, prompts.stderr
    assert all(a in prompts.stdout for a in ("concurrency", "checkpoint", "guardrails"))

    board = _run(
        installed, "eval", "--models", "static", "--out-dir", "ev", "--quiet", cwd=tmp_path
    )
    assert board.returncode == 0, board.stderr
    assert "| static | rule engine |" in board.stdout
    assert (tmp_path / "ev" / "leaderboard.json").is_file()
