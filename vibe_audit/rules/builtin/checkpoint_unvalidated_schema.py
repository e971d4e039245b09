"""Checkpoints written with no schema version and read back with no validation.

What it finds:
    A repository-level rule. Checkpoint-like JSON (json.dump/json.dumps in a function or
    file named for checkpoints, snapshots, manifests, progress or resume state) is written
    without any version field, and every function that reads such JSON back uses the parsed
    dict as is: no pydantic ``model_validate``/``TypeAdapter``, no ``jsonschema``, no
    ``Cls(**data)``, no version check. Reported once per writer file, at its first write.

Why it matters:
    Checkpoints outlive the code that wrote them. After a deploy that renames a field, the
    old files load "successfully" and fail later with a KeyError deep in a stage, or, worse,
    resume with a silently missing value. Without a version there is no way to migrate them.

Example:
    json.dump(data, f)                       # writer: whatever dict the stage produced
    return json.load(f)                      # reader: trusted as is

Use instead:
    f.write(StageCheckpoint(version=2, **data).model_dump_json())
    checkpoint = StageCheckpoint.model_validate_json(path.read_text())
    if checkpoint.version != CURRENT_VERSION:
        checkpoint = migrate(checkpoint)
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import tree_sitter

from vibe_audit.chunker.parsing import node_text
from vibe_audit.rules import syntax
from vibe_audit.rules.base import Hit, Rule, RuleMeta, node_hit
from vibe_audit.rules.context import FileContext, RepoContext
from vibe_audit.schemas import Confidence, Severity

META = RuleMeta(
    id="checkpoint-unvalidated-schema",
    title="Checkpoint JSON has no schema version and is loaded without validation",
    severity=Severity.MEDIUM,
    confidence=Confidence.MEDIUM,
    categories={"checkpoint": "Schema", "concurrency": "Validation"},
    checklist=[
        "checkpoint.1A",
        "checkpoint.1B",
        "checkpoint.3D",
        "concurrency.7A",
        "concurrency.checkpoint_checklist.3",
        "concurrency.checkpoint_checklist.4",
    ],
    problem=(
        "{writers} write checkpoint JSON with no version field, and the code reading it back "
        "({readers}) uses the parsed dict without validating it: a file from an older or "
        "newer version of the code is accepted as is."
    ),
    scenario=(
        "A deploy changes what {writers} write (a renamed or new field). Work saved before "
        "the deploy resumes with the old shape: {readers} accept it, and the code fails "
        "later with a KeyError, or runs on with a missing value."
    ),
    impact=(
        "Every file written before a deploy is at risk at each deploy; failures surface far "
        "from the load, and nothing tells old files from new ones to migrate them."
    ),
    how_to_verify=(
        "Write a checkpoint, rename one of its keys by hand, and resume: the load succeeds "
        "and the failure comes later, if at all."
    ),
    fix=(
        "Define the checkpoint as a pydantic model with a `version` field; write "
        "`model.model_dump_json()` and read with `Model.model_validate_json(...)`, migrating "
        "or discarding files whose version differs."
    ),
    trade_off="A model per checkpoint kind to maintain, and a migration per breaking change.",
    effort_hours=(1.0, 3.0),
)

_CHECKPOINTISH = re.compile(r"checkpoint|snapshot|manifest|progress|resume", re.I)
_VERSIONED = re.compile(r"version", re.I)
_VALIDATES = re.compile(
    r"model_validate|parse_obj|parse_raw|parse_file|TypeAdapter|validate\(|from_dict|"
    r"version|schema|\(\*\*|isinstance\(",
    re.I,
)
_DUMPS = frozenset({"json.dump", "json.dumps"})
_LOADS = frozenset({"json.load", "json.loads"})


def check_repo(repo: RepoContext) -> Iterator[Hit]:
    writers: list[tuple[FileContext, tree_sitter.Node, tree_sitter.Node]] = []
    readers: list[tree_sitter.Node] = []
    for ctx in repo.in_language("python"):
        if "json" not in ctx.imports:
            continue
        in_checkpoint_file = bool(_CHECKPOINTISH.search(ctx.source.path))
        for function in syntax.functions(ctx.root):
            if not (in_checkpoint_file or _CHECKPOINTISH.search(syntax.function_name(function))):
                continue
            for node in syntax.body_nodes(function, "call"):
                name = syntax.callee(node)
                if name in _DUMPS:
                    writers.append((ctx, function, node))
                elif name in _LOADS:
                    readers.append(function)
    if not writers or not readers:
        return
    if any(_VERSIONED.search(node_text(function)) for _, function, _ in writers):
        return
    if any(_VALIDATES.search(node_text(function)) for function in readers):
        return
    reader_names = ", ".join(sorted({syntax.function_name(f) + "()" for f in readers}))
    seen: set[str] = set()
    for ctx, _function, call in writers:
        if ctx.source.path in seen:
            continue
        seen.add(ctx.source.path)
        in_file = sorted(
            {syntax.function_name(f) + "()" for c, f, _ in writers if c is ctx},
        )
        yield node_hit(
            ctx,
            call,
            details={"writers": ", ".join(in_file), "readers": reader_names},
        )


RULE = Rule(meta=META, doc=__doc__ or "", check_repo=check_repo)
