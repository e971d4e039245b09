"""State file parsed with serde and .unwrap()/.expect(): a corrupt file panics the process.

What it finds:
    A non-test Rust function that reads a file the code also writes (the resource index
    links them by path) and parses it with a serde deserializer (``serde_json::from_str``
    / ``from_slice`` / ``from_reader``, ``toml::from_str``, ``serde_yaml``, ``bincode``,
    ...) followed directly by ``.unwrap()`` or ``.expect(..)``. Files named as caches are
    not reported (a cache is rebuilt, but a panic is still a panic: those are left to
    review), nor is test code.

Why it matters:
    A state file is truncated by a crash or kill mid-write or a full disk, edited by hand,
    or written by another release with another shape. The parse then fails, and
    ``unwrap`` turns that into a panic: at startup the process aborts, and a supervisor
    restarts it into the same panic forever; in a server task it kills the task (or the
    whole process with ``panic = "abort"``) on every request that needs the state.

Example:
    let text = fs::read_to_string(&state_path)?;
    let state: State = serde_json::from_str(&text).unwrap();

Use instead:
    let state: State = match serde_json::from_str(&text) {
        Ok(state) => state,
        Err(e) => {
            // keep the evidence, start from the backup or an empty state, and say so
            fs::rename(&state_path, state_path.with_extension("corrupt"))?;
            tracing::error!("{} is corrupt ({e}); moved aside", state_path.display());
            State::default()
        }
    };
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import tree_sitter

from vibe_audit.chunker.parsing import node_text
from vibe_audit.rules import evidence, rust, syntax
from vibe_audit.rules.base import Hit, Rule, RuleMeta, node_hit
from vibe_audit.rules.context import FileContext, RepoContext
from vibe_audit.rules.state_integrity_util import NOT_STATE
from vibe_audit.schemas import Confidence, Severity

META = RuleMeta(
    id="rust-state-file-parse-panics",
    title="State file parsed with .unwrap()/.expect(): a corrupt file panics",
    severity=Severity.MEDIUM,
    confidence=Confidence.HIGH,
    categories={
        "checkpoint": "Corruption",
        "concurrency": "Checkpoint",
        "reliability": "Error Handling",
    },
    checklist=["checkpoint.3D"],
    problem=(
        "{function}() parses {file}, a file the program writes itself ({writers}), with "
        "`{parse}` and `.{unwrap}()`: a truncated or corrupt file panics instead of being "
        "reported and recovered from."
    ),
    scenario=(
        "A crash mid-write, a full disk or a hand edit leaves {file} invalid. The next call "
        "of {function}() panics; if that is at startup, every restart panics the same way "
        "until someone repairs or deletes the file."
    ),
    impact=(
        "The process (or the task that loads the state) dies with a parse message that "
        "does not say which file to fix; no fallback to a previous or empty state."
    ),
    how_to_verify=(
        "Truncate {file} to half its size (or write `{` into it) and run the code path "
        "that calls {function}(): it panics."
    ),
    fix=(
        "Match on the parse result: on Err log the path and error, move the file aside "
        "(`<name>.corrupt`) and fall back to the previous version or an empty state, or "
        'return the error with context (`.with_context(|| format!("parsing {}", '
        "path.display()))?`) so the caller decides."
    ),
    trade_off=(
        "A fallback must not silently overwrite the only copy of the old state; returning "
        "the error keeps the program from starting, but with a message that names the file."
    ),
    effort_hours=(0.25, 1.0),
    languages=["rust"],
)

_DESERIALIZER = re.compile(
    r"^(serde_json|toml|serde_yaml|serde_yml|ron|bincode|rmp_serde|postcard|serde_cbor|"
    r"ciborium|json5)::(\w+::)*(from_\w+|deserialize\w*)$"
)
_PANICS = frozenset({"unwrap", "expect"})


def _parse_panics(ctx: FileContext) -> Iterator[tuple[tree_sitter.Node, str, str]]:
    """(call, reading function's symbol, unwrap|expect) of each panicking parse."""
    text = ctx.source.text
    if (".unwrap()" not in text and ".expect(" not in text) or syntax.is_test_path(ctx.source.path):
        return
    uses = rust.use_paths(ctx.root)
    for call in syntax.of_type(ctx.root, "call_expression"):
        if not _DESERIALIZER.match(rust.call_path(call, uses)):
            continue
        methods, _ = rust.chain_methods(call)
        if not methods or methods[0] not in _PANICS:
            continue
        if rust.is_rust_test(call, ctx.source.path) or rust.enclosing_function(call) is None:
            continue
        yield call, rust.rust_symbol(call) or "", methods[0]


def check_repo(repo: RepoContext) -> Iterator[Hit]:
    files = None
    for ctx in repo.in_language("rust"):
        for call, symbol, unwrap in _parse_panics(ctx):
            if files is None:
                files = evidence.named_files(repo, directories=False)
            function = rust.enclosing_function(call)
            assert function is not None
            for resource in files:
                reads = any(
                    r.path == ctx.source.path and r.symbol == symbol for r in resource.readers
                )
                if not reads or not resource.writers or NOT_STATE.search(resource.name):
                    continue
                writers = ", ".join(
                    sorted({f"{w.symbol or w.path}()" for w in resource.writers})[:3]
                )
                yield node_hit(
                    ctx,
                    call,
                    details={
                        "function": rust.rust_function_name(function),
                        "parse": node_text(call).split("\n")[0][:100],
                        "unwrap": unwrap,
                        "file": resource.name.rstrip("/").rsplit("/", 1)[-1],
                        "writers": writers,
                    },
                )
                break


RULE = Rule(meta=META, doc=__doc__ or "", check_repo=check_repo)
