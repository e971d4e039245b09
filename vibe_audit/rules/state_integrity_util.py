"""Shared detection for the state-integrity rules (helper "state-integrity"): which files a
repository writes serialized state to and reads back (its state files), in Python,
TypeScript/JavaScript and Rust, and the functions that write and load them.

A state file is a named file resource of the resource index (a path pattern with a literal
part) with a writer whose function serializes (json.dump, JSON.stringify, a serde
serializer) and a reader whose function parses (json.load, JSON.parse, a serde
deserializer), outside test code, and not a cache, lock, log or temp file.

Used by: state-file-without-backup, state-file-without-checksum, js-state-file-parse-unguarded,
js-state-file-without-version, rust-state-file-parse-panics, rust-state-file-without-version.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

import tree_sitter

from vibe_audit.chunker.parsing import node_text
from vibe_audit.rules import evidence, js, syntax
from vibe_audit.rules.base import Hit
from vibe_audit.rules.context import FileContext, RepoContext
from vibe_audit.schemas.resources import Access, Resource

_FUNCTION_TYPES: dict[str, frozenset[str]] = {
    "python": frozenset({"function_definition"}),
    "rust": frozenset({"function_item"}),
    "javascript": frozenset(js.JS_FUNCTION_TYPES),
    "typescript": frozenset(js.JS_FUNCTION_TYPES),
    "tsx": frozenset(js.JS_FUNCTION_TYPES),
}

_SERDE_CRATES = (
    r"serde_json|toml|serde_yaml|serde_yml|ron|bincode|rmp_serde|postcard|serde_cbor|"
    r"ciborium|json5"
)
SERIALIZES: dict[str, re.Pattern[str]] = {
    "python": re.compile(
        r"\bjson\.dumps?\(|\bpickle\.dumps?\(|\byaml\.(safe_)?dump\(|\btoml\w*\.dumps?\(|"
        r"\.model_dump_json\(|\borjson\.dumps\("
    ),
    "js": re.compile(r"\bJSON\.stringify\("),
    "rust": re.compile(rf"\b({_SERDE_CRATES})::(\w+::)*(to_\w+|serialize\w*|into_writer)\b"),
}
PARSES: dict[str, re.Pattern[str]] = {
    "python": re.compile(
        r"\bjson\.loads?\(|\bpickle\.loads?\(|\byaml\.(safe_|full_)?load\(|"
        r"\btom\w*\.loads?\(|\.model_validate_json\(|\borjson\.loads\("
    ),
    "js": re.compile(r"\bJSON\.parse\("),
    "rust": re.compile(rf"\b({_SERDE_CRATES})::(\w+::)*(from_\w+|deserialize\w*)\b"),
}

# Files that are not state: rebuilt when lost (caches), or not data (locks, logs, pids,
# temp files), or the project's own build and package metadata.
NOT_STATE = re.compile(
    r"cache|\.lock\b|lockfile|\.log\b|\.pid\b|\.tmp\b|\btemp\b|\.temp\b|package\.json|"
    r"tsconfig|Cargo\.toml|pyproject|\.env\b|\.html?\b|\.css\b|\.md\b",
    re.I,
)


# Names that say a file is the program's own working state (what a resume or restart
# depends on), not a configuration or credentials file a user also edits by hand.
CHECKPOINTISH = re.compile(
    r"checkpoint|snapshot|manifest|progress|resume|state|cursor|offset|journal|dump|"
    r"ledger|watermark",
    re.I,
)


def checkpointish(state: StateFile) -> bool:
    """The file, or a function writing or reading it, is named as working state."""
    names = [state.name, *(a.symbol or "" for _c, _f, a in [*state.writers, *state.readers])]
    return any(CHECKPOINTISH.search(n) for n in names)


def family(language: str) -> str:
    """'python', 'js' or 'rust' for a tree-sitter language name."""
    return "js" if language in {"javascript", "typescript", "tsx"} else language


def function_at(ctx: FileContext, line: int, outermost: bool = False) -> tree_sitter.Node | None:
    """The innermost (or outermost) function of ``ctx`` around ``line``."""
    types = _FUNCTION_TYPES.get(ctx.source.language, frozenset())
    found: list[tree_sitter.Node] = [
        f for f in syntax.of_type(ctx.root, *types) if syntax.line(f) <= line <= syntax.end_line(f)
    ]
    if not found:
        return None
    found.sort(key=lambda f: f.end_byte - f.start_byte)
    return found[-1] if outermost else found[0]


def access_function(
    contexts: dict[str, FileContext], access: Access
) -> tuple[FileContext, tree_sitter.Node] | None:
    """The file and the (outermost, for JS: callbacks belong to their function) function
    of an access."""
    ctx = contexts.get(access.path)
    if ctx is None:
        return None
    outer = family(ctx.source.language) == "js"
    function = function_at(ctx, access.lines[0], outermost=outer)
    return None if function is None else (ctx, function)


@dataclass(frozen=True)
class StateFile:
    """A file the repository writes serialized state to and reads back."""

    resource: Resource
    family: str  # python, js or rust
    writers: list[tuple[FileContext, tree_sitter.Node, Access]]  # serializing writers
    readers: list[tuple[FileContext, tree_sitter.Node, Access]]  # parsing readers

    @property
    def name(self) -> str:
        return self.resource.name

    @property
    def short_name(self) -> str:
        return self.resource.name.rstrip("/").rsplit("/", 1)[-1]


def state_files(repo: RepoContext, families: tuple[str, ...]) -> list[StateFile]:
    """Every state file whose writers are in one of ``families`` (see the module doc)."""
    contexts = {
        ctx.source.path: ctx
        for ctx in repo.files
        if family(ctx.source.language) in families and not syntax.is_test_path(ctx.source.path)
    }
    if not contexts:
        return []
    found: list[StateFile] = []
    for resource in evidence.named_files(repo, directories=False):
        if NOT_STATE.search(resource.name) or not resource.writers or not resource.readers:
            continue
        writers = _serializing(contexts, resource.writers, SERIALIZES)
        readers = _serializing(contexts, resource.readers, PARSES)
        if not writers or not readers:
            continue
        fam = family(writers[0][0].source.language)
        found.append(StateFile(resource, fam, writers, readers))
    if "js" in families:
        seen = {(a.path, n) for s in found for a in s.resource.writers for n in a.lines}
        for state in js_keyed_state_files(contexts):
            if not any((a.path, n) in seen for a in state.resource.writers for n in a.lines):
                found.append(state)
    return found


def _serializing(
    contexts: dict[str, FileContext],
    accesses: list[Access],
    patterns: dict[str, re.Pattern[str]],
) -> list[tuple[FileContext, tree_sitter.Node, Access]]:
    out = []
    for access in accesses:
        located = access_function(contexts, access)
        if located is None:
            continue
        ctx, function = located
        if patterns[family(ctx.source.language)].search(node_text(function)):
            out.append((ctx, function, access))
    return out


def state_file_reader_lines(state: StateFile) -> set[tuple[str, int]]:
    """(path, line) of every read of the state file."""
    return {(a.path, n) for a in state.resource.readers for n in a.lines}


def files_text(state: StateFile) -> str:
    """The source of every file that writes or reads the state file."""
    seen: dict[str, str] = {}
    for ctx, _function, _access in [*state.writers, *state.readers]:
        seen.setdefault(ctx.source.path, ctx.source.text)
    return "\n".join(seen.values())


def functions_text(state: StateFile) -> str:
    """The source of every function that writes or reads the state file."""
    return "\n".join(node_text(f) for _c, f, _a in [*state.writers, *state.readers])


def access_name(access: Access) -> str:
    return f"{access.symbol}()" if access.symbol else f"code at {access.where}"


def state_hit(state: StateFile, details: dict[str, str]) -> Hit:
    """A hit at the state file's first serializing write, naming writers and readers."""
    ctx, _function, access = state.writers[0]
    pattern = SERIALIZES[state.family]
    # the write of the serialized state, not a first write creating an empty file
    line = next(
        (n for n, text in zip(access.lines, access.text, strict=False) if pattern.search(text)),
        access.lines[-1],
    )
    return Hit(
        path=ctx.source.path,
        start_line=line,
        end_line=line,
        symbol=access.symbol,
        details={
            "file": state.short_name,
            "writers": ", ".join(sorted({access_name(a) for _c, _f, a in state.writers})[:3]),
            "readers": ", ".join(sorted({access_name(a) for _c, _f, a in state.readers})[:3]),
            **details,
        },
    )


