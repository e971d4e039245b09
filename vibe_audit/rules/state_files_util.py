"""Shared detection for the state-file rules (helper "state-files"): the atomic writes of a
file (a temp file written, then renamed over its target) in Python, TypeScript/JavaScript
and Rust, with what the function around them does (fsync, directory sync, cleanup), and the
read-modify-write of a state file.

Used by: *-checkpoint-dir-not-fsynced, js-/rust-checkpoint-replace-without-fsync,
js-/rust-checkpoint-temp-not-cleaned-up, *-temp-files-never-swept and
*-state-file-update-without-lock; a family's rules are built in one module, from one META and
one docstring with what each language words differently (``family_meta``, ``family_doc``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

import tree_sitter

from vibe_audit.chunker.parsing import node_text
from vibe_audit.rules import evidence, files, js, rust, syntax
from vibe_audit.rules.base import DOC_HEADINGS, Hit, RuleMeta, node_hit
from vibe_audit.rules.context import FileContext, RepoContext

# --- one rule per language ----------------------------------------------------------

# The rules of a family (one module) share their texts and check; per language key
# ("python", "js", "rust") they differ in the prefix of their id, the languages they read
# and the texts a language words its own way.
ID_PREFIX = {"python": "", "js": "js-", "rust": "rust-"}
LANGUAGES: dict[str, list[str]] = {"python": ["python"], "js": js.JS_LANGUAGES, "rust": ["rust"]}


# A section of a rule's documentation (rules.base.DOC_HEADINGS): "What it finds:" ...
_DOC_HEADING = re.compile(rf"^({'|'.join(DOC_HEADINGS)}):\n", re.M)


def _doc_parts(doc: str) -> tuple[str, dict[str, str]]:
    """The summary of a rule's documentation, and its sections' text by heading."""
    summary, *rest = _DOC_HEADING.split(doc)
    return summary.strip("\n"), {
        h: body.strip("\n") for h, body in zip(rest[::2], rest[1::2], strict=True)
    }


# A section of ``own`` that ends with this paragraph goes on as the section of ``doc`` does.
_REST = "    ..."


def family_doc(doc: str, own: str) -> str:
    """The documentation of a family's rule for one language: ``doc`` (the family's first
    rule's) where ``own`` (in the same form) has no text of its own: its summary line, when
    ``own`` starts with a heading, each section ``own`` leaves out, and the paragraphs of a
    section after those ``own`` gives when its last paragraph is ``...``."""
    summary, sections = _doc_parts(doc)
    own_summary, own_sections = _doc_parts(own)
    parts = [own_summary or summary]
    for heading, body in sections.items():
        mine = own_sections.get(heading, body).split("\n\n")
        if mine[-1] == _REST:
            mine = mine[:-1] + body.split("\n\n")[len(mine) - 1 :]
        parts.append(f"{heading}:\n" + "\n\n".join(mine))
    return "\n\n".join(parts) + "\n"


def write_hit(ctx: FileContext, write: AtomicWrite, **details: str) -> Hit:
    """A hit at the rename of ``write``, named after its function; ``details`` fill the
    rule's texts besides {function}."""
    return node_hit(
        ctx,
        write.rename,
        named_by=write.function,
        details={"function": write.name, **details},
    )


def family_meta(meta: RuleMeta, language: str, own: Mapping[str, object]) -> RuleMeta:
    """The family's rule for ``language``: ``meta`` (a rule of the family) with the
    language's id and languages, and ``own`` (field -> value) where the language's rule
    says something else."""
    stem = meta.id.removeprefix("js-").removeprefix("rust-")
    update = {"id": ID_PREFIX[language] + stem, "languages": list(LANGUAGES[language]), **own}
    return meta.model_copy(update=update)


@dataclass(frozen=True)
class AtomicWrite:
    """A temp file written and renamed over its target in one function."""

    path: str
    function: tree_sitter.Node
    name: str  # the function's name
    rename: tree_sitter.Node  # the rename (or persist) call
    temp: str  # the temp file's expression
    target: str  # the destination's expression
    factory: str  # what names the temp file (its definition, or the temp factory call)
    unique: bool  # a new name per write (pid, time, random, mkstemp): a crash orphans it
    self_cleaning: bool  # a temp-file object that deletes itself (Rust NamedTempFile)
    fsyncs: bool  # the function flushes the file to disk before the rename
    dir_syncs: bool  # the function (or its file) fsyncs the directory
    cleans_up: bool  # a failure path deletes the temp file


