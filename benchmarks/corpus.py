"""The large real codebase the benchmarks read: Django + SQLAlchemy from PyPI, pinned.

Installed once (pip --target, no dependencies) into .bench/corpus beside the project;
later runs reuse it. Needs PyPI the first time only.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

PACKAGES = ("django==5.2.19", "sqlalchemy==2.1.9")
CORPUS = Path(__file__).resolve().parent.parent / ".bench" / "corpus"


def corpus() -> Path:
    marker = CORPUS / ".installed"
    if marker.read_text(encoding="utf-8").split() != list(PACKAGES) if marker.exists() else True:
        CORPUS.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--upgrade",
             "--target", str(CORPUS), *PACKAGES],
            check=True,
        )  # fmt: skip
        marker.write_text("\n".join(PACKAGES) + "\n", encoding="utf-8")
    return CORPUS


def python_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*.py") if p.is_file())


if __name__ == "__main__":
    path = corpus()
    files = python_files(path)
    lines = sum(len(p.read_bytes().splitlines()) for p in files)
    print(f"{path}: {len(files)} Python files, {lines} lines")