_WRITES = frozenset({"writeFileSync", "writeFile", "outputFile", "outputFileSync"})
_RENAMES = frozenset({"rename", "renameSync", "move", "moveSync"})
_READS = frozenset({"readFileSync", "readFile"})
_NOT_A_KEY = re.compile(r"[()\[\]`'\"]")


def js_path_key(call: tree_sitter.Node, path: str, index: int = 0) -> str | None:
    """What names the file a read or write touches (its argument ``index``): a constant of
    another module (``cst.STATE_FILE``), ``this.file`` or a variable within its file, or the
    value a local variable is set to (``const p = statePath()``) within its file. None for
    a parameter, and for a literal or built path (the resource index reads those)."""
    args = js.js_arguments(call)
    if len(args) <= index:
        return None
    target = js.unwrap(args[index])
    text = node_text(target)
    if NOT_STATE.search(text):
        return None
    if target.type == "identifier":
        if js.is_parameter(text, call):
            return None
        function = js.enclosing_function(call)
        initial = js.declared_values(function).get(text) if function is not None else None
        if initial is not None:
            value = js.unwrap(initial)
            text = node_text(value)
            if NOT_STATE.search(text):
                return None
            if value.type == "member_expression" and not _NOT_A_KEY.search(text):
                root = js.root_name(value)
                if root and root != "this" and not js.is_parameter(root, call):
                    return text  # let file = cst.STATE_FILE: the constant names it
            return f"{path}:={text}"
        return f"{path}:{text}"
    if target.type != "member_expression" or _NOT_A_KEY.search(text):
        return None
    root = js.root_name(target)
    if root == "this":
        return f"{path}:{text}"
    return None if not root or js.is_parameter(root, call) else text


