from __future__ import annotations

from tests.conftest import EXAMPLE_APP
from tests.test_cli import one_line_error, vibe
from vibe_audit.errors import EXIT_USAGE
from vibe_audit.prompts import load_audits


def test_prompts_list_shows_id_version_items_and_categories() -> None:
    result = vibe("prompts", "list")
    assert result.returncode == 0
    lines = result.stdout.splitlines()
    assert len(lines) == 5
    for line, spec in zip(lines, load_audits().values(), strict=True):
        assert line.startswith(f"{spec.id:<12} {spec.version}  {len(spec.checklist):>3} items")
        assert spec.categories[0] in line


def test_prompts_show_renders_a_request_for_a_chunk() -> None:
    result = vibe(
        "prompts", "show", "sqlite", "--render", str(EXAMPLE_APP / "app" / "main.py"),
        "--root", str(EXAMPLE_APP), "--symbol", "retry",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "=== system (sqlite template" in result.stdout
    assert "- File: app/main.py (python)" in result.stdout
    assert "sqlite-blocking-call-in-async at line 49" in result.stdout
    assert "49 |     conn = get_connection()" in result.stdout


def test_prompts_show_errors_are_one_line() -> None:
    main = str(EXAMPLE_APP / "app" / "main.py")
    for args, message in (
        (("prompts", "show", "nosuch"), "unknown prompt id"),
        (("prompts", "show", "all"), "takes one audit id"),
        (("prompts", "show", "sqlite", "--render", main, "--symbol", "nope"), "--symbol nope"),
        (("prompts", "show", "sqlite", "--render", str(EXAMPLE_APP / "README.md")), "not an"),
    ):
        result = vibe(*args)
        assert result.returncode == EXIT_USAGE, args
        assert message in one_line_error(result.stderr)
