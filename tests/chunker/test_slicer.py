from __future__ import annotations

import hashlib

from vibe_audit.chunker import discover, slice_file

SOURCE = '''"""Module docstring."""
import os
from pathlib import Path

LIMIT = 3


@app.get("/x")
@cache
def handler():
    return 1


async def fetch():
    await thing()

CONFIG = {"a": 1}


class Store:
    """A store."""

    class Inner:
        pass

    def put(self, key):
        return key
'''


def test_slices_by_top_level_symbol_with_exact_lines(write_tree) -> None:
    root = write_tree({"pkg/mod.py": SOURCE})
    (source,) = discover(root).files
    chunks = slice_file(source)
    assert [(c.kind, c.symbol, c.start_line, c.end_line) for c in chunks] == [
        ("module", "<module>", 1, 5),
        ("function", "handler", 8, 11),  # decorators belong to the function
        ("function", "fetch", 14, 15),
        ("module", "<module>", 17, 17),
        ("class", "Store", 20, 27),  # nested class and methods stay inside
    ]
    handler = chunks[1]
    assert handler.text == '@app.get("/x")\n@cache\ndef handler():\n    return 1\n'
    assert handler.id == "pkg/mod.py#handler@8-11"
    assert handler.content_hash == hashlib.sha256(handler.text.encode()).hexdigest()
    assert handler.imports == ["import os", "from pathlib import Path"]
    assert handler.tokens == -(-len(handler.text) // 4)


def test_every_line_of_code_is_in_some_chunk(write_tree) -> None:
    root = write_tree({"mod.py": SOURCE})
    (source,) = discover(root).files
    covered = {n for c in slice_file(source) for n in range(c.start_line, c.end_line + 1)}
    code_lines = {n for n, text in enumerate(SOURCE.splitlines(), 1) if text.strip()}
    assert code_lines <= covered


def test_chunk_ids_are_deterministic(write_tree) -> None:
    root = write_tree({"mod.py": SOURCE})
    first = [c.id for c in slice_file(discover(root).files[0])]
    second = [c.id for c in slice_file(discover(root).files[0])]
    assert first == second
