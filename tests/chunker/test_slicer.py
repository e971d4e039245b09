"""Slicing by symbol in every language, with exact line ranges (snapshot) and context."""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

import pytest

from vibe_audit.chunker import count_tokens, discover, recount, slice_file
from vibe_audit.chunker.slicer import OVERLAP_LINES
from vibe_audit.chunker.tokens import estimate_tokens
from vibe_audit.schemas import Chunk, SourceFile

FIXTURES = Path(__file__).parent / "fixtures"
SNAPSHOT = Path(__file__).parent / "slices.snap"
SMALL_BUDGET = 32  # tokens: forces large classes to split by member, long functions by statement


def _sources() -> dict[str, SourceFile]:
    return {s.path: s for s in discover(FIXTURES).files}


def _describe(chunks: list[Chunk]) -> list[str]:
    return [
        f"{c.path} {c.kind} {c.symbol}{'[' + c.part + ']' if c.part else ''} "
        f"{c.start_line}-{c.end_line}"
        for c in chunks
    ]


def test_every_language_is_sliced_as_the_snapshot_says() -> None:
    sources = _sources()
    assert {s.language for s in sources.values()} == {
        "python", "typescript", "tsx", "javascript", "rust", "go", "java", "sql", "dockerfile",
    }  # fmt: skip
    lines = []
    for path in sorted(sources):
        lines += _describe(slice_file(sources[path]))
        lines += [
            f"budget={SMALL_BUDGET} {d}" for d in _describe(slice_file(sources[path], SMALL_BUDGET))
        ]
    if os.environ.get("VIBE_AUDIT_UPDATE_SNAPSHOTS"):
        SNAPSHOT.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert lines == SNAPSHOT.read_text(encoding="utf-8").splitlines()


@pytest.mark.parametrize("budget", [None, SMALL_BUDGET])
def test_every_line_of_code_is_in_some_chunk(budget: int | None) -> None:
    for source in _sources().values():
        chunks = slice_file(source) if budget is None else slice_file(source, budget)
        covered = {n for c in chunks for n in range(c.start_line, c.end_line + 1)}
        for number, text in enumerate(source.text.splitlines(), start=1):
            if text.strip() and not re.fullmatch(r"[\s)\]};,]*", text):
                assert number in covered, f"{source.path}:{number} is in no chunk: {text!r}"
        for chunk in chunks:
            expected = "\n".join(source.text.splitlines()[chunk.start_line - 1 : chunk.end_line])
            assert chunk.text == expected + "\n"
            assert chunk.content_hash == hashlib.sha256(chunk.text.encode()).hexdigest()
            assert chunk.tokens == estimate_tokens(chunk.text)  # slicing uses the estimate
        recount(chunks)
        assert [c.tokens for c in chunks] == [count_tokens(c.text) for c in chunks]


def _by_symbol(path: str, budget: int | None = None) -> dict[str, Chunk]:
    source = _sources()[path]
    chunks = slice_file(source) if budget is None else slice_file(source, budget)
    return {f"{c.symbol}{'[' + c.part + ']' if c.part else ''}": c for c in chunks}


def test_decorated_function_includes_its_decorators() -> None:
    settings = _by_symbol("service.py")["settings"]
    assert (settings.start_line, settings.end_line) == (13, 16)
    assert settings.text.startswith("@lru_cache(maxsize=1)\n@staticmethod\ndef settings():")


def test_nested_classes_stay_whole_inside_a_split_class() -> None:
    chunks = _by_symbol("service.py", SMALL_BUDGET)
    row = chunks["Repository.Row"]
    assert "class Meta:" in row.text and row.kind == "class"
    assert row.enclosing == "class Repository:"
    assert chunks["Repository.get"].enclosing == "class Repository:"
    assert chunks["Repository"].text.startswith("class Repository:")


def test_oversized_function_is_split_at_statements_with_overlap() -> None:
    chunks = _by_symbol("service.py", SMALL_BUDGET)
    first, second = chunks["process[1/2]"], chunks["process[2/2]"]
    assert first.start_line == 40 and second.end_line == 51
    assert second.start_line == first.end_line + 1 - OVERLAP_LINES
    assert second.enclosing == "def process(doc):"
    assert second.id == "service.py#process[2/2]@43-51"


def test_context_header_has_imports_enclosing_signature_and_setup() -> None:
    openers = _by_symbol("store.ts")
    assert openers["openDb"].imports == [
        'import { Database } from "./db";',
        'import type { Doc } from "./types";',
    ]
    assert openers["openDb"].setup == ['const DB_URL = process.env.DB_URL ?? "sqlite://app.db";']
    assert openers["saveDoc"].kind == "function"  # const arrow function
    assert _by_symbol("handler.go")["Store.Get"].kind == "function"  # method with receiver
    java = _by_symbol("Repo.java", SMALL_BUDGET)
    assert java["Repo.toString"].enclosing == "public class Repo {"
    rust = _by_symbol("worker.rs", SMALL_BUDGET)
    assert rust["Job.complete[2/2]"].enclosing.startswith("impl Job { / pub async fn complete")
    assert _by_symbol("worker.rs")["claim"].setup == [
        "const CLAIM_TIMEOUT: Duration = Duration::from_secs(30);"
    ]


def test_chunk_ids_are_deterministic() -> None:
    first = [c.id for s in _sources().values() for c in slice_file(s)]
    second = [c.id for s in _sources().values() for c in slice_file(s)]
    assert first == second
    assert len(set(first)) == len(first)
