"""Recognise test code, per language, so it is skipped by default and counted as such.

Test code (fixtures writing JSON, teardown ``except: pass``, end-to-end tests calling HTTP
without timeouts) is not production code: auditing it as such buries real findings. A file
is test code by its path (test folders, ``test_*.py``, ``*_test.go``, ``*.spec.ts``,
``conftest.py``, fixture folders) or by its content (a Python module that imports a test
framework and defines only tests; a JavaScript / TypeScript module that imports a test
runner: vitest, jest, mocha, node:test, Playwright, bun:test; a Rust file that is all
``#[test]`` functions). Inside an
otherwise production Rust file, ``#[cfg(test)]`` modules are test regions (``cfg_test_regions``).
"""

from __future__ import annotations

import re

SKIP_REASON = "test code (skipped)"

# Folder names that hold tests or their data, in any language.
TEST_DIRS = frozenset(
    {"test", "tests", "testing", "__tests__", "__mocks__", "spec", "specs", "e2e",
     "integration_tests", "fixtures", "testdata", "test_data", "test-data",
     "benches", "cypress", "playwright"}
)  # fmt: skip
_TEST_NAMES = re.compile(
    r"""^(
        test_.+\.py | .+_test\.py | tests?\.py | conftest\.py      # pytest / unittest
      | .+_test\.go                                               # go test
      | .+\.(test|spec|e2e)\.(js|jsx|mjs|cjs|ts|tsx|mts|cts)       # jest, vitest, mocha
      | .+_(test|spec)\.(js|ts)
      | .+Tests?\.java | .+_spec\.rb | .+_test\.rb
    )$""",
    re.VERBOSE,
)
_PY_FRAMEWORK = re.compile(r"^\s*(import|from)\s+(pytest|unittest|hypothesis)\b", re.MULTILINE)
_PY_TEST_DEF = re.compile(r"^\s*(async\s+)?def\s+test_\w*\s*\(|^class\s+Test\w*", re.MULTILINE)
_PY_DEF = re.compile(r"^\s*(async\s+)?def\s+(\w+)\s*\(", re.MULTILINE)
_JS_FRAMEWORK = re.compile(
    r"""(?:from\s+|require\(\s*)["'](vitest|@jest/globals|mocha|node:test|@playwright/test|
    cypress|ava|tap|uvu|bun:test)["']""",
    re.VERBOSE,
)
_JS_LANGUAGES = frozenset({"javascript", "typescript", "tsx"})
_RUST_TEST_ATTR = re.compile(r"#\[(tokio::|async_std::)?test\b")
_RUST_FN = re.compile(r"^\s*(pub(\([^)]*\))?\s+)?(async\s+)?fn\s+\w+", re.MULTILINE)
_CFG_TEST = re.compile(
    r"^[ \t]*#\[cfg\(test\)\][ \t]*\n\s*(pub(\([^)]*\))?\s+)?mod\s+\w+\s*\{", re.MULTILINE
)


def is_test_path(rel: str) -> bool:
    """A test file by its path alone (folders and file-name conventions)."""
    *folders, name = rel.split("/")
    return any(part.lower() in TEST_DIRS for part in folders) or bool(_TEST_NAMES.match(name))


def is_test_file(rel: str, text: str, language: str) -> bool:
    """Test code by path, or by content: a module that is only tests."""
    return is_test_path(rel) or is_test_content(text, language)


def is_test_content(text: str, language: str) -> bool:
    """A module whose content is tests: it imports a test framework and defines only tests
    (Python), imports a test runner (JS/TS), or is all ``#[test]`` functions (Rust)."""
    if language == "python" and _PY_FRAMEWORK.search(text):
        names = [m.group(2) for m in _PY_DEF.finditer(text)]
        tests = _PY_TEST_DEF.findall(text)
        helpers = [n for n in names if not n.startswith(("test", "_", "setUp", "tearDown"))]
        return bool(tests) and len(helpers) <= len(tests)
    if language in _JS_LANGUAGES:
        return bool(_JS_FRAMEWORK.search(text))
    if language == "rust":
        functions = len(_RUST_FN.findall(text))
        return functions > 0 and len(_RUST_TEST_ATTR.findall(text)) >= functions
    return False


def cfg_test_regions(text: str, language: str) -> list[tuple[int, int]]:
    """1-based line ranges of ``#[cfg(test)] mod ... { }`` blocks in a Rust file."""
    if language != "rust" or "cfg(test)" not in text:
        return []
    regions = []
    for match in _CFG_TEST.finditer(text):
        depth, end = 0, len(text)
        for i in range(match.end() - 1, len(text)):
            if text[i] == "{":
                depth += 1
            elif text[i] == "}":
                depth -= 1
                if depth == 0:
                    end = i
                    break
        start_line = text.count("\n", 0, match.start()) + 1
        regions.append((start_line, text.count("\n", 0, end) + 1))
    return regions
