"""JSON state written in place, without a temp file and an atomic rename.

What it finds:
    A function that opens a file for writing ("w", "wb", "w+") and dumps JSON into it, or
    calls ``Path.write_text(json.dumps(...))``, with no ``os.replace`` / ``os.rename`` /
    ``Path.replace`` in the same function.

Why it matters:
    Opening with "w" truncates the file first. A crash, kill or full disk between the
    truncate and the last write leaves an empty or half-written checkpoint, and the previous
    good state is already gone. A concurrent reader can also see the partial file.

Example:
    with open(path, "w") as f:
        json.dump(state, f)

Use instead:
    tmp = path.with_suffix(path.suffix + ".tmp")
    with open(tmp, "w") as f:
        json.dump(state, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
"""

from __future__ import annotations

from collections.abc import Iterator

import tree_sitter

from vibe_audit.chunker.parsing import node_text
from vibe_audit.rules import syntax
from vibe_audit.rules.base import Hit, Rule, RuleMeta
from vibe_audit.rules.context import FileContext
from vibe_audit.schemas import Confidence, Severity

META = RuleMeta(
    id="checkpoint-non-atomic-write",
    title="Checkpoint JSON written in place (no temp file + os.replace)",
    severity=Severity.CRITICAL,
    confidence=Confidence.HIGH,
    categories={
        "checkpoint": "Atomicity",
        "concurrency": "Checkpoint",
        "sqlite": "Checkpoint",
        "reliability": "Concurrency",
    },
    checklist=[
        "checkpoint.2A",
        "concurrency.2A",
        "concurrency.checkpoint_checklist.1",
        "sqlite.4A",
        "reliability.9.2",
    ],
    problem=(
        "{function}() writes JSON straight to its target ({call}). Opening with 'w' truncates "
        "the file before the new content is written, so the old state is lost before the new "
        "one is complete."
    ),
    scenario=(
        "The process is killed (deploy, OOM, crash) mid-write, or the disk fills: the "
        "checkpoint is left empty or truncated. A reader running at the same time sees a "
        "partial file and fails to parse it."
    ),
    impact=(
        "The document's pipeline state is unrecoverable; resume fails with JSONDecodeError. "
        "Certain on any crash during a write, and likelier the larger the checkpoint."
    ),
    how_to_verify=(
        "Run a loop that saves a large checkpoint and `kill -9` the process mid-way; then load "
        "it: JSONDecodeError or an empty file."
    ),
    fix=(
        'tmp = str(path) + ".tmp"\n'
        'with open(tmp, "w") as f:\n'
        "    json.dump(data, f)\n"
        "    f.flush()\n"
        "    os.fsync(f.fileno())\n"
        "os.replace(tmp, path)  # atomic on POSIX and Windows"
    ),
    trade_off=(
        "One extra fsync per save (milliseconds); the temp file needs the same directory "
        "(same filesystem) and a startup cleanup of stale *.tmp files."
    ),
    effort_hours=(0.5, 1.5),
)

_WRITE_MODES = {"w", "wb", "w+", "wt", "w+b"}


def check_file(ctx: FileContext) -> Iterator[Hit]:
    for function in syntax.functions(ctx.root):
        nodes = list(syntax.body_nodes(function, "call"))
        names = [syntax.callee(n) for n in nodes]
        if any(syntax.is_rename(n) for n in nodes):
            continue
        dumps_json = any(name in {"json.dump", "json.dumps"} for name in names)
        for call, name in zip(nodes, names, strict=True):
            if _writes_in_place(call, name, dumps_json):
                yield Hit(
                    path=ctx.source.path,
                    start_line=syntax.line(call),
                    end_line=syntax.line(call),
                    symbol=syntax.qualified_name(function),
                    details={
                        "function": syntax.function_name(function),
                        "call": node_text(call),
                    },
                )
                break


def _writes_in_place(call: tree_sitter.Node, name: str, dumps_json: bool) -> bool:
    if syntax.last_name(name) == "open":
        return dumps_json and _mode(call) in _WRITE_MODES
    if syntax.last_name(name) in {"write_text", "write_bytes"}:
        args = syntax.positional_args(call)
        return bool(args) and "json.dumps" in node_text(args[0])
    return False


def _mode(call: tree_sitter.Node) -> str | None:
    """The mode of open(path, mode) / Path.open(mode): a literal among the first two args."""
    for arg in syntax.positional_args(call)[:2]:
        literal = syntax.string_value(arg)
        if literal is not None and set(literal) <= set("rwabxt+"):
            return literal
    arguments = call.child_by_field_name("arguments")
    for arg in arguments.named_children if arguments is not None else []:
        if arg.type == "keyword_argument":
            key, value = arg.child_by_field_name("name"), arg.child_by_field_name("value")
            if key is not None and value is not None and node_text(key) == "mode":
                return syntax.string_value(value)
    return None


RULE = Rule(meta=META, doc=__doc__ or "", check_file=check_file)