# --- shared text tests --------------------------------------------------------------

# Files rebuilt when lost: caches, and runtime files a process rewrites when it starts
# (its pid, port and status).
_CACHE = re.compile(r"cache|\.pyc\b|\.lock\b|lockfile|pid_?file|\.pid\b|runtime_?status", re.I)
_UNIQUE_TEXT = re.compile(
    r"getpid|process\.pid|process::id|Date\.now|time\.time|time_ns|monotonic|perf_counter|"
    r"hrtime|performance\.now|uuid|nanoid|ulid|random|rand::|thread_rng|fastrand|getrandom|"
    r"token_hex|token_urlsafe|randomBytes|SystemTime|Instant::now|as_nanos|as_millis|"
    r"fetch_add|threading\.get_ident|mkstemp|\bcounter\b|\bseq\b",
    re.I,
)
# A process id names one temp per process, not per write: the next write of the same
# process reuses (overwrites) it, so only a crash orphans it (a startup sweep's job).
_PER_PROCESS = re.compile(r"getpid|process\.pid|process::id|threading\.get_ident", re.I)


def new_name_per_write(text: str) -> bool:
    """The temp name changes on every write (time, random, a counter), not only per
    process: a failed write's temp file is never reused, so it stays until removed."""
    return bool(_UNIQUE_TEXT.search(_PER_PROCESS.sub("", text)))


# fsync of a directory: O_DIRECTORY, an open of a name saying dir/parent that is synced,
# or a helper named after it.
_DIR_SYNC = re.compile(
    r"O_DIRECTORY|(?:fsync|sync)_?(?:dir|directory|parent)|(?:dir|directory|parent)_?(?:fsync|sync)|"
    r"open(?:Sync)?\(\s*(?:path\.)?(?:[\w.]*(?:dir|Dir|parent|Parent|folder|Folder))|"
    r"File::open\(\s*&?\s*[\w.]*(?:dir|parent)|\.parent\(\)[^;]*\)\s*\??[^;]*\.sync_all",
    re.I,
)


def _scratch_or_cache(*texts: str) -> bool:
    return any(files.SCRATCH.search(t) or _CACHE.search(t) for t in texts if t)


# --- Python -------------------------------------------------------------------------

_PY_DIR_POSITION = {"mkstemp": 2, "mktemp": 2, "NamedTemporaryFile": 6}
_PY_CLEANUP = frozenset({"unlink", "remove", "rmtree", "removedirs", "cleanup"})


def _py_unique_factory(call: tree_sitter.Node) -> bool:
    """A tempfile factory creating a random name in a directory the caller chose."""
    name = syntax.callee(call)
    if name not in files.TEMP_FACTORIES:
        return False
    short = syntax.last_name(name)
    keywords = syntax.keyword_names(call)
    if "**" in keywords:
        return False
    if "dir" not in keywords and len(syntax.positional_args(call)) <= _PY_DIR_POSITION[short]:
        return False
    if short == "NamedTemporaryFile":
        delete = syntax.keyword_value(call, "delete")
        return delete is not None and node_text(delete) in {"False", "0"}
    return True


def _py_definitions(function: tree_sitter.Node, name: str) -> list[str]:
    found = []
    for node in syntax.body_nodes(function, "assignment"):
        left, right = node.child_by_field_name("left"), node.child_by_field_name("right")
        if left is not None and right is not None and node_text(left) == name:
            found.append(node_text(right))
    return found


def _py_cleans_up(function: tree_sitter.Node) -> bool:
    for clause in syntax.body_nodes(function, "except_clause", "finally_clause"):
        for call in syntax.of_type(clause, "call"):
            if syntax.last_name(syntax.callee(call)).lower().lstrip("_") in _PY_CLEANUP:
                return True
    return False