def _js_accesses(ctx: FileContext) -> Iterator[tuple[str, str, tree_sitter.Node]]:
    """(key, 'read'|'write', call) of the fs reads, writes and renames (by their
    destination) of a file whose path has a key."""
    bindings = js.fs_bindings(ctx.root)
    if not bindings[0] and not bindings[1]:
        return
    for call in syntax.of_type(ctx.root, "call_expression"):
        operation = js.js_callee(call).rsplit(".", 1)[-1]
        if operation in _WRITES or operation in _READS:
            index = 0
        elif operation in _RENAMES:
            index = 1
        else:
            continue
        if not js.is_fs_call(call, bindings):
            continue
        key = js_path_key(call, ctx.source.path, index)
        if key is not None:
            yield key, "read" if operation in _READS else "write", call


def js_write_keys(repo: RepoContext) -> dict[str, str]:
    """Path key of every fs write (or rename onto) of the repository -> the writer's name."""
    keys: dict[str, str] = {}
    for ctx in repo.in_language(*js.JS_LANGUAGES):
        if syntax.is_test_path(ctx.source.path) or "write" not in ctx.source.text:
            continue
        for key, mode, call in _js_accesses(ctx):
            if mode == "write":
                symbol = js.js_symbol(call)
                keys.setdefault(
                    key, f"{symbol}()" if symbol else f"code at line {syntax.line(call)}"
                )
    return keys


def _key_name(key: str) -> str:
    """'STATE_FILE' of 'src/a.ts:STATE_FILE', 'statePath()' of 'src/a.ts:=statePath()'."""
    match = re.match(r"^[^:]+\.[cm]?[jt]sx?:=?(.*)$", key)
    return match.group(1) if match else key


def js_keyed_state_files(contexts: dict[str, FileContext]) -> list[StateFile]:
    """JS state files the resource index cannot see: a write and a read naming the file the
    same way (``js_path_key``)."""
    accesses: dict[str, dict[str, list[tuple[FileContext, tree_sitter.Node, Access]]]] = {}
    for path, ctx in contexts.items():
        if family(ctx.source.language) != "js" or "JSON." not in ctx.source.text:
            continue
        for key, mode, call in _js_accesses(ctx):
            function = function_at(ctx, syntax.line(call), outermost=True)
            if function is None:
                continue
            pattern = SERIALIZES["js"] if mode == "write" else PARSES["js"]
            if not pattern.search(node_text(function)):
                continue
            line = syntax.line(call)
            access = Access(
                path=path,
                symbol=js.js_symbol(call),
                mode="write" if mode == "write" else "read",
                lines=[line],
                signature="",
                text=[ctx.lines[line - 1].strip()],
                operations=[js.js_callee(call).rsplit(".", 1)[-1]],
            )
            accesses.setdefault(key, {}).setdefault(mode, []).append((ctx, function, access))
    found = []
    for key, modes in accesses.items():
        writers, readers = modes.get("write", []), modes.get("read", [])
        if not writers or not readers:
            continue
        resource = Resource(
            name=_key_name(key),
            kind="file-path",
            writers=[a for _c, _f, a in writers],
            readers=[a for _c, _f, a in readers],
        )
        found.append(StateFile(resource, "js", writers, readers))
    return found
