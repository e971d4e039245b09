"""Rust files outside their crate's module tree: not compiled, so not audited.

A ``.rs`` file is part of a crate only when a crate root (``src/lib.rs``, ``src/main.rs``,
``src/bin/*.rs``, ``build.rs``, ``examples/``, ``tests/``, ``benches/``) reaches it through
``mod name;`` declarations (honouring ``#[path = "..."]``) or ``include!("...")``. Anything
else (a stale file left after a refactor, a template, a file behind a disabled feature that
no ``mod`` names) is dead code as far as the compiler is concerned. This is only decided
for a crate whose ``Cargo.toml`` is on disk and whose root is among the discovered files;
otherwise nothing is skipped.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterable
from pathlib import Path

SKIP_REASON = "not in the crate's module tree (no mod declaration reaches it)"

_MOD = re.compile(
    r"""(?:\#\[path\s*=\s*"(?P<path>[^"]+)"\]\s*)?   # optional #[path = "..."]
        (?:\#\[[^\]]*\]\s*)*                          # other attributes (cfg, ...)
        (?:pub(?:\([^)]*\))?\s+)?mod\s+(?P<name>\w+)\s*;""",
    re.VERBOSE,
)
_INCLUDE = re.compile(r"include!\s*\(\s*\"([^\"]+\.rs)\"\s*\)")
_ROOT_DIRS = ("examples/", "tests/", "benches/", "src/bin/")


def _roots(crate: str, paths: Iterable[str]) -> set[str]:
    prefix = f"{crate}/" if crate else ""
    roots = set()
    for path in paths:
        rel = path[len(prefix) :]
        if rel in ("src/lib.rs", "src/main.rs", "build.rs") or rel.startswith(_ROOT_DIRS):
            roots.add(path)
    return roots


def _children(path: str, text: str) -> set[str]:
    """Files a Rust file's ``mod x;`` declarations and ``include!`` name, relative to the
    crate (both candidate layouts: ``x.rs`` and ``x/mod.rs``)."""
    folder, name = posixpath.split(path)
    owns_folder = name in ("mod.rs", "lib.rs", "main.rs") or "/src/bin/" in f"/{path}"
    base = folder if owns_folder else posixpath.join(folder, name[: -len(".rs")])
    found: set[str] = set()
    for match in _MOD.finditer(text):
        if match.group("path"):
            found.add(posixpath.normpath(posixpath.join(folder, match.group("path"))))
            continue
        module = match.group("name")
        found.add(posixpath.join(base, f"{module}.rs"))
        found.add(posixpath.join(base, module, "mod.rs"))
    for include in _INCLUDE.findall(text):
        found.add(posixpath.normpath(posixpath.join(folder, include)))
    return found


def outside_module_tree(root: Path, texts: dict[str, str]) -> set[str]:
    """Paths (relative to ``root``) of Rust files no crate root reaches; ``texts`` maps each
    discovered Rust file to its text."""
    crates: dict[str, list[str]] = {}
    for path in texts:
        crate = _crate_of(root, path)
        if crate is not None:
            crates.setdefault(crate, []).append(path)
    unreachable: set[str] = set()
    for crate, paths in crates.items():
        reached = _roots(crate, paths)
        if not any(p.endswith(("src/lib.rs", "src/main.rs")) for p in reached):
            continue  # the crate's root is not here: cannot tell what is compiled
        queue = list(reached)
        while queue:
            current = queue.pop()
            for child in _children(current, texts[current]):
                if child in texts and child not in reached:
                    reached.add(child)
                    queue.append(child)
        unreachable |= set(paths) - reached
    return unreachable


def _crate_of(root: Path, path: str) -> str | None:
    """The folder (relative to root, '' for root) of the nearest Cargo.toml above path."""
    parts = path.split("/")[:-1]
    while True:
        folder = "/".join(parts)
        if (root / folder / "Cargo.toml").is_file():
            return folder
        if not parts:
            return None
        parts.pop()