def python_atomic_writes(ctx: FileContext) -> Iterator[AtomicWrite]:
    if syntax.is_test_path(ctx.source.path) or not files.WRITE_TEXT.search(ctx.source.text):
        return
    file_dir_sync = bool(_DIR_SYNC.search(ctx.source.text))
    for function in files.functions_matching(ctx, files.RENAME_TEXT):
        renames = [c for c in syntax.own_calls(function) if syntax.is_rename(c)]
        written = files.written_files(function)
        if not renames or not written:
            continue
        names = files.aliases(function, set(written))
        factories = {
            t: call
            for call in syntax.own_calls(function)
            if _py_unique_factory(call)
            for t in files.aliases(function, files.temp_names(call))
        }
        for rename in renames:
            source = files.rename_source(rename)
            if source is None or source not in names:
                continue
            if files.scratch_destination(function, rename) or files.regenerable(
                ctx, function, rename
            ):
                continue
            destination = files.rename_destination(rename)
            defined = " ".join(_py_definitions(function, source))
            bare = source.removesuffix(".name")
            unique = (
                source in factories
                or bare in factories
                or (bool(defined) and bool(_UNIQUE_TEXT.search(defined)))
            )
            factory = (
                syntax.callee(factories[source]) + "(...)"
                if source in factories
                else (defined or source)
            )
            yield AtomicWrite(
                path=ctx.source.path,
                function=function,
                name=syntax.function_name(function),
                rename=rename,
                temp=source,
                target=node_text(destination) if destination is not None else "",
                factory=factory,
                unique=unique,
                self_cleaning=False,
                fsyncs=files.fsyncs(function),
                dir_syncs=file_dir_sync,
                cleans_up=_py_cleans_up(function),
            )
            break


# --- TypeScript / JavaScript --------------------------------------------------------

_JS_RENAMES = frozenset({"rename", "renameSync", "move", "moveSync"})
_JS_WRITES = frozenset(
    {"writeFile", "writeFileSync", "outputFile", "outputFileSync", "createWriteStream",
     "open", "openSync", "writeJson", "writeJSON", "writeJsonSync", "writeJSONSync",
     "outputJson", "outputJSON", "outputJsonSync", "appendFile", "appendFileSync"}
)  # fmt: skip
_JS_FSYNC = re.compile(r"\bf(?:data)?sync(?:Sync)?\b|\.(?:data)?sync\(\)|\bflush\s*:\s*true")
_JS_CLEANUP = re.compile(r"\b(?:unlink|unlinkSync|rm|rmSync|remove|removeSync)\s*\(")
_JS_RENAME_TEXT = re.compile(r"\brename(?:Sync)?\s*\(|\.move(?:Sync)?\s*\(")


def js_fs_op(call: tree_sitter.Node, bindings: tuple[set[str], set[str]]) -> str:
    """The fs function name a call invokes ('writeFileSync'), '' when it is not fs's."""
    callee = js.js_callee(call)
    if callee == "Bun.write":
        return "Bun.write"
    if not js.is_fs_call(call, bindings):
        return ""
    return callee.rsplit(".", 1)[-1]


def js_first_arg(call: tree_sitter.Node) -> str:
    args = js.js_arguments(call)
    return node_text(js.unwrap(args[0])) if args else ""


def _js_value(function: tree_sitter.Node, root: tree_sitter.Node, name: str) -> str:
    """What ``name`` (a local, or ``this.x``) is assigned in the function or the file."""
    if name.startswith("this."):
        field = name.removeprefix("this.")
        for assign in syntax.of_type(root, "assignment_expression"):
            left = assign.child_by_field_name("left")
            right = assign.child_by_field_name("right")
            if left is not None and right is not None and node_text(left) == name:
                return node_text(right)
        for prop in syntax.of_type(root, "public_field_definition"):
            if node_text(prop).lstrip("#").startswith(field.lstrip("#")):
                return node_text(prop)
        return ""
    for scope in (function, root):
        value = js.declared_values(scope).get(name)
        if value is not None:
            return node_text(value)
    return ""


def _js_cleans_up(function: tree_sitter.Node) -> bool:
    for clause in js.own_nodes(function, "catch_clause", "finally_clause"):
        if _JS_CLEANUP.search(node_text(clause)):
            return True
    for call in js.own_nodes(function, "call_expression"):
        callee = js.js_callee(call)
        if callee.endswith((".catch", ".finally")) and _JS_CLEANUP.search(node_text(call)):
            return True
    return False


