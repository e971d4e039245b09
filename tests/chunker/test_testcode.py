"""Test code is recognised per language, skipped by default and accounted for."""

from __future__ import annotations

import pytest

from vibe_audit.agent.run import run_audit
from vibe_audit.chunker import DiscoveryOptions, discover
from vibe_audit.chunker.testcode import SKIP_REASON, cfg_test_regions, is_test_file
from vibe_audit.index import indexed
from vibe_audit.rules.base import Hit, Rule
from vibe_audit.rules.engine import load_rules, run_rules
from vibe_audit.schemas import Report, RunRequest

UNGUARDED = (
    "import json\n\n\ndef load(path):\n    with open(path) as f:\n        return json.load(f)\n"
)


@pytest.mark.parametrize(
    "path",
    [
        "tests/test_app.py", "app/test_store.py", "app/store_test.py", "conftest.py",
        "pkg/tests/helpers.py", "src/__tests__/queue.ts", "src/queue.spec.ts",
        "src/queue.test.js", "web/e2e/login.ts", "internal/store_test.go",
        "tests/integration.rs", "benches/write.rs", "app/fixtures/seed.py",
        "pkg/testdata/sample.py",
    ],
)  # fmt: skip
def test_test_files_by_path(path: str) -> None:
    assert is_test_file(path, "x = 1\n", "python")


@pytest.mark.parametrize(
    "path",
    ["app/store.py", "src/contest.py", "src/testimony.ts", "src/latest.rs", "app/attest.py",
     "tests_helper_lib/x.py", "src/spectrum.ts"],
)  # fmt: skip
def test_production_files_are_not_test_code(path: str) -> None:
    """Near misses: names that contain 'test' or 'spec' but are not test files."""
    assert not is_test_file(path, UNGUARDED, "python")


def test_a_python_module_of_tests_outside_a_test_folder_is_test_code() -> None:
    text = "import pytest\n\n\ndef test_load():\n    assert 1\n\n\ndef test_save():\n    pass\n"
    assert is_test_file("app/checks.py", text, "python")


def test_a_library_that_imports_unittest_helpers_is_not_test_code() -> None:
    """A production module using unittest.mock for its own features stays audited."""
    text = "from unittest import mock\n\n\ndef patch_env():\n    pass\n\n\ndef load():\n    pass\n"
    assert not is_test_file("app/tools.py", text, "python")


def test_a_js_module_importing_a_test_runner_is_test_code() -> None:
    text = 'import { describe, it, expect } from "vitest";\n\ndescribe("x", () => {});\n'
    assert is_test_file("src/queue.check.ts", text, "typescript")
    assert is_test_file("lib/q.js", 'const test = require("node:test");\n', "javascript")
    assert not is_test_file("src/queue.ts", 'import { z } from "zod";\n', "typescript")


def test_a_rust_file_of_only_test_functions_is_test_code() -> None:
    text = "#[test]\nfn a() {}\n\n#[tokio::test]\nasync fn b() {}\n"
    assert is_test_file("src/checks.rs", text, "rust")
    assert not is_test_file("src/lib.rs", "pub fn a() {}\n#[test]\nfn b() {}\n", "rust")


def test_rust_cfg_test_modules_are_test_regions() -> None:
    text = (
        "pub fn open() {}\n"  # 1
        "\n"
        "#[cfg(test)]\n"  # 3
        "mod tests {\n"
        "    use super::*;\n"
        "    #[test]\n"
        "    fn t() { let x = { 1 }; }\n"
        "}\n"  # 8
        "pub fn after() {}\n"
    )
    assert cfg_test_regions(text, "rust") == [(3, 8)]
    assert cfg_test_regions(text, "python") == []


def test_discovery_skips_test_code_with_its_reason_and_include_tests_reads_it(write_tree) -> None:
    root = write_tree(
        {"app/store.py": UNGUARDED, "tests/test_store.py": UNGUARDED, "conftest.py": "x = 1\n"}
    )
    found = discover(root)
    assert [f.path for f in found.files] == ["app/store.py"]
    assert {s.path: s.reason for s in found.skipped} == {
        "tests/test_store.py": SKIP_REASON,
        "conftest.py": SKIP_REASON,
    }
    found = discover(root, DiscoveryOptions(include_tests=True))
    assert sorted(f.path for f in found.files) == [
        "app/store.py", "conftest.py", "tests/test_store.py",
    ]  # fmt: skip


def test_a_test_file_named_on_the_command_line_is_read(write_tree) -> None:
    root = write_tree({"tests/test_store.py": UNGUARDED})
    found = discover(root / "tests" / "test_store.py")
    assert [f.path for f in found.files] == ["test_store.py"]


NO_TIMEOUT = "import requests\n\n\ndef fetch(url):\n    return requests.get(url)\n"


def test_a_run_reports_no_finding_in_test_code_and_the_ledger_counts_it(write_tree) -> None:
    tree = {"app/client.py": NO_TIMEOUT, "tests/test_client.py": NO_TIMEOUT}
    root = write_tree(tree)
    report = run_audit(RunRequest(target=str(root), audits=["reliability"]))
    assert isinstance(report, Report)
    paths = {f.location.path for f in report.findings}
    assert paths == {"app/client.py"}
    assert report.stats.files_skipped == {SKIP_REASON: 1}
    assert report.coverage is not None
    row = next(r for r in report.coverage.rows if r.path == "tests/test_client.py")
    assert row.states["reliability"] == "excluded"
    assert row.details["reliability"] == SKIP_REASON
    both = run_audit(RunRequest(target=str(root), audits=["reliability"], include_tests=True))
    assert isinstance(both, Report)
    assert {f.location.path for f in both.findings} == set(tree)


def test_rule_hits_inside_a_rust_test_module_are_dropped(write_tree) -> None:
    """The engine drops any rule's hit inside a #[cfg(test)] module (the Rust rules also
    skip test items themselves; this holds for every rule)."""
    text = "pub fn a() {}\n\n#[cfg(test)]\nmod tests {\n    fn b() {}\n}\n"
    root = write_tree({"src/lib.rs": text})
    rule = load_rules()["rust-db-result-unwrapped"]
    every_fn = Rule(
        meta=rule.meta.model_copy(update={"id": "test-double-every-fn"}),
        doc="",
        check_file=lambda ctx: [
            Hit(ctx.source.path, n, n) for n, line in enumerate(ctx.lines, 1) if "fn " in line
        ],
    )
    default = discover(root)
    assert default.files[0].test_regions == [(3, 6)]
    hits = run_rules(indexed(default.files), ["reliability"], rules=[every_fn])
    assert [f.location.start_line for f in hits] == [1]
    everything = discover(root, DiscoveryOptions(include_tests=True))
    hits = run_rules(indexed(everything.files), ["reliability"], rules=[every_fn])
    assert [f.location.start_line for f in hits] == [1, 5]
