"""Interaction context: for one pack of chunks, the OTHER readers and writers of the shared
resources its code touches, picked from the resource map within a token budget.

A pack touches a resource when one of the resource's accesses lies in the pack's lines, or
when the pack calls a function (by name) that accesses it: the handler that checks a status
and calls ``repository.set_job_status`` touches the ``jobs`` table. The summary then lists
the accesses outside the pack, most relevant first: those in functions the pack calls, then
writers before readers, data changes before schema (CREATE/ALTER), then by path and line.
Entries are added while the rendered summary fits ``budget`` tokens, so the request text
(and its cache key) is the same on every run.
"""

from __future__ import annotations

import re

from vibe_audit.chunker.tokens import count_tokens, count_tokens_batch
from vibe_audit.prompts.render import interaction_entry, interaction_header, render_interaction
from vibe_audit.schemas import Chunk
from vibe_audit.schemas.resources import Access, Resource, ResourceMap

INTERACTION_TOKENS = 400
INTERACTION_TOKENS_MAX = 800  # a pack of several files: 400 per file, up to this


def interaction_budget(files: int) -> int:
    """The interaction-context budget of a pack of ``files`` files."""
    return min(INTERACTION_TOKENS * max(files, 1), INTERACTION_TOKENS_MAX)


_CALLED = re.compile(r"\b([A-Za-z_]\w*)\s*(?:::<[^>]*>\s*)?\(")
_MAX_REJECTED = 5
_MAX_CANDIDATES = 60
_SCHEMA_OPERATIONS = frozenset({"CREATE", "ALTER", "DROP"})


def _in_pack(access: Access, chunks: list[Chunk]) -> bool:
    return any(
        access.path == c.path and any(c.start_line <= n <= c.end_line for n in access.lines)
        for c in chunks
    )


def _short(symbol: str | None) -> str:
    return (symbol or "").rsplit(".", 1)[-1]


class InteractionIndex:
    """The resource map indexed for many packs: which resources a path or a function name
    leads to, and the names each chunk calls (cached by chunk id across audits)."""

    def __init__(self, resources: ResourceMap) -> None:
        self.resources = resources.resources
        self.by_path: dict[str, set[int]] = {}
        self.by_name: dict[str, set[int]] = {}
        for order, resource in enumerate(self.resources):
            for access in resource.accesses:
                self.by_path.setdefault(access.path, set()).add(order)
                if access.symbol:
                    self.by_name.setdefault(_short(access.symbol), set()).add(order)
        self._called: dict[str, frozenset[str]] = {}

    def called(self, chunk: Chunk) -> frozenset[str]:
        """Names of indexed functions the chunk's code calls."""
        if chunk.id not in self._called:
            names = {m.group(1) for m in _CALLED.finditer(chunk.text)}
            self._called[chunk.id] = frozenset(names & self.by_name.keys())
        return self._called[chunk.id]

    def for_pack(self, chunks: list[Chunk], budget: int = INTERACTION_TOKENS) -> list[Resource]:
        """The resources ``chunks`` touch, each with only the accesses outside them that fit."""
        called = frozenset().union(*(self.called(c) for c in chunks))
        near = set().union(*(self.by_path.get(c.path, set()) for c in chunks))
        via_call = set().union(*(self.by_name[n] for n in called))
        candidates: list[tuple[tuple[int, int, int, str, int, int], Resource, Access]] = []
        for order in sorted(near | via_call):
            resource = self.resources[order]
            inside = [a for a in resource.accesses if _in_pack(a, chunks)]
            if order not in via_call and not inside:
                continue
            for access in resource.accesses:
                if any(access is a for a in inside):
                    continue
                key = (
                    0 if _short(access.symbol) in called else 1,
                    0 if access.mode == "write" else 1,
                    1 if set(access.operations) <= _SCHEMA_OPERATIONS else 0,
                    access.path,
                    access.lines[0],
                    order,
                )
                candidates.append((key, resource, access))
        candidates.sort(key=lambda item: item[0])
        picked = _pick([(r, a) for _k, r, a in candidates[:_MAX_CANDIDATES]], budget)
        while picked and count_tokens(render_interaction(_selection(picked))) > budget:
            picked.pop()  # parts counted apart can sum below the whole: trim to the budget
        return _selection(picked)


def interaction_for(
    chunks: list[Chunk], resources: ResourceMap, budget: int = INTERACTION_TOKENS
) -> list[Resource]:
    """The resources ``chunks`` touch, each with only the accesses outside them that fit."""
    return InteractionIndex(resources).for_pack(chunks, budget)


def _pick(candidates: list[tuple[Resource, Access]], budget: int) -> list[tuple[Resource, Access]]:
    """Greedy, in priority order: an entry joins when its tokens (and its resource's header,
    the first time) still fit; the same lines shown under another resource are skipped."""
    entries = count_tokens_batch([interaction_entry(a) for _r, a in candidates])
    headers = count_tokens_batch([interaction_header(r) for r, _a in candidates])
    picked: list[tuple[Resource, Access]] = []
    opened: set[int] = set()
    shown: set[tuple[str, str | None, str, tuple[int, ...]]] = set()
    total = rejected = 0
    for (resource, access), entry, header in zip(candidates, entries, headers, strict=True):
        seen = (access.path, access.symbol, access.mode, tuple(access.lines))
        if seen in shown:
            continue  # the same lines already shown under another resource (a file in a dir)
        cost = entry + (0 if id(resource) in opened else header) + 1  # +1: the newline
        if total + cost > budget:
            rejected += 1
            if rejected >= _MAX_REJECTED:
                break  # the budget is spent; the rest is less relevant anyway
            continue
        total += cost
        opened.add(id(resource))
        shown.add(seen)
        picked.append((resource, access))
    return picked


def _selection(picked: list[tuple[Resource, Access]]) -> list[Resource]:
    """The picked accesses as trimmed resources, in the order each resource was first picked."""
    chosen: dict[int, tuple[Resource, list[Access]]] = {}
    for resource, access in picked:
        chosen.setdefault(id(resource), (resource, []))[1].append(access)
    out = []
    for resource, accesses in chosen.values():
        ordered = sorted(accesses, key=lambda a: (a.path, a.lines[0], a.symbol or ""))
        out.append(
            Resource(
                name=resource.name,
                kind=resource.kind,
                writers=[a for a in ordered if a.mode == "write"],
                readers=[a for a in ordered if a.mode == "read"],
            )
        )
    return out
