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
from vibe_audit.rules import evidence, patching, rust, syntax
from vibe_audit.rules.base import Hit, Rule, RuleMeta, node_hit
from vibe_audit.rules.context import FileContext, RepoContext
from vibe_audit.rules.files import SCRATCH
from vibe_audit.schemas import Confidence, LineEdit, Patch, PatchSafety, Severity
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


# Expressions that `&expr` borrows whole, with no parentheses needed.
_PLAIN = frozenset(
    {"identifier", "field_expression", "call_expression", "reference_expression",
     "string_literal", "raw_string_literal", "scoped_identifier", "macro_invocation",
     "index_expression", "parenthesized_expression", "self"}
)  # fmt: skip
_SYNC_WRITES = frozenset({"std::fs::write", "fs_err::write"})


def fix(ctx: FileContext, hit: Hit) -> Patch | None:
    """Unsafe (needs review): replace the file atomically. Two shapes:

    - the statement ``fs::write(path, contents)?;`` (std, fs_err) or
      ``tokio::fs::write(path, contents).await?;``;
    - ``let f = File::create(path)?;`` (std, fs_err) directly followed by the one statement
      that uses ``f``, a serializer writing into it (``serde_yaml::to_writer(f, &x)?;``).

    Either becomes a block that writes ``<path>.<pid>.<n>.tmp`` beside the target, gives it
    the target's permissions when the target exists, ``sync_all``s it and renames it over
    the target: the same ``?`` on io::Error, the arguments evaluated in the same order.
    Other ``File::create`` uses are left alone: where the writing ends is not mechanical."""
    uses = rust.use_paths(ctx.root)
    call = next(
        (
            c
            for c in syntax.of_type(ctx.root, "call_expression")
            if syntax.line(c) == hit.start_line and _write_target(c, uses)
        ),
        None,
    )
    if call is None:
        return None
    if _write_target(call, uses) == "File::create":
        return _fix_create(ctx, hit, call, uses)
    path = rust.call_path(call, uses)
    if path == "tokio::fs::write":
        awaited = call.parent
        asynchronous = True
    elif path in _SYNC_WRITES:
        awaited = call
        asynchronous = False
    else:
        return None
    tried = awaited.parent if awaited is not None else None
    if (
        awaited is None
        or (asynchronous and awaited.type != "await_expression")
        or tried is None
        or tried.type != "try_expression"
        or tried.parent is None
        or tried.parent.type != "expression_statement"
    ):
        return None
    statement = tried.parent
    args = rust.call_arguments(call)
    if len(args) != 2 or not _own_lines(ctx, statement, statement):
        return None
    if any(node_text(n) == "target" for n in syntax.of_type(args[1], "identifier")):
        return None  # the contents would read the block's own `target`
    wait = ".await" if asynchronous else ""
    fs = "tokio::fs" if asynchronous else "std::fs"
    write = "tokio::io::AsyncWriteExt::write_all" if asynchronous else "std::io::Write::write_all"
    body = [
        *_temp_file(args[0], f"let contents = {node_text(args[1])};", "mut file", fs, wait),
        f"{write}(&mut file, AsRef::<[u8]>::as_ref(&contents)){wait}?;",
        f"file.sync_all(){wait}?;",
        f"{fs}::rename(&tmp, &target){wait}?;",
    ]
    return _patch(ctx, hit, statement, statement, body, args)


_SYNC_CREATES = frozenset({"std::fs::File::create", "fs_err::File::create"})


