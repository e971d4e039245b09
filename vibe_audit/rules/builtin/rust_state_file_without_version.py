"""Serde state file with no schema version: written and read back with nothing to migrate by.

What it finds:
    A repository-level rule. A Rust state file (a file the code writes with a serde
    serializer and reads back with a serde deserializer, linked by path in the resource
    index) whose serialized type has no version: the value written is a struct of the
    repository (``#[derive(Serialize)] struct State``) with no field named like
    ``version`` / ``schema``, or a bare collection (``HashMap``, ``BTreeMap``, ``Vec``),
    and neither the writing nor the reading function mentions a version, and the file or
    a function writing or reading it is named as working state (checkpoint, state,
    progress, cursor, ...). The type is
    found from what is serialized (``&self`` in an ``impl State``, a parameter ``state:
    &State``, ``let x: State``, ``State { .. }``) or from the reader's ``let x: State =
    serde_json::from_str(..)``; nothing is reported when it cannot be found. Enums are not
    reported (a tagged enum is a common way to version). Test code is skipped.
    Experimental: not yet measured on real code that has such files.

Why it matters:
    The file outlives the binary that wrote it. After an upgrade that adds a required
    field or changes a type, serde rejects every old file (the program refuses to start,
    or falls back to empty state), or, with ``#[serde(default)]``, silently fills in
    defaults. Without a version in the file the new code cannot tell an old file from a
    corrupt one, and cannot migrate it.

Example:
    #[derive(Serialize, Deserialize)]
    struct State { cursor: String, seen: Vec<String> }

    fs::write(&path, serde_json::to_vec(&state)?)?;
    let state: State = serde_json::from_slice(&fs::read(&path)?)?;

Use instead:
    const STATE_VERSION: u32 = 2;

    #[derive(Serialize, Deserialize)]
    struct State { version: u32, cursor: String, seen: Vec<String> }

    let state: State = serde_json::from_slice(&bytes)?;
    if state.version != STATE_VERSION {
        return migrate(state);   // or an enum tagged by version: #[serde(tag = "version")]
    }
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import tree_sitter

from vibe_audit.chunker.parsing import node_text
from vibe_audit.rules import rust, syntax
from vibe_audit.rules.base import Hit, Rule, RuleMeta
from vibe_audit.rules.context import FileContext, RepoContext
from vibe_audit.rules.state_integrity_util import (
    SERIALIZES,
    StateFile,
    checkpointish,
    state_files,
    state_hit,
)
from vibe_audit.schemas import Confidence, Severity

META = RuleMeta(
    id="rust-state-file-without-version",
    title="Serde state file has no schema version",
    severity=Severity.MEDIUM,
    confidence=Confidence.MEDIUM,
    categories={"checkpoint": "Schema", "concurrency": "Validation"},
    checklist=[
        "checkpoint.1A",
        "checkpoint.1B",
        "concurrency.7A",
        "concurrency.checkpoint_checklist.4",
    ],
    problem=(
        "{type} is serialized to {file} by {writers} and deserialized back by {readers}, "
        "but {type} carries no version field and neither side checks one: a file written by "
        "another release of the program cannot be told apart or migrated."
    ),
    scenario=(
        "A release adds a required field to {type} (or changes one's type). Every {file} "
        "written before the upgrade fails to deserialize in {readers}: the program refuses "
        "to start or starts with empty state; with #[serde(default)] it loads with made-up "
        "values instead."
    ),
    impact=(
        "Each schema change breaks or silently rewrites the state saved by the previous "
        "release; the only fix is deleting the files by hand."
    ),
    how_to_verify=(
        "Save {file} with the current build, add a required field to {type}, rebuild and "
        "load it: the deserializer fails with 'missing field'."
    ),
    fix=(
        "Add a `version: u32` field to {type} (or wrap it in an enum tagged by version, "
        '`#[serde(tag = "version")]`), write the current version, check it on load and '
        "migrate older versions explicitly."
    ),
    trade_off=(
        "A version constant to bump on every breaking change, and a migration (or a "
        "documented reset) per old version kept."
    ),
    effort_hours=(0.5, 2.0),
    languages=["rust"],
    experimental=True,
)

_VERSION = re.compile(r"version|schema", re.I)
_COLLECTIONS = frozenset(
    {"HashMap", "BTreeMap", "HashSet", "BTreeSet", "Vec", "IndexMap", "IndexSet", "VecDeque"}
)
_DESERIALIZE_CALL = re.compile(
    r"\b(serde_json|toml|serde_yaml|serde_yml|ron|bincode|rmp_serde|postcard|serde_cbor|"
    r"ciborium|json5)::(\w+::)*(from_\w+)(::<\s*(?P<turbofish>\w+))?"
)


def check_repo(repo: RepoContext) -> Iterator[Hit]:
    states = state_files(repo, ("rust",))
    if not states:
        return
    structs = _structs(repo)
    for state in states:
        if not checkpointish(state):
            continue
        if any(_VERSION.search(node_text(f)) for _c, f, _a in [*state.writers, *state.readers]):
            continue
        found = _state_type(state, structs)
        if found is None:
            continue
        name, fields = found
        if name in _COLLECTIONS:
            yield state_hit(state, {"type": f"a bare {name}"})
        elif not _VERSION.search(fields):
            yield state_hit(state, {"type": name})


def _structs(repo: RepoContext) -> dict[str, str]:
    """{struct name: its field list text} of the repository's non-test structs."""
    found: dict[str, str] = {}
    for ctx in repo.in_language("rust"):
        if syntax.is_test_path(ctx.source.path):
            continue
        for item in syntax.of_type(ctx.root, "struct_item"):
            name = item.child_by_field_name("name")
            body = item.child_by_field_name("body")
            if name is not None:
                found.setdefault(node_text(name), node_text(body) if body is not None else "")
    return found


