"""Decide which audits a chunk goes to, from each template's cheap "applies to" signals.

A chunk goes to an audit when a static rule of that audit hit inside it, when its file
imports one of the audit's modules, when its text matches one of the audit's patterns, or
when its file kind is one the audit always reads. Everything else is skipped for that audit
(and counted, so a skip is never a silent clean).
"""

from __future__ import annotations

import re
from functools import cache, lru_cache
from pathlib import PurePosixPath

from vibe_audit.schemas import Chunk
from vibe_audit.schemas.audit_spec import AuditSpec


@cache
def _pattern(patterns: tuple[str, ...]) -> re.Pattern[str]:
    return re.compile("|".join(f"(?:{p})" for p in patterns), re.IGNORECASE)


_JS_SOURCE = re.compile(r"""(?:\bfrom\s*|\brequire\(\s*|^import\s*)["']([^"']+)["']""")
_RUST_USE = re.compile(r"^\s*(?:pub\s+)?use\s+(\w+)")


def _imported_modules(chunk: Chunk) -> frozenset[str]:
    """Top-level module names a chunk's file imports: Python modules, JS/TS package
    specifiers ("pg", "node:fs", "fs/promises"), Rust crates (``use sqlx::...``)."""
    return _modules(tuple(chunk.imports))


@lru_cache(maxsize=4096)
def _modules(imports: tuple[str, ...]) -> frozenset[str]:
    """Every chunk of a file shares its imports: computed once per file, not per chunk."""
    modules: set[str] = set()
    for statement in imports:
        javascript = _JS_SOURCE.search(statement)
        if javascript is not None:
            modules.add(javascript.group(1))
            continue
        rust = _RUST_USE.match(statement)
        if rust is not None:
            modules.add(rust.group(1))
            continue
        words = statement.replace(",", " ").split()
        if words and words[0] in {"import", "from"}:
            modules.update(w.split(".")[0] for w in words[1:] if w not in {"import", "as"})
    return frozenset(modules)


def applies(spec: AuditSpec, chunk: Chunk, rule_hit: bool = False) -> bool:
    if rule_hit:
        return True
    path = PurePosixPath(chunk.path)
    if path.suffix in spec.applies_to.suffixes or path.name in spec.applies_to.suffixes:
        return True
    if _imported_modules(chunk) & set(spec.applies_to.imports):
        return True
    return bool(_pattern(tuple(spec.applies_to.patterns)).search(chunk.text))
