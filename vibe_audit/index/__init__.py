"""The repository's shared resources and who reads and writes them, from the syntax alone.

``build_index(repo)`` walks each parsed file once (after a cheap text prefilter) and finds:

- ``sql-table``: tables named in SQL string literals (Python, JS/TS, Rust, and .sql files).
  SELECT ... FROM / JOIN reads; INSERT / UPDATE / DELETE / REPLACE / CREATE / ALTER / DROP
  writes.
- ``file-path``: a path built from literals (``root / f"{stage}.json"``, ``os.path.join``,
  ``path.join``, ``dir.join(...)``, ``format!``) reaching a file operation: ``open(p, "w")``,
  ``write_text``, ``os.replace(tmp, p)``, ``fs.writeFileSync``, ``fs::write`` write;
  ``open(p)``, ``read_text``, ``json.load``, ``readFile``, ``fs::read`` read. The path may
  go through a local variable, a helper returning a path (``self._manifest_path(id)``,
  ``dirFor(ws)``) or a helper writing its parameter (``_atomic_write(path, data)``), all
  within one file. A computed part shows as ``*``; an unknown base as its name.
- ``checkpoint-dir``: every directory holding JSON / pickle / checkpoint files of the above,
  with the writers and loaders of anything under it.
- ``lock``, ``queue``, ``websocket-registry``, ``shared-object``: module-level locks,
  queues and mutable collections (Python; JS/TS module-level ``new Map/Set``, arrays), with
  the functions that mutate them (writers) and that only read them. Collections nothing
  mutates are not listed.

Ordering is deterministic: resources by (kind, name), accesses by (path, first line, symbol).
"""

from __future__ import annotations

import posixpath

from vibe_audit.index.hits import Touch
from vibe_audit.index.objects import js_object_hits, python_object_hits
from vibe_audit.index.paths import STATE_SUFFIXES, is_resource, path_hits
from vibe_audit.index.tables import SQL_WORDS, STRING_TYPES, sql_file_hits, sql_hits
from vibe_audit.rules import js
from vibe_audit.rules.context import FileContext, RepoContext, build_context
from vibe_audit.rules.sqltext import sql_accesses
from vibe_audit.schemas import SourceFile
from vibe_audit.schemas.resources import (
    RESOURCE_KINDS,
    Access,
    AccessMode,
    Resource,
    ResourceKind,
    ResourceMap,
)

__all__ = ["build_index", "sql_accesses"]


def build_index(repo: RepoContext) -> ResourceMap:
    """The resource map of a repository (see the module docstring)."""
    hits: list[Touch] = []
    for ctx in repo.files:
        hits += _file_hits(ctx)
    sql_files = [s for s in repo.other_sources if s.path.endswith(".sql")]
    for source in sql_files:
        hits += sql_file_hits(source)
    lines = {ctx.source.path: ctx.lines for ctx in repo.files}
    lines |= {s.path: s.text.splitlines() for s in repo.other_sources}
    return _assemble(hits, len(repo.files) + len(sql_files), lines)


def _file_hits(ctx: FileContext) -> list[Touch]:
    language = ctx.source.language
    if language not in STRING_TYPES:
        return []
    text = ctx.source.text
    found: list[Touch] = []
    if any(word in text for word in SQL_WORDS):
        found += sql_hits(ctx)
    found += path_hits(ctx)
    if language == "python":
        found += python_object_hits(ctx)
    elif language in js.JS_LANGUAGES:
        found += js_object_hits(ctx)
    return found


def _assemble(hits: list[Touch], files: int, sources: dict[str, list[str]]) -> ResourceMap:
    hits = hits + _checkpoint_dirs(hits)
    hits = [h for h in hits if h.kind != "file-path" or is_resource(h.name)]
    grouped: dict[tuple[ResourceKind, str], dict[tuple[str, str | None, AccessMode], list[Touch]]]
    grouped = {}
    for hit in hits:
        key = (hit.path, hit.symbol, hit.mode)
        grouped.setdefault((hit.kind, hit.name), {}).setdefault(key, []).append(hit)
    resources = []
    for (kind, name), by_symbol in grouped.items():
        accesses = []
        for (path, symbol, mode), group in by_symbol.items():
            lines = sorted({h.line for h in group})
            accesses.append(
                Access(
                    path=path,
                    symbol=symbol,
                    mode=mode,
                    lines=lines,
                    signature=group[0].signature,
                    text=[_line(sources, path, n) for n in lines],
                    operations=sorted({h.operation for h in group}),
                )
            )
        accesses.sort(key=lambda a: (a.path, a.lines[0], a.symbol or ""))
        resources.append(
            Resource(
                name=name,
                kind=kind,
                writers=[a for a in accesses if a.mode == "write"],
                readers=[a for a in accesses if a.mode == "read"],
            )
        )
    order = {k: i for i, k in enumerate(RESOURCE_KINDS)}
    resources.sort(key=lambda r: (order[r.kind], r.name))
    return ResourceMap(files=files, resources=resources)


def _checkpoint_dirs(hits: list[Touch]) -> list[Touch]:
    """A checkpoint-dir hit for every file-path hit under a directory that holds state files."""
    files = [h for h in hits if h.kind == "file-path"]
    directories = sorted(
        {posixpath.dirname(h.name) for h in files if h.name.endswith(STATE_SUFFIXES)} - {""}
    )
    out = []
    for directory in directories:
        for hit in files:
            if hit.name == directory or hit.name.startswith(directory + "/"):
                out.append(
                    Touch(
                        "checkpoint-dir",
                        directory,
                        hit.path,
                        hit.line,
                        hit.mode,
                        hit.operation,
                        hit.symbol,
                        hit.signature,
                    )
                )
    return out


def _line(sources: dict[str, list[str]], path: str, number: int) -> str:
    lines = sources.get(path, [])
    return lines[number - 1].strip() if 0 < number <= len(lines) else ""


def indexed(sources: list[SourceFile]) -> RepoContext:
    """The repository parsed (rules.context.build_context) with its resource index built:
    what the rules, the router and the interaction context read."""
    repo = build_context(sources)
    repo.index = build_index(repo)
    return repo
