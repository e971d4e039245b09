"""JSON state loaded with no handling for a corrupt or truncated file.

What it finds:
    ``json.load(...)`` / ``json.loads(...)`` of a file's contents in a function where no
    enclosing ``try`` catches ``ValueError`` / ``json.JSONDecodeError`` (or a broader
    ``Exception``), where the file is state the repository itself writes in place (the
    resource index finds, for the path read on that line, a writer that does not rename a
    temp file over it: a file only ever replaced atomically is never seen half-written).
    Parsing input the user hands in (an import file, a config file nothing here writes) is
    not reported: a parse error there is the user's to fix, not lost state.

Why it matters:
    Checkpoints get truncated (crash mid-write, full disk) and edited by hand. An unguarded
    load turns one bad file into an exception that aborts the pipeline, or a crash loop on
    resume, instead of a clear "checkpoint corrupt, restarting stage N".

Example:
    with open(path) as f:
        return json.load(f)

Use instead:
    try:
        with open(path) as f:
            return StageCheckpoint.model_validate(json.load(f))
    except (OSError, ValueError) as exc:   # JSONDecodeError and ValidationError are ValueErrors
        raise CheckpointCorrupt(path) from exc
"""

from __future__ import annotations

from collections.abc import Iterator

import tree_sitter

from vibe_audit.chunker.parsing import node_text
from vibe_audit.rules import evidence, syntax
from vibe_audit.rules.base import Hit, Rule, RuleMeta, node_hit
from vibe_audit.rules.context import FileContext, RepoContext
from vibe_audit.schemas import Confidence, Severity

META = RuleMeta(
    id="checkpoint-load-unguarded",
    title="Checkpoint JSON loaded without corruption handling",
    severity=Severity.MEDIUM,
    confidence=Confidence.MEDIUM,
    categories={
        "checkpoint": "Corruption",
        "concurrency": "Checkpoint",
        "reliability": "Error Handling",
    },
    checklist=[
        "checkpoint.3C",
        "checkpoint.3D",
        "concurrency.2C",
        "concurrency.checkpoint_checklist.3",
        "reliability.7.2",
    ],
    problem=(
        "{function}() parses JSON from a file ({call}) with no handler for invalid content. "
        "A truncated or corrupt checkpoint raises JSONDecodeError out of the pipeline."
    ),
    scenario=(
        "After a crash mid-write the file {function}() loads holds half a JSON value; on the "
        "next run {call} raises, the step that needs the file fails, and a retrying worker "
        "crash-loops on the same file."
    ),
    impact=(
        "One corrupt file blocks the work it belongs to permanently and can crash-loop its "
        "worker; no fallback to the previous good version."
    ),
    how_to_verify=(
        "Truncate a file that {function}() loads to half its size and run {function}() "
        "again: it raises JSONDecodeError instead of recovering."
    ),
    fix=(
        "Wrap the load: catch (OSError, ValueError), log the path, move the file aside "
        "(path + '.corrupt'), and fall back to the previous version or redo the step that "
        "wrote it; validate the parsed data (e.g. with a pydantic model) before using it."
    ),
    trade_off="Falling back silently can hide bugs: count and alert on corrupt loads.",
    effort_hours=(0.5, 1.5),
)

_GUARDS = frozenset(
    {"", "Exception", "BaseException", "ValueError", "JSONDecodeError", "json.JSONDecodeError"}
)


def check_file(ctx: FileContext) -> Iterator[Hit]:
    if "json" not in ctx.imports:
        return
    for call in syntax.of_type(ctx.root, "call"):
        name = syntax.callee(call)
        if name not in {"json.load", "json.loads"} or not _reads_file(call, name):
            continue
        function = syntax.enclosing(call, "function_definition")
        if function is None or _guarded(call, function):
            continue
        yield node_hit(
            ctx,
            call,
            details={"function": syntax.function_name(function), "call": node_text(call)},
        )


def _reads_file(call: tree_sitter.Node, name: str) -> bool:
    args = syntax.positional_args(call)
    if not args:
        return False
    if name == "json.load":
        return True
    text = node_text(args[0])
    return ".read(" in text or "read_text(" in text or "read_bytes(" in text


def _guarded(call: tree_sitter.Node, function: tree_sitter.Node) -> bool:
    """True when a try around the call (in its body, not a handler) catches ValueError."""
    child, node = call, call.parent
    while node is not None and node != function:
        if node.type == "try_statement" and child == node.child_by_field_name("body"):
            for clause in node.named_children:
                if clause.type == "except_clause" and _catches_value_error(clause):
                    return True
        child, node = node, node.parent
    return False


def _catches_value_error(clause: tree_sitter.Node) -> bool:
    for child in clause.named_children:
        if child.type == "block":
            return True  # bare except
        if child.type == "as_pattern":
            child = child.named_children[0]
        names = [n.strip("() ") for n in node_text(child).split(",")]
        return any(n in _GUARDS or syntax.last_name(n) in _GUARDS for n in names)
    return True


_NEAR = 3  # `with open(path) as f:` a line or two above the json.load(f) it feeds


def unguarded_loads(repo: RepoContext) -> set[tuple[str, str | None]]:
    """(path, symbol) of every function that parses JSON from a file with no guard."""
    return {(h.path, h.symbol) for ctx in repo.in_language("python") for h in check_file(ctx)}


def check_repo(repo: RepoContext) -> Iterator[Hit]:
    read_lines: dict[tuple[str, str | None], list[int]] = {}
    for resource in evidence.named_files(repo, directories=False):
        if evidence.writes_in_place(resource):
            for reader in resource.readers:
                read_lines.setdefault((reader.path, reader.symbol), []).extend(reader.lines)
    for ctx in repo.in_language("python"):
        for hit in check_file(ctx):
            lines = read_lines.get((hit.path, hit.symbol), [])
            if any(hit.start_line - _NEAR <= n <= hit.start_line for n in lines):
                yield hit


RULE = Rule(meta=META, doc=__doc__ or "", check_repo=check_repo)