def _base_type(text: str) -> str:
    """'State' of '&mut State', 'HashMap' of 'HashMap<String, u64>', '' otherwise."""
    text = re.sub(r"^&\s*(mut\s+)?|^'\w+\s+", "", text.strip()).strip()
    match = re.match(r"(?:\w+::)*(\w+)", text)
    return match.group(1) if match else ""


def _state_type(state: StateFile, structs: dict[str, str]) -> tuple[str, str] | None:
    """(type name, struct fields text) of what the state file holds, when it is found."""
    for ctx, function, _access in state.writers:
        name = _serialized_type(ctx, function)
        if name in _COLLECTIONS:
            return name, ""
        if name in structs:
            return name, structs[name]
    for _ctx, function, _access in state.readers:
        text = node_text(function)
        for match in _DESERIALIZE_CALL.finditer(text):
            name = match.group("turbofish") or ""
            if not name:
                before = text[: match.start()].rsplit("\n", 1)[-1]
                typed = re.search(r"let\s+(?:mut\s+)?\w+\s*:\s*([\w:<>, ]+?)\s*=", before)
                name = _base_type(typed.group(1)) if typed else ""
            if name in _COLLECTIONS:
                return name, ""
            if name in structs:
                return name, structs[name]
    return None


def _serialized_type(ctx: FileContext, function: tree_sitter.Node) -> str:
    """The type of the value a serializer call in ``function`` serializes, or ''."""
    uses = rust.use_paths(ctx.root)
    for call in syntax.of_type(function, "call_expression"):
        if not SERIALIZES["rust"].search(rust.call_path(call, uses) + "("):
            continue
        args = rust.call_arguments(call)
        if not args:
            continue
        value = args[-1] if "writer" in rust.call_path(call, uses) else args[0]
        text = re.sub(r"^&\s*(mut\s+)?", "", node_text(value)).strip()
        if text == "self":
            return _impl_type(function)
        if re.fullmatch(r"\w+", text):
            return _variable_type(function, text)
    return ""


def _impl_type(function: tree_sitter.Node) -> str:
    node = function.parent
    while node is not None and node.type != "impl_item":
        node = node.parent
    kind = node.child_by_field_name("type") if node is not None else None
    return _base_type(node_text(kind)) if kind is not None else ""


def _variable_type(function: tree_sitter.Node, name: str) -> str:
    """The declared or constructed type of a parameter or local ``name``."""
    parameters = function.child_by_field_name("parameters")
    if parameters is not None:
        for parameter in syntax.of_type(parameters, "parameter"):
            pattern = parameter.child_by_field_name("pattern")
            kind = parameter.child_by_field_name("type")
            if pattern is not None and kind is not None and node_text(pattern) == name:
                return _base_type(node_text(kind))
    for let in syntax.of_type(function, "let_declaration"):
        pattern = let.child_by_field_name("pattern")
        if pattern is None or re.sub(r"^mut\s+", "", node_text(pattern)) != name:
            continue
        kind = let.child_by_field_name("type")
        if kind is not None:
            return _base_type(node_text(kind))
        value = let.child_by_field_name("value")
        text = node_text(value) if value is not None else ""
        match = re.match(r"(?:\w+::)*([A-Z]\w*)\s*(?:\{|::(?:new|default|from)\b)", text)
        if match:
            return match.group(1)
    return ""


RULE = Rule(meta=META, doc=__doc__ or "", check_repo=check_repo)
