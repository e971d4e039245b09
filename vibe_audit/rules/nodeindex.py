"""Per-tree node indexes: the nodes of the types rules ask for, in source order.

Forty rules each asking "the calls in this function" would run tens of thousands of
tree-sitter queries over a large repository. Instead the first search in a tree captures
the nodes of every common type in one C-level query, and later searches are binary
searches over per-type lists (a type outside the common set costs one more query, once).
Indexes are kept in a bounded LRU; an entry holds its root node, which keeps the tree alive,
so a root id can never be confused with a node of a freed tree.
"""

from __future__ import annotations

import bisect
from collections import OrderedDict
from dataclasses import dataclass, field
from functools import cache

import tree_sitter

from vibe_audit.chunker.parsing import language_of

MAX_INDEXED_TREES = 4096
COMMON_TYPES = (
    # Python
    "call", "function_definition", "lambda", "class_definition", "decorated_definition",
    "string", "concatenated_string", "if_statement", "for_statement", "while_statement",
    "try_statement", "except_clause", "with_statement", "with_item", "assignment",
    "augmented_assignment", "return_statement", "yield", "await", "raise_statement",
    "import_statement", "import_from_statement", "keyword_argument", "attribute",
    # JavaScript / TypeScript / Rust
    "call_expression", "new_expression", "function_declaration", "arrow_function",
    "method_definition", "function_item", "macro_invocation", "string_literal",
    "template_string", "raw_string_literal", "try_statement", "await_expression",
    "member_expression", "field_expression", "use_declaration",
)  # fmt: skip


@dataclass
class _Index:
    root: tree_sitter.Node  # holds the tree alive while indexed
    lang: tree_sitter.Language
    by_type: dict[str, list[tree_sitter.Node]] = field(default_factory=dict)
    starts: dict[str, list[int]] = field(default_factory=dict)

    def nodes(self, kind: str) -> list[tree_sitter.Node]:
        if kind not in self.by_type:
            if not self.lang.id_for_node_kind(kind, True):
                self._store(kind, [])
            else:
                query = _query(self.lang, (kind,))
                self._store(kind, tree_sitter.QueryCursor(query).captures(self.root).get("n", []))
        return self.by_type[kind]

    def _store(self, kind: str, nodes: list[tree_sitter.Node]) -> None:
        nodes.sort(key=lambda n: (n.start_byte, -n.end_byte))
        self.by_type[kind] = nodes
        self.starts[kind] = [n.start_byte for n in nodes]


_INDEXES: OrderedDict[int, _Index] = OrderedDict()


@cache
def _query(lang: tree_sitter.Language, types: tuple[str, ...]) -> tree_sitter.Query:
    return tree_sitter.Query(lang, "\n".join(f"({kind}) @n" for kind in types))


@cache
def _common(lang: tree_sitter.Language) -> tuple[str, ...]:
    return tuple(sorted({k for k in COMMON_TYPES if lang.id_for_node_kind(k, True)}))


def _index_of(node: tree_sitter.Node) -> _Index | None:
    root = node
    while (parent := root.parent) is not None:
        root = parent
    index = _INDEXES.get(root.id)
    if index is not None:
        _INDEXES.move_to_end(root.id)
        return index
    lang = language_of(root)
    if lang is None:
        return None
    index = _Index(root, lang)
    common = _common(lang)
    grouped: dict[str, list[tree_sitter.Node]] = {kind: [] for kind in common}
    for n in tree_sitter.QueryCursor(_query(lang, common)).captures(root).get("n", []):
        grouped[n.type].append(n)
    for kind, nodes in grouped.items():
        index._store(kind, nodes)
    _INDEXES[root.id] = index
    while len(_INDEXES) > MAX_INDEXED_TREES:
        _INDEXES.popitem(last=False)
    return index


def indexed_nodes(
    node: tree_sitter.Node, types: tuple[str, ...], stop_at: frozenset[str]
) -> list[tree_sitter.Node] | None:
    """Named descendants of ``node`` of ``types`` ('_' = any) in source order, not inside a
    ``stop_at`` node below ``node``; None when the tree's language is unknown."""
    if "_" in types:
        return None  # every named node: not indexed, the caller queries
    index = _index_of(node)
    if index is None:
        return None
    found = _within(index, node, list(types))
    if not stop_at or not found:
        return found
    outer: list[tree_sitter.Node] = []
    for stop in _within(index, node, sorted(stop_at)):
        if not outer or stop.start_byte >= outer[-1].end_byte:
            outer.append(stop)
    if not outer:
        return found
    starts = [s.start_byte for s in outer]
    kept = []
    for n in found:
        i = bisect.bisect_right(starts, n.start_byte) - 1
        if i >= 0 and n.id != outer[i].id and n.end_byte <= outer[i].end_byte:
            continue
        kept.append(n)
    return kept


def _below(node: tree_sitter.Node, ancestor: tree_sitter.Node) -> bool:
    current = node.parent
    while current is not None:
        if current.id == ancestor.id:
            return True
        current = current.parent
    return False


def _within(index: _Index, node: tree_sitter.Node, types: list[str]) -> list[tree_sitter.Node]:
    lo, hi, own = node.start_byte, node.end_byte, node.id
    found: list[tree_sitter.Node] = []
    for kind in types:
        nodes = index.nodes(kind)
        starts = index.starts[kind]
        first = bisect.bisect_left(starts, lo)
        last = bisect.bisect_right(starts, hi)
        for n in nodes[first:last]:
            if n.end_byte > hi or n.id == own:
                continue
            if n.start_byte == lo and n.end_byte == hi and not _below(n, node):
                continue  # an ancestor spanning exactly the same bytes
            found.append(n)
    if len(types) > 1:
        found.sort(key=lambda n: (n.start_byte, -n.end_byte))
    return found