def js_atomic_writes(ctx: FileContext) -> Iterator[AtomicWrite]:
    text = ctx.source.text
    if syntax.is_test_path(ctx.source.path) or not _JS_RENAME_TEXT.search(text):
        return
    bindings = js.fs_bindings(ctx.root)
    file_dir_sync = bool(_DIR_SYNC.search(text))
    for function in syntax.of_type(ctx.root, *js.JS_FUNCTION_TYPES):
        calls = js.own_nodes(function, "call_expression")
        renames = [c for c in calls if js_fs_op(c, bindings) in _JS_RENAMES]
        if not renames:
            continue
        written = {
            js_first_arg(c) for c in calls if js_fs_op(c, bindings) in _JS_WRITES | {"Bun.write"}
        }
        body = node_text(function)
        for rename in renames:
            args = js.js_arguments(rename)
            if len(args) < 2:
                continue
            temp = node_text(js.unwrap(args[0]))
            target = node_text(js.unwrap(args[1]))
            if temp not in written:
                continue
            defined = _js_value(function, ctx.root, temp)
            target_defined = _js_value(function, ctx.root, target)
            if _scratch_or_cache(target, target_defined) or _CACHE.search(
                js.js_function_name(function)
            ):
                continue
            if not files.SCRATCH.search(temp + defined):
                continue  # a move of one real file to another, not a temp file put in place
            yield AtomicWrite(
                path=ctx.source.path,
                function=function,
                name=js.js_function_name(function),
                rename=rename,
                temp=temp,
                target=target,
                factory=defined or temp,
                unique=bool(_UNIQUE_TEXT.search(defined or temp)),
                self_cleaning=False,
                fsyncs=bool(_JS_FSYNC.search(body)),
                dir_syncs=file_dir_sync,
                cleans_up=_js_cleans_up(function),
            )
            break


# --- Rust ---------------------------------------------------------------------------

_RS_SYNC = re.compile(r"\bsync_all\b|\bsync_data\b|\bfsync\b|\bfdatasync\b")
_RS_CLEANUP = re.compile(r"\bremove_file\b|\bscopeguard\b|\bdefer!|\bguard\(")
_RS_SELF_CLEANING = re.compile(r"NamedTempFile|tempfile::Builder|Builder::new\(\)[^;]*tempfile")
_RS_TEMP_IN_DIR = re.compile(r"NamedTempFile::new_in|tempfile_in\(|NamedTempFile::with_prefix_in")


def _strip_ref(text: str) -> str:
    return re.sub(r"^&\s*(?:mut\s+)?", "", text).strip()


def _rs_definition(function: tree_sitter.Node, name: str) -> str:
    for let in syntax.of_type(function, "let_declaration"):
        pattern = let.child_by_field_name("pattern")
        value = let.child_by_field_name("value")
        if (
            pattern is not None
            and value is not None
            and node_text(pattern).removeprefix("mut ").strip() == name
        ):
            return node_text(value)
    return ""


def _rs_written(function: tree_sitter.Node, uses: dict[str, str]) -> set[str]:
    """Path expressions the function writes (fs::write, File::create, OpenOptions::open)."""
    found: set[str] = set()
    for call in syntax.of_type(function, "call_expression", stop_at=frozenset({"function_item"})):
        path = rust.call_path(call, uses)
        args = rust.call_arguments(call)
        if not args:
            continue
        creates = path.endswith(("fs::write", "File::create", "fs_err::write"))
        if creates or (rust.method_name(call) == "open" and "OpenOptions" in node_text(call)):
            found.add(_strip_ref(node_text(args[0])))
    return found


