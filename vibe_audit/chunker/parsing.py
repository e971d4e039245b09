"""tree-sitter parsers from the official per-language grammar wheels."""

from __future__ import annotations

from functools import cache, lru_cache

import tree_sitter

from vibe_audit.chunker.languages import LANGUAGES


@cache
def language(name: str) -> tree_sitter.Language:
    grammar = LANGUAGES[name].grammar
    if grammar is None:
        raise ValueError(f"{name} has no tree-sitter grammar; it is sliced in line windows")
    return tree_sitter.Language(grammar())


@cache
def _parser(name: str) -> tree_sitter.Parser:
    return tree_sitter.Parser(language(name))


def parseable(name: str) -> bool:
    return LANGUAGES[name].grammar is not None


@lru_cache(maxsize=32)
def parse(name: str, text: str) -> tree_sitter.Tree:
    """Parse once per (language, text): the slicer and the rule engine share the tree."""
    return _parser(name).parse(text.encode("utf-8"))


def node_text(node: tree_sitter.Node) -> str:
    raw = node.text
    return raw.decode("utf-8", errors="replace") if raw is not None else ""
