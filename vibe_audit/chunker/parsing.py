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


# Root node id -> grammar name of the trees parse() made, so helpers given any node of one
# can run compiled tree-sitter queries in its language.
_ROOT_LANGUAGE: dict[int, str] = {}


@lru_cache(maxsize=32)
def parse(name: str, text: str) -> tree_sitter.Tree:
    """Parse once per (language, text): the slicer and the rule engine share the tree."""
    tree = _parser(name).parse(text.encode("utf-8"))
    _ROOT_LANGUAGE[tree.root_node.id] = name
    return tree


def language_of(node: tree_sitter.Node) -> tree_sitter.Language | None:
    """The grammar of a node from a tree parse() made (None for other trees)."""
    root = node
    while (parent := root.parent) is not None:
        root = parent
    name = _ROOT_LANGUAGE.get(root.id)
    return language(name) if name is not None else None


def node_text(node: tree_sitter.Node) -> str:
    raw = node.text
    return raw.decode("utf-8", errors="replace") if raw is not None else ""