def rust_atomic_writes(ctx: FileContext) -> Iterator[AtomicWrite]:
    text = ctx.source.text
    if syntax.is_test_path(ctx.source.path) or ("rename" not in text and "persist" not in text):
        return
    uses = rust.use_paths(ctx.root)
    file_dir_sync = bool(_DIR_SYNC.search(text))
    for function in rust.rust_functions(ctx.root):
        if rust.is_rust_test(function, ctx.source.path):
            continue
        calls = list(
            syntax.of_type(function, "call_expression", stop_at=frozenset({"function_item"}))
        )
        body = node_text(function)
        written: set[str] | None = None
        for call in calls:
            path = rust.call_path(call, uses)
            args = rust.call_arguments(call)
            method = rust.method_name(call)
            if path.endswith("fs::rename") and len(args) == 2:
                temp, target = _strip_ref(node_text(args[0])), _strip_ref(node_text(args[1]))
                if written is None:
                    written = _rs_written(function, uses)
                if temp not in written:
                    continue
                defined = _rs_definition(function, temp)
                self_cleaning = False
            elif method in {"persist", "persist_noclobber"} and args:
                owner = rust.receiver(call)
                if owner is None:
                    continue
                temp, target = node_text(owner), _strip_ref(node_text(args[0]))
                defined = _rs_definition(function, temp)
                if not _RS_SELF_CLEANING.search(defined):
                    continue
                self_cleaning = True
            else:
                continue
            if _scratch_or_cache(target, _rs_definition(function, target)):
                continue
            if not self_cleaning and not files.SCRATCH.search(temp + defined):
                continue
            unique = bool(
                _RS_TEMP_IN_DIR.search(defined)
                if self_cleaning
                else _UNIQUE_TEXT.search(defined or temp)
            )
            yield AtomicWrite(
                path=ctx.source.path,
                function=function,
                name=rust.rust_function_name(function),
                rename=call,
                temp=temp,
                target=target,
                factory=(defined or temp).split("\n")[0],
                unique=unique,
                self_cleaning=self_cleaning,
                fsyncs=bool(_RS_SYNC.search(body)),
                dir_syncs=file_dir_sync,
                cleans_up=self_cleaning or bool(_RS_CLEANUP.search(body)),
            )
            break


def atomic_writes(ctx: FileContext) -> Iterator[AtomicWrite]:
    language = ctx.source.language
    if language == "python":
        yield from python_atomic_writes(ctx)
    elif language in js.JS_LANGUAGES:
        yield from js_atomic_writes(ctx)
    elif language == "rust":
        yield from rust_atomic_writes(ctx)


# --- startup sweep of stale temp files ----------------------------------------------

_LISTING = {
    "python": re.compile(r"\b(?:listdir|scandir|iterdir|glob|rglob|walk|fnmatch)\s*\("),
    "js": re.compile(r"\b(?:readdir|readdirSync|opendir|opendirSync|glob|globSync|sync)\s*\("),
    "rust": re.compile(r"\b(?:read_dir|glob|WalkDir|walkdir)\b"),
}
_REMOVAL = {
    "python": re.compile(r"\b(?:unlink|remove|rmtree)\s*\("),
    "js": _JS_CLEANUP,
    "rust": re.compile(r"\bremove_file\b|\bremove_dir_all\b"),
}
_TEMP_WORD = re.compile(r"tmp|temp(?![lt])|stale|orphan|leftover", re.I)


def language_key(language: str) -> str:
    return "js" if language in js.JS_LANGUAGES else language


def sweeps_temp_files(ctx: FileContext) -> bool:
    """Some function of the file lists a directory and removes temp files from it."""
    key = language_key(ctx.source.language)
    text = ctx.source.text
    if not _LISTING[key].search(text) or not _REMOVAL[key].search(text):
        return False
    if key == "python":
        functions: Iterator[tree_sitter.Node] = syntax.functions(ctx.root)
    elif key == "js":
        functions = syntax.of_type(ctx.root, *js.JS_FUNCTION_TYPES)
    else:
        functions = rust.rust_functions(ctx.root)
    for function in functions:
        body = node_text(function)
        if _LISTING[key].search(body) and _REMOVAL[key].search(body) and _TEMP_WORD.search(body):
            return True
    return False


# --- read-modify-write of a state file ----------------------------------------------


@dataclass(frozen=True)
class Update:
    """A function that reads a state file and writes the same path back."""

    function: tree_sitter.Node
    name: str
    read: tree_sitter.Node
    write: tree_sitter.Node
    file: str  # the path expression both use


