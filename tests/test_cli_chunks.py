from __future__ import annotations

import json

from tests.conftest import EXAMPLE_APP
from tests.test_cli import vibe
from vibe_audit.schemas import ChunkListing


def test_chunks_table_lists_symbols_lines_and_skips() -> None:
    result = vibe("chunks", str(EXAMPLE_APP))
    assert result.returncode == 0, result.stderr
    assert "app/main.py" in result.stdout
    row = next(line for line in result.stdout.splitlines() if " retry " in line)
    assert row.split()[:4] == ["app/main.py", "function", "retry", "47-56"]
    assert "skipped README.md: file type not read by the chunker" in result.stdout


def test_chunks_json_with_exclude() -> None:
    result = vibe("chunks", str(EXAMPLE_APP), "--format", "json", "--exclude", "app/main.py")
    assert result.returncode == 0, result.stderr
    listing = ChunkListing.model_validate(json.loads(result.stdout))
    assert "app/main.py" not in {c.path for c in listing.chunks}
    assert {s.path: s.reason for s in listing.skipped}["app/main.py"] == "excluded by --exclude"


def test_run_honours_include() -> None:
    result = vibe("run", str(EXAMPLE_APP), "--format", "json", "--include", "app/labelstudio.py")
    report = json.loads(result.stdout)
    assert {f["location"]["path"] for f in report["findings"]} == {"app/labelstudio.py"}
    assert report["stats"]["files_audited"] == 1
