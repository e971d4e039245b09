"""Rust state file rewritten in place (no temp file + rename).

What it finds:
    A non-test Rust function that serializes data (``serde_json::to_vec`` / ``to_string`` /
    ``to_writer``, ``toml::to_string``, ``serde_yaml``, ``bincode``, ``ron``, ...) and writes
    it straight to its target with ``std::fs::write`` / ``tokio::fs::write`` /
    ``File::create``, where the repository reads the same file back (the resource index
    links the write and a read of the same path). Functions that also rename, ``persist`` a
    ``tempfile`` or call an atomic-write helper are not reported, nor writes to a path
    named as a temporary one.

Why it matters:
    ``fs::write`` and ``File::create`` truncate the file first and then write the new
    bytes. A crash, a kill during deploy or a full disk between the two leaves an empty or
    half-written file: the previous state is gone and the new one is incomplete. A reader
    running at the same time (another task) can also see the partial file.

Example:
    let bytes = serde_json::to_vec_pretty(&manifest)?;
    tokio::fs::write(self.manifest_path(), bytes).await?;

Use instead:
    // a temp file in the same directory, flushed, then renamed over the target
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    serde_json::to_writer_pretty(&mut tmp, &manifest)?;
    tmp.as_file().sync_all()?;
    tmp.persist(path)?;
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import replace

import tree_sitter

from vibe_audit.chunker.parsing import node_text
from vibe_audit.rules import evidence, rust, syntax
from vibe_audit.rules.base import Hit, Rule, RuleMeta, node_hit
from vibe_audit.rules.context import FileContext, RepoContext
from vibe_audit.rules.files import SCRATCH
from vibe_audit.schemas import Confidence, Severity
from vibe_audit.schemas.resources import Access

META = RuleMeta(
    id="rust-state-file-written-in-place",
    title="State file rewritten in place (no temp file + rename)",
    severity=Severity.HIGH,
    confidence=Confidence.HIGH,
    categories={
        "checkpoint": "Atomicity",
        "concurrency": "Checkpoint",
        "sqlite": "Checkpoint",
        "reliability": "Concurrency",
    },
    # As for checkpoint-non-atomic-write: in the SQLite audit a torn state file is a race
    # under specific scenarios, not 'database is locked' under normal load.
    audit_severity={"sqlite": Severity.MEDIUM},
    checklist=[
        "checkpoint.2A",
        "concurrency.2A",
        "concurrency.checkpoint_checklist.1",
        "sqlite.4A",
        "reliability.9.2",
    ],
    problem=(
        "{function}() serializes state and writes it straight to its target ({call}), and "
        "{readers} read it back. The write truncates the file before the new bytes are in, "
        "so the old state is gone before the new one is complete."
    ),
    scenario=(
        "The process is killed (deploy, OOM, crash) or the disk fills during the write: the "
        "file is left empty or truncated. {scenario}"
    ),
    impact=(
        "The next load ({readers}) fails to parse the file or silently starts from nothing, "
        "and the previous state is lost. Certain on a crash mid-write, likelier the larger "
        "the file."
    ),
    how_to_verify=(
        "Call {function}() in a loop with a large state and `kill -9` the process mid-way, "
        "or run it on a full filesystem; then load the file: it is empty or cut short."
    ),
    fix=(
        "Write a temp file in the same directory, flush it, then rename it over the target:\n"
        "    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;\n"
        "    tmp.write_all(&bytes)?;\n"
        "    tmp.as_file().sync_all()?;\n"
        "    tmp.persist(&path)?;  // rename(2): readers see the old or the new file\n"
        '(or std::fs::write to `path.with_extension("tmp")` + sync_all + std::fs::rename).'
    ),
    trade_off=(
        "One extra fsync and rename per save (milliseconds); the temp file must be on the "
        "same filesystem (same directory). A new file gets the temp file's mode (0600 with "
        "tempfile)."
    ),
    effort_hours=(0.5, 1.5),
    languages=["rust"],
)

_SERIALIZERS = re.compile(
    r"^(serde_json|toml|serde_yaml|serde_yml|ron|bincode|rmp_serde|postcard|serde_cbor|"
    r"ciborium|serde_pickle|json5)::(\w+::)*(to_\w+|serialize\w*|into_writer)$"
)
_DESERIALIZE = re.compile(
    r"\b(serde_json|toml|serde_yaml|serde_yml|ron|bincode|rmp_serde|postcard|serde_cbor|"
    r"ciborium|json5)::(\w+::)*(from_\w+|deserialize\w*)\b"
)
_RENAMES = frozenset({"rename", "persist", "persist_noclobber", "replace_file", "keep"})
_ATOMIC = re.compile(r"atomic|tempfile|NamedTempFile", re.I)


def _write_target(call: tree_sitter.Node, uses: dict[str, str]) -> str:
    """'fs::write' / 'File::create' when the call writes a file from scratch, else ''."""
    path = rust.call_path(call, uses)
    if path.endswith("fs::write") or path == "fs_err::write":
        return "fs::write"
    if path.endswith("File::create") and "tempfile" not in path:
        return "File::create"
    return ""


def _atomic_function(function: tree_sitter.Node, uses: dict[str, str]) -> bool:
    """The function renames, persists a temp file or calls an atomic-write helper."""
    for call in syntax.of_type(function, "call_expression"):
        name = rust.method_name(call) or rust.call_path(call, uses).rsplit("::", 1)[-1]
        if name in _RENAMES or _ATOMIC.search(name):
            return True
    return bool(_ATOMIC.search(node_text(function)))


def check_file(ctx: FileContext) -> Iterator[Hit]:
    text = ctx.source.text
    if ("write" not in text and "create" not in text) or syntax.is_test_path(ctx.source.path):
        return
    uses = rust.use_paths(ctx.root)
    for function in rust.rust_functions(ctx.root):
        calls = list(
            syntax.of_type(function, "call_expression", stop_at=frozenset({"function_item"}))
        )
        writes = [(c, kind) for c in calls if (kind := _write_target(c, uses))]
        if not writes:
            continue
        if not any(_SERIALIZERS.match(rust.call_path(c, uses)) for c in calls):
            continue
        if _atomic_function(function, uses) or rust.is_rust_test(function, ctx.source.path):
            continue
        for call, kind in writes:
            args = rust.call_arguments(call)
            if not args or SCRATCH.search(node_text(args[0])):
                continue
            yield node_hit(
                ctx,
                call,
                details={
                    "function": rust.rust_function_name(function),
                    "call": node_text(call).split("\n")[0],
                    "kind": kind,
                    "async": "yes" if rust.is_async_fn(function) else "",
                },
            )


def check_repo(repo: RepoContext) -> Iterator[Hit]:
    files = None
    by_path = {ctx.source.path: ctx for ctx in repo.files}
    for ctx in repo.in_language("rust"):
        for hit in check_file(ctx):
            if files is None:
                files = evidence.named_files(repo, directories=False)
            readers = [
                r
                for resource in files
                if any(w.path == hit.path and hit.start_line in w.lines for w in resource.writers)
                for r in resource.readers
            ]
            if not readers or not any(_parses(by_path.get(r.path), r) for r in readers):
                continue  # nothing loads it back as state: an export or a report
            yield _graded(ctx, hit, readers, _cli(repo))


def _parses(ctx: FileContext | None, access: Access) -> bool:
    """The reading function deserializes what it reads."""
    if ctx is None:
        return False
    for function in rust.rust_functions(ctx.root):
        if syntax.line(function) <= access.lines[0] <= syntax.end_line(function):
            return bool(_DESERIALIZE.search(node_text(function)))
    return False


_CLI = frozenset({"clap", "structopt", "argh", "pico_args", "gumdrop", "lexopt", "bpaf"})


def _cli(repo: RepoContext) -> str | None:
    """The argument-parsing crate, when the code is a command-line tool."""
    found = set().union(*(ctx.imports for ctx in repo.in_language("rust"))) & _CLI
    return ", ".join(sorted(found)) or None


def _graded(ctx: FileContext, hit: Hit, readers: list[Access], cli: str | None) -> Hit:
    elsewhere = [r for r in readers if r.symbol != hit.symbol]
    where = ", ".join(sorted({f"{r.symbol or r.path}()" for r in elsewhere})[:3])
    concurrent = (
        f"{hit.details['function']}() is async" if hit.details.get("async") else None
    ) or evidence.concurrency(ctx)
    if cli and not concurrent:
        severity, reason = (
            Severity.MEDIUM,
            f"MEDIUM: a command-line tool ({cli}) writes it once per command; a crash "
            "mid-write still loses the previous content.",
        )
    elif elsewhere and concurrent:
        severity, reason = (
            Severity.CRITICAL,
            f"CRITICAL: the state is read back by {where}, and {concurrent}: a crash "
            "mid-write loses it, and a concurrent reader can see a partial file.",
        )
    elif elsewhere:
        severity, reason = (
            Severity.HIGH,
            f"HIGH: the state is read back by {where}; the code shows no concurrency.",
        )
    else:
        severity, reason = (
            Severity.MEDIUM,
            "MEDIUM: read and rewritten by the same function, with no other reader; a crash "
            "mid-write still loses the previous content.",
        )
    who = where or f"{hit.details['function']}() itself"
    details = {
        **hit.details,
        "readers": who,
        "scenario": (
            f"A reader running at the same time ({concurrent}) sees a partial file."
            if concurrent
            else f"The next read by {who} fails to parse it."
        ),
    }
    return replace(hit, severity=severity, severity_reason=reason, details=details)


RULE = Rule(meta=META, doc=__doc__ or "", check_repo=check_repo)