# A lock of any kind in the file: fcntl.flock, portalocker, filelock, proper-lockfile,
# async-mutex, fs2 / fd-lock, threading.Lock, a Mutex (not "block", "clock").
LOCK_TEXT = re.compile(
    r"(?<![a-zA-Z])(?:[a-z_]*_)?lock(?:s|ed|ing|file|_\w+)?\b|[a-z]Lock\b|Lock\w*\(|\block\w*\(|"
    r"(?<![bcBC])[Ll]ock[A-Z_]|flock|lockf|[Mm]utex|RwLock|[Ss]emaphore|runExclusive|"
    r"portalocker|fasteners|fd_lock|fs2::|FileExt|lock_exclusive",
)
# A promise chain that serialises writes: this.saving = this.saving.then(...).
_JS_CHAIN = re.compile(r"([\w.#]+)\s*=\s*\1\s*\.then\(")
_PY_LOADS = re.compile(
    r"\b(?:json|yaml|pickle|tomllib|toml|tomli|msgpack|ujson|orjson)\.(?:safe_)?loads?\(|"
    r"\bjson\.loads?\(|\byaml\.(?:safe_)?load\("
)
_RS_SERDE = re.compile(
    r"\b(?:serde_json|toml|serde_yaml|serde_yml|ron|bincode|rmp_serde|postcard|ciborium|"
    r"json5)::(?:\w+::)*(?:from_\w+|deserialize\w*)"
)


def has_lock(text: str) -> bool:
    return bool(LOCK_TEXT.search(text) or _JS_CHAIN.search(text))


def _stateful(path: str) -> bool:
    return not _scratch_or_cache(path)


def python_updates(ctx: FileContext) -> Iterator[Update]:
    if syntax.is_test_path(ctx.source.path) or not _PY_LOADS.search(ctx.source.text):
        return
    if "/migrations/" in f"/{ctx.source.path}":
        return  # a schema migration runs once, alone
    for function in syntax.functions(ctx.root):
        body = node_text(function)
        if not _PY_LOADS.search(body):
            continue
        calls = syntax.own_calls(function)
        reads: list[tuple[str, tree_sitter.Node]] = []
        for call in calls:
            name = syntax.callee(call)
            short = syntax.last_name(name)
            args = syntax.positional_args(call)
            if name in {"open", "io.open"} and args:
                mode = files.open_mode(call, 1)
                if mode is None or mode.strip("bt") == "r":
                    reads.append((node_text(args[0]), call))
            elif short in {"read_text", "read_bytes"} and "." in name:
                reads.append((name.rsplit(".", 1)[0], call))
            elif short == "open" and "." in name and not name.startswith(("os.", "io.")):
                mode = files.open_mode(call, 0)
                if mode is None or mode.strip("bt") == "r":
                    reads.append((name.rsplit(".", 1)[0], call))
        if not reads:
            continue
        writes: list[tuple[str, tree_sitter.Node]] = [
            (path, call) for path, call in files.written_files(function).items()
        ]
        writes += [
            (node_text(dst), call)
            for call in calls
            if syntax.is_rename(call) and (dst := files.rename_destination(call)) is not None
        ]
        found = _first_pair(reads, writes)
        if found is not None:
            yield Update(function, syntax.function_name(function), *found)


def _first_pair(
    reads: list[tuple[str, tree_sitter.Node]], writes: list[tuple[str, tree_sitter.Node]]
) -> tuple[tree_sitter.Node, tree_sitter.Node, str] | None:
    for path, read in reads:
        if not path or not _stateful(path):
            continue
        for written, write in writes:
            if written == path and write.start_byte > read.end_byte:
                return read, write, path
    return None


_JS_READS = frozenset({"readFile", "readFileSync", "readJson", "readJSON", "readJsonSync"})
_JS_STATE_WRITES = frozenset(
    {"writeFile", "writeFileSync", "outputFile", "outputFileSync", "writeJson", "writeJSON",
     "writeJsonSync", "outputJson", "outputJSON", "Bun.write"}
)  # fmt: skip


def js_updates(ctx: FileContext) -> Iterator[Update]:
    text = ctx.source.text
    if syntax.is_test_path(ctx.source.path) or ("readFile" not in text and "readJson" not in text):
        return
    bindings = js.fs_bindings(ctx.root)
    for function in syntax.of_type(ctx.root, *js.JS_FUNCTION_TYPES):
        calls = js.own_nodes(function, "call_expression")
        reads, writes = [], []
        for call in calls:
            op = js_fs_op(call, bindings)
            if op in _JS_READS:
                reads.append((js_first_arg(call), call))
            elif op in _JS_STATE_WRITES:
                writes.append((js_first_arg(call), call))
            elif op in _JS_RENAMES:
                args = js.js_arguments(call)
                if len(args) == 2:
                    writes.append((node_text(js.unwrap(args[1])), call))
        if not reads or not writes:
            continue
        body = node_text(function)
        if "JSON.parse" not in body and "readJson" not in body and "yaml" not in body.lower():
            continue
        found = _first_pair(reads, writes)
        if found is None:
            continue
        read, write, _ = found
        awaits = [
            a
            for a in js.own_nodes(function, "await_expression")
            if a.end_byte > read.start_byte and a.start_byte < write.start_byte
        ]
        if not awaits:
            continue  # a synchronous read-modify-write: nothing runs in between in one process
        yield Update(function, js.js_function_name(function), *found)


