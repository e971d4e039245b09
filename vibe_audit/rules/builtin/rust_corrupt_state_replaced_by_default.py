"""Corrupt state file silently replaced by an empty default.

What it finds:
    A non-test Rust function that reads a file the code also writes (the resource index
    links them by path) and parses it with serde (``serde_json::from_str`` /
    ``from_slice`` / ``from_reader``, ``toml::from_str``, ``serde_yaml``, ...) falling
    back to a default on a parse error: ``.unwrap_or_default()``, ``.unwrap_or(..)``,
    ``.unwrap_or_else(..)``, or the same after ``.ok()``. Files named as caches are not
    reported: rebuilding a cache from nothing is the intended recovery.

Why it matters:
    A truncated or corrupt file (a crash mid-write, a full disk, a hand edit) parses as an
    error, the error becomes an empty value with no log line, and the next save writes
    that empty value (plus the one new entry) over the file: everything it held before is
    gone, and nothing ever reported the corruption.

Example:
    let mut history: HashMap<String, i64> = match fs::read_to_string(&path) {
        Ok(text) => serde_json::from_str(&text).unwrap_or_default(),
        Err(_) => HashMap::new(),
    };
    history.insert(key, now);
    fs::write(&path, serde_json::to_string(&history)?)?;

Use instead:
    let history: HashMap<String, i64> = match fs::read_to_string(&path) {
        Ok(text) => serde_json::from_str(&text).map_err(|e| {
            // keep the evidence and refuse to overwrite it with an empty state
            let _ = fs::rename(&path, path.with_extension("corrupt"));
            anyhow::anyhow!("{} is corrupt ({e}); moved aside", path.display())
        })?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => HashMap::new(),
        Err(e) => return Err(e.into()),
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
from vibe_audit.schemas import Confidence, Severity

META = RuleMeta(
    id="rust-corrupt-state-replaced-by-default",
    title="Corrupt state file silently replaced by an empty default",
    severity=Severity.HIGH,
    confidence=Confidence.MEDIUM,
    categories={
        "checkpoint": "Corruption",
        "concurrency": "Checkpoint",
        "reliability": "Error Handling",
    },
    checklist=["checkpoint.3C", "concurrency.2C", "reliability.7.2"],
    problem=(
        "{function}() parses {file} with `{parse}` and turns a parse error into an empty "
        "default ({fallback}) without reporting it, and the code writes the same file "
        "back ({writers}): a corrupt file is silently replaced and its content lost."
    ),
    scenario=(
        "A crash or a full disk leaves {file} truncated: {function}() returns the empty "
        "default, the next save by {writers} writes it over the file, and every entry it "
        "held is gone without an error or a log line."
    ),
    impact=(
        "Permanent loss of the saved state (all entries, not just the last one), "
        "discovered only when someone misses the data."
    ),
    how_to_verify=(
        "Truncate {file} to half its size, run the code path that loads it with "
        "{function}() and saves it again, then look at the file: the earlier entries are "
        "gone and nothing was logged."
    ),
    fix=(
        "Treat only a missing file as empty (io::ErrorKind::NotFound). On a parse error, "
        "return the error (or log it and move the file aside to `<name>.corrupt`) instead "
        "of a default, so the next save cannot overwrite the only copy; keep a backup of "
        "the previous version when writing."
    ),
    trade_off=(
        "The program now stops (or starts without the state, loudly) on a corrupt file "
        "instead of silently continuing; that is the point, but it needs an operator path "
        "to recover (restore the backup or delete the file)."
    ),
    effort_hours=(0.5, 1.5),
    languages=["rust"],
)

_DESERIALIZER = re.compile(
    r"^(serde_json|toml|serde_yaml|serde_yml|ron|bincode|rmp_serde|postcard|serde_cbor|"
    r"ciborium|json5)::(\w+::)*(from_\w+|deserialize\w*)$"
)
_DEFAULTING = frozenset({"unwrap_or_default", "unwrap_or", "unwrap_or_else"})
_CACHE = re.compile(r"cache", re.I)


def _fallback(call: tree_sitter.Node) -> str | None:
    """The defaulting method applied to a parse result (``unwrap_or_default``), if any."""
    methods, _ = rust.chain_methods(call)
    if methods[:1] == ["ok"]:
        methods = methods[1:]
    return methods[0] if methods and methods[0] in _DEFAULTING else None


def check_file(ctx: FileContext) -> Iterator[tuple[Hit, str]]:
    """(hit, symbol of the reading function) of each defaulted parse."""
    text = ctx.source.text
    if "unwrap_or" not in text or syntax.is_test_path(ctx.source.path):
        return
    uses = rust.use_paths(ctx.root)
    for call in syntax.of_type(ctx.root, "call_expression"):
        if not _DESERIALIZER.match(rust.call_path(call, uses)):
            continue
        fallback = _fallback(call)
        function = rust.enclosing_function(call)
        if fallback is None or function is None or rust.is_rust_test(call, ctx.source.path):
            continue
        yield (
            node_hit(
                ctx,
                call,
                details={
                    "function": rust.rust_function_name(function),
                    "parse": node_text(call).split("\n")[0],
                    "fallback": f".{fallback}()",
                },
            ),
            rust.rust_symbol(call) or "",
        )


def check_repo(repo: RepoContext) -> Iterator[Hit]:
    files = None
    for ctx in repo.in_language("rust"):
        for hit, symbol in check_file(ctx):
            if files is None:
                files = evidence.named_files(repo, directories=False)
            for resource in files:
                reads = any(r.path == hit.path and r.symbol == symbol for r in resource.readers)
                if not reads or not resource.writers or _CACHE.search(resource.name):
                    continue
                if _CACHE.search(f"{hit.path} {symbol}"):
                    continue
                writers = ", ".join(
                    sorted({f"{w.symbol or w.path}()" for w in resource.writers})[:3]
                )
                yield Hit(
                    path=hit.path,
                    start_line=hit.start_line,
                    end_line=hit.end_line,
                    symbol=hit.symbol,
                    details={
                        **hit.details,
                        "file": resource.name.rsplit("/", 1)[-1],
                        "writers": writers,
                    },
                )
                break


RULE = Rule(meta=META, doc=__doc__ or "", check_repo=check_repo)