def _fix_create(
    ctx: FileContext, hit: Hit, call: tree_sitter.Node, uses: dict[str, str]
) -> Patch | None:
    """``let f = File::create(path)?;`` + ``ser::to_writer(f, &x)?;`` as one atomic write."""
    tried = call.parent
    let = tried.parent if tried is not None else None
    args = rust.call_arguments(call)
    if (
        rust.call_path(call, uses) not in _SYNC_CREATES
        or len(args) != 1
        or tried is None
        or tried.type != "try_expression"
        or let is None
        or let.type != "let_declaration"
        or let.child_by_field_name("value") != tried
        or let.child_by_field_name("type") is not None
    ):
        return None
    pattern = let.child_by_field_name("pattern")
    name = node_text(pattern) if pattern is not None and pattern.type == "identifier" else ""
    use = let.next_named_sibling
    function = rust.enclosing_function(call)
    if not name or name in {"target", "tmp", "save", "meta"} or use is None or function is None:
        return None
    serialize = use.named_children[0] if use.type == "expression_statement" else None
    serializer = serialize.named_children[0] if serialize is not None else None
    if (
        serialize is None
        or serialize.type != "try_expression"
        or serializer is None
        or serializer.type != "call_expression"
        or not _SERIALIZERS.match(rust.call_path(serializer, uses))
        or syntax.line(use) != syntax.end_line(use)
        or not _own_lines(ctx, let, use)
    ):
        return None
    writers = [
        a
        for a in rust.call_arguments(serializer)
        if node_text(a).replace(" ", "") in {name, f"&{name}", f"&mut{name}"}
    ]
    mentions = [n for n in syntax.of_type(function, "identifier") if node_text(n) == name]
    if len(writers) != 1 or len(mentions) != 2:
        return None  # the file is used elsewhere: the rename could come too early
    writer = writers[0]
    borrowed = writer.type == "reference_expression"
    line = ctx.lines[syntax.line(use) - 1]
    start = len(line.encode("utf-8")[: writer.start_point[1]].decode("utf-8", "ignore"))
    end = len(line.encode("utf-8")[: writer.end_point[1]].decode("utf-8", "ignore"))
    written = line[:start] + (node_text(writer) if borrowed else f"&mut {name}") + line[end:]
    mutable = "mut " if not borrowed or "mut" in node_text(writer) else ""
    body = [
        *_temp_file(args[0], None, f"{mutable}{name}", "std::fs", ""),
        written.strip(),
        f"{name}.sync_all()?;",
        "std::fs::rename(&tmp, &target)?;",
    ]
    return _patch(ctx, hit, let, use, body, args)


def _temp_file(
    target: tree_sitter.Node, contents: str | None, file: str, fs: str, wait: str
) -> list[str]:
    """The block's lines up to an open temp file named ``file`` (its ``mut`` included)
    beside ``target``, with the target's permissions."""
    path = node_text(target) if target.type in _PLAIN else f"({node_text(target)})"
    name = file.removeprefix("mut ")
    return [
        "// Write a temp file beside the target, flush it to disk, then rename it over",
        "// the target: a crash leaves the old file or the new one, never a torn one.",
        f"let target = AsRef::<std::path::Path>::as_ref(&{path}).to_path_buf();",
        *([contents] if contents else []),
        "// A name of its own per write: concurrent saves do not share a temp file.",
        "static SAVES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);",
        "let save = SAVES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);",
        "let mut tmp = target.clone().into_os_string();",
        'tmp.push(format!(".{}.{}.tmp", std::process::id(), save));',
        f"let {file} = {fs}::File::create(&tmp){wait}?;",
        f"if let Ok(meta) = {fs}::metadata(&target){wait} {{",
        f"    {name}.set_permissions(meta.permissions()){wait}?;",
        "}",
    ]


def _own_lines(ctx: FileContext, first: tree_sitter.Node, last: tree_sitter.Node) -> bool:
    """``first`` starts its line and ``last`` ends its line (comments aside)."""
    line = ctx.lines[first.start_point[0]]
    before = line.encode("utf-8")[: first.start_point[1]].decode("utf-8", "ignore")
    return not before.strip() and rust.ends_its_line(last, ctx.lines)


def _patch(
    ctx: FileContext,
    hit: Hit,
    first: tree_sitter.Node,
    last: tree_sitter.Node,
    body: list[str],
    args: list[tree_sitter.Node],
) -> Patch:
    indent = patching.indent_of(ctx, syntax.line(first))
    text = f"{indent}{{\n" + "".join(f"{indent}    {line}\n" for line in body) + f"{indent}}}\n"
    edit = LineEdit(
        path=ctx.source.path,
        start_line=syntax.line(first),
        end_line=syntax.end_line(last),
        text=text,
    )
    return Patch(
        safety=PatchSafety.UNSAFE,
        description=f"in {hit.details.get('function')}(), replace the file atomically: "
        f"write a temp file beside {node_text(args[0])}, sync it, rename it over the target "
        "(it gets the old file's permissions, not its owner; a crash can leave a *.tmp "
        "file behind)",
        edits=[edit],
        keeps=[node_text(a) for a in args],
    )


RULE = Rule(meta=META, doc=__doc__ or "", check_repo=check_repo, fix=fix)