def rust_updates(ctx: FileContext) -> Iterator[Update]:
    text = ctx.source.text
    if syntax.is_test_path(ctx.source.path) or not _RS_SERDE.search(text):
        return
    uses = rust.use_paths(ctx.root)
    for function in rust.rust_functions(ctx.root):
        if not _RS_SERDE.search(node_text(function)) or rust.is_rust_test(
            function, ctx.source.path
        ):
            continue
        reads, writes = [], []
        for call in syntax.of_type(
            function, "call_expression", stop_at=frozenset({"function_item"})
        ):
            path = rust.call_path(call, uses)
            args = rust.call_arguments(call)
            if not args:
                continue
            first = _strip_ref(node_text(args[0]))
            if path.endswith(("fs::read_to_string", "fs::read", "File::open")):
                reads.append((first, call))
            elif path.endswith(("fs::write", "File::create")):
                writes.append((first, call))
            elif path.endswith("fs::rename") and len(args) == 2:
                writes.append((_strip_ref(node_text(args[1])), call))
            elif rust.method_name(call) in {"persist", "persist_noclobber"}:
                writes.append((first, call))
        found = _first_pair(reads, writes)
        if found is not None:
            yield Update(function, rust.rust_function_name(function), *found)


# Imports that mean the repository runs a long-lived service (a server or workers), which
# restarts after crashes and deploys: where a startup sweep of temp files belongs.
SERVICES = {
    "python": frozenset(
        {"fastapi", "starlette", "flask", "django", "aiohttp", "tornado", "sanic", "quart",
         "celery", "rq", "huey", "dramatiq", "apscheduler", "gunicorn", "uvicorn"}
    ),
    "js": frozenset(js.SERVER_MODULES),
    "rust": frozenset(
        {"axum", "actix_web", "warp", "rocket", "hyper", "tonic", "poem", "salvo", "tide"}
    ),
}  # fmt: skip


def service_import(contexts: list[FileContext]) -> str | None:
    """'path (module)' of the first file that imports a server or worker framework."""
    for ctx in contexts:
        if syntax.is_test_path(ctx.source.path):
            continue
        found = sorted(ctx.imports & SERVICES[language_key(ctx.source.language)])
        if found:
            return f"{ctx.source.path} ({found[0]})"
    return None


# Timers that mean the module runs in a long-lived process (periodic or deferred saves).
_TIMERS = {
    "python": re.compile(r"threading\.Timer|\bTimer\(|BackgroundScheduler|\bsched\.|\.every\("),
    "js": re.compile(r"\bsetInterval\(|\bflushInterval\b|\bsetTimeout\([^)]*[Ff]lush"),
    "rust": re.compile(r"\btime::interval\b|\binterval_at\(|\btokio::spawn\b|thread::spawn"),
}


def long_lived(ctx: FileContext, repo: RepoContext) -> str | None:
    """Why the module's code runs in a long-lived process (a service that restarts after
    crashes and deploys), or None: a server or worker framework reaches the module (its own
    imports, or a module importing it), it runs threads or tasks, or it schedules saves
    on a timer. For Rust, a server framework anywhere in the crate."""
    key = language_key(ctx.source.language)
    if key == "python":
        reason = evidence.reaching_concurrency(ctx, repo)
    elif key == "js":
        modules = {
            c.source.path: (c.imports, c.source.text) for c in repo.in_language(*js.JS_LANGUAGES)
        }
        reason = js.reaching_server(ctx.source.path, modules)
    else:
        reason = evidence.concurrency(ctx) or service_import(repo.in_language("rust"))
    if reason is None and (timer := _TIMERS[key].search(ctx.source.text)) is not None:
        reason = f"{ctx.source.path} schedules work on a timer ({timer.group(0).rstrip('(')})"
    return reason
