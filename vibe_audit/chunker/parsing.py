"""tree-sitter parsers from the official per-language grammar wheels."""

from __future__ import annotations

from functools import cache, lru_cache

import tree_sitter
import tree_sitter_python

# Extension -> language id. Only languages with a grammar wheel installed are listed.
LANGUAGE_BY_SUFFIX: dict[str, str] = {".py": "python", ".pyi": "python"}

_GRAMMARS = {"python": tree_sitter_python.language}


@cache
def language(name: str) -> tree_sitter.Language:
    return tree_sitter.Language(_GRAMMARS[name]())


@cache
def _parser(name: str) -> tree_sitter.Parser:
    return tree_sitter.Parser(language(name))


@lru_cache(maxsize=32)
def parse(name: str, text: str) -> tree_sitter.Tree:
    """Parse once per (language, text): the slicer and the rule engine share the tree."""
    return _parser(name).parse(text.encode("utf-8"))


def node_text(node: tree_sitter.Node) -> str:
    raw = node.text
    return raw.decode("utf-8", errors="replace") if raw is not None else ""
