"""JSON state file rewritten in place with fs.writeFile(Sync), no temp file and rename.

What it finds:
    ``fs.writeFileSync(path, data)`` / ``fs.writeFile`` / ``fsp.writeFile`` (fs, fs/promises)
    that writes JSON (``JSON.stringify(...)``, directly or through a variable of the same
    function, or a ``.json`` path) to a file the repository also reads back (the resource
    index finds a reader of the same path pattern), in a function with no rename
    (``rename`` / ``renameSync``: the write-temp-then-rename pattern). Not matched: exclusive
    creation (flag ``"wx"``), a write under ``if (!fs.existsSync(path))`` (the file does not
    exist yet, nothing can be lost), a write of a constant (``JSON.stringify([])``), a cache
    (a path naming "cache": rebuilt from its source when lost), output files nothing reads
    back, the project's own write helpers (only Node's fs modules count), and test code.

    Severity from evidence: HIGH when a reader parses the file with no way to recover from
    a truncated one (no try/catch, or a catch that rethrows) and the writer runs in a server
    or worker process (it imports one, or is imported by one); MEDIUM otherwise (every
    reader recovers, or a command-line tool writes once per run).

Why it matters:
    writeFile truncates the file and then writes the new content. A crash, kill (deploy,
    OOM) or full disk in between leaves an empty or half-written file, and the previous good
    state is already gone; a reader running at the same time can also see the partial
    file. The next JSON.parse throws and everything that depends on that state fails.

Example:
    const manifest = await readManifest(id);
    manifest.push(entry);
    fs.writeFileSync(manifestPath(id), JSON.stringify(manifest, null, 2));

Use instead:
    const tmp = `${target}.${process.pid}.tmp`;     // same directory as the target
    const fh = await fsp.open(tmp, "w");
    try { await fh.writeFile(data); await fh.sync(); } finally { await fh.close(); }
    await fsp.rename(tmp, target);                   // atomic replace
    // or the write-file-atomic package
"""

from __future__ import annotations

from collections.abc import Iterator

import tree_sitter

from vibe_audit.chunker.parsing import node_text
from vibe_audit.rules import evidence, js, syntax
from vibe_audit.rules.base import Hit, Rule, RuleMeta
from vibe_audit.rules.context import FileContext, RepoContext
from vibe_audit.schemas import Confidence, Severity
from vibe_audit.schemas.resources import Access

META = RuleMeta(
    id="js-state-file-written-in-place",
    title="JSON state file written in place (no temp file + rename)",
    severity=Severity.HIGH,
    confidence=Confidence.HIGH,
    categories={
        "checkpoint": "Atomicity",
        "concurrency": "Checkpoint",
        "sqlite": "Checkpoint",
        "reliability": "Concurrency",
    },
    audit_severity={"sqlite": Severity.MEDIUM},
    checklist=[
        "checkpoint.2A",
        "concurrency.2A",
        "concurrency.checkpoint_checklist.1",
        "sqlite.4A",
        "reliability.9.2",
    ],
    problem=(
        "{function} writes JSON straight to its target ({call}), and {readers} read it "
        "back. writeFile truncates the file before writing, so the old state is gone before "
        "the new one is complete."
    ),
    scenario=(
        "The process is killed (deploy, OOM, crash) or the disk fills mid-write: the file "
        "is left empty or truncated. {scenario}"
    ),
    impact=(
        "The next read ({readers}) fails with a SyntaxError from JSON.parse and the previous "
        "state is lost; everything that depends on it fails until someone repairs the file."
    ),
    how_to_verify=(
        "Fill the disk (or kill -9 the process in a loop while {function} runs with a large "
        "state), then call {readers}: JSON.parse throws 'Unexpected end of JSON input'."
    ),
    fix=(
        "Write a temp file in the same directory, flush it, then rename it over the target: "
        "`const tmp = `${file}.${process.pid}.tmp`; await fsp.writeFile(tmp, data); "
        "await fsp.rename(tmp, file);` (open + fh.sync() before the rename for "
        "durability), or use the write-file-atomic package."
    ),
    trade_off=(
        "One extra rename (and an fsync if you add it) per save; the temp file must be on "
        "the same filesystem, and a crash can leave a stale .tmp file to clean up at start."
    ),
    effort_hours=(0.25, 1.0),
    languages=js.JS_LANGUAGES,
)

_IN_PLACE = frozenset({"writeFileSync", "writeFile"})
_READS = frozenset({"readFileSync", "readFile"})
_RENAMES = frozenset({"rename", "renameSync", "move", "moveSync", "writeFileAtomic"})


def check_repo(repo: RepoContext) -> Iterator[Hit]:
    contexts = {
        ctx.source.path: ctx
        for ctx in repo.in_language(*js.JS_LANGUAGES)
        if not syntax.is_test_path(ctx.source.path)
    }
    if not any("writeFile" in ctx.source.text for ctx in contexts.values()):
        return
    modules = {path: (ctx.imports, ctx.source.text) for path, ctx in contexts.items()}
    reported: set[tuple[str, int]] = set()
    for resource in evidence.named_files(repo, directories=False):
        if not resource.readers:
            continue
        for writer in resource.writers:
            ctx = contexts.get(writer.path)
            if ctx is None or not set(writer.operations) & _IN_PLACE:
                continue
            for call in _write_calls(ctx, writer.lines):
                key = (ctx.source.path, syntax.line(call))
                if key in reported or not _is_state_write(call, resource.name):
                    continue
                reported.add(key)
                yield _hit(ctx, call, resource.readers, contexts, modules)
    for ctx, call, readers in _named_pairs(contexts):
        key = (ctx.source.path, syntax.line(call))
        if key not in reported and _is_state_write(call, ""):
            reported.add(key)
            yield _hit(ctx, call, readers, contexts, modules)


def _path_key(call: tree_sitter.Node, path: str) -> str | None:
    """What names the file a read or write call touches, when a plain name does: a
    constant of another module (``cst.DUMP_FILE``, ``config.statePath``) across the
    repository, ``this.file`` or a variable of the file within that file. None for literals
    and built paths (the resource index reads those) and for a function's parameter."""
    args = js.js_arguments(call)
    if not args:
        return None
    target = js.unwrap(args[0])
    text = node_text(target)
    if target.type == "identifier":
        return None if js.is_parameter(text, call) else f"{path}:{text}"
    if target.type != "member_expression" or "(" in text or "[" in text:
        return None
    root = js.root_name(target)
    if root == "this":
        return f"{path}:{text}"
    return None if not root or js.is_parameter(root, call) else text


def _named_pairs(
    contexts: dict[str, FileContext],
) -> Iterator[tuple[FileContext, tree_sitter.Node, list[Access]]]:
    """In-place writes whose file a read elsewhere names the same way (``_path_key``)."""
    writes: list[tuple[FileContext, tree_sitter.Node, str]] = []
    reads: dict[str, list[Access]] = {}
    for path, ctx in contexts.items():
        if "writeFile" not in ctx.source.text and "readFile" not in ctx.source.text:
            continue
        bindings = js.fs_bindings(ctx.root)
        for call in syntax.of_type(ctx.root, "call_expression"):
            operation = js.js_callee(call).rsplit(".", 1)[-1]
            if operation not in _IN_PLACE and operation not in _READS:
                continue
            if not js.is_fs_call(call, bindings):
                continue
            key = _path_key(call, path)
            if key is None:
                continue
            if operation in _IN_PLACE:
                writes.append((ctx, call, key))
            else:
                line = syntax.line(call)
                reads.setdefault(key, []).append(
                    Access(
                        path=path,
                        symbol=js.js_symbol(call),
                        mode="read",
                        lines=[line],
                        signature="",
                        text=[ctx.lines[line - 1].strip()],
                        operations=[operation],
                    )
                )
    for ctx, call, key in writes:
        if key in reads:
            yield ctx, call, reads[key]


def _write_calls(ctx: FileContext, lines: list[int]) -> list[tree_sitter.Node]:
    bindings = js.fs_bindings(ctx.root)
    return [
        call
        for call in syntax.of_type(ctx.root, "call_expression")
        if syntax.line(call) in lines
        and js.js_callee(call).rsplit(".", 1)[-1] in _IN_PLACE
        and js.is_fs_call(call, bindings)
    ]


def _is_state_write(call: tree_sitter.Node, name: str) -> bool:
    args = js.js_arguments(call)
    function = js.enclosing_function(call)
    if len(args) < 2 or function is None:
        return False
    called = {js.js_callee(c).rsplit(".", 1)[-1] for c in js.own_nodes(function, "call_expression")}
    if called & _RENAMES or _exclusive(args[2:]) or _creates_missing(call, function):
        return False
    target = js.unwrap(args[0])
    spelled = name + node_text(target)
    if target.type == "identifier":
        for scope in (function, _root(call)):
            value = js.declared_values(scope).get(node_text(target))
            spelled += node_text(value) if value is not None else ""
    if "cache" in spelled.lower():
        return False  # a cache: rebuilt from its source when lost
    data = js.unwrap(args[1])
    if _constant(data):
        return False  # resets the file to a fixed value ("[]"): nothing to lose mid-write
    if "JSON.stringify" in node_text(data) or name.endswith(".json"):
        return True
    if data.type == "identifier":
        value = js.declared_values(function).get(node_text(data))
        return value is not None and "JSON.stringify" in node_text(value)
    return False


def _root(node: tree_sitter.Node) -> tree_sitter.Node:
    while node.parent is not None:
        node = node.parent
    return node


def _constant(data: tree_sitter.Node) -> bool:
    """A literal, or ``JSON.stringify`` of an empty array or object literal."""
    if js.js_string(data) is not None:
        return True
    if data.type == "call_expression" and js.js_callee(data) == "JSON.stringify":
        args = js.js_arguments(data)
        first = js.unwrap(args[0]) if args else None
        return first is not None and first.type in {"array", "object"} and not first.named_children
    return False


def _exclusive(options: list[tree_sitter.Node]) -> bool:
    return any("wx" in node_text(option) or "ax" in node_text(option) for option in options)


def _creates_missing(call: tree_sitter.Node, function: tree_sitter.Node) -> bool:
    """The write sits under ``if (!fs.existsSync(p))``: it creates a file not there yet."""
    node = call.parent
    while node is not None and node != function:
        if node.type == "if_statement":
            condition = node.child_by_field_name("condition")
            text = node_text(condition).strip("() ") if condition is not None else ""
            if text.startswith("!") and "exists" in text.lower():
                return True
        node = node.parent
    return False


def _hit(
    ctx: FileContext,
    call: tree_sitter.Node,
    readers: list[Access],
    contexts: dict[str, FileContext],
    modules: dict[str, tuple[set[str], str]],
) -> Hit:
    function = js.enclosing_function(call)
    name = js.js_function_name(function) if function is not None else "<anonymous>"
    symbol = js.js_symbol(call)
    others = [r for r in readers if (r.path, r.symbol) != (ctx.source.path, symbol)]
    who = ", ".join(sorted({_reader_name(r) for r in others})[:3])
    who = who or (f"{name}() itself" if name != "<anonymous>" else "the same function")
    fragile = [r for r in readers if _unguarded(r, contexts)]
    server = js.reaching_server(ctx.source.path, modules)
    if fragile and server:
        severity, reason = (
            Severity.HIGH,
            f"HIGH: {_reader_name(fragile[0])} reads the file back with no recovery from a "
            f"truncated one, and {server}.",
        )
    elif fragile:
        severity, reason = (
            Severity.MEDIUM,
            "MEDIUM: no server or worker framework is seen running this code, so no "
            "concurrent request reads the file while it is written; a crash mid-write still "
            "loses the previous content.",
        )
    else:
        severity, reason = (
            Severity.MEDIUM,
            "MEDIUM: every reader recovers from a corrupt file; a crash mid-write loses the "
            "previous content, but the program keeps running.",
        )
    return Hit(
        path=ctx.source.path,
        start_line=syntax.line(call),
        end_line=syntax.end_line(call),
        symbol=symbol,
        details={
            "function": f"{name}()" if name != "<anonymous>" else "This function",
            "call": node_text(call).split("\n", 1)[0][:100],
            "readers": who,
            "scenario": (
                f"A request running at the same time ({server}) reads the partial file."
                if server
                else f"The next read by {who} fails to parse it."
            ),
        },
        severity=severity,
        severity_reason=reason,
    )


def _reader_name(reader: Access) -> str:
    return f"{reader.symbol}()" if reader.symbol else f"code at {reader.path}:{reader.lines[0]}"


def _unguarded(reader: Access, contexts: dict[str, FileContext]) -> bool:
    """The reader reads the file outside a try whose catch recovers (does not rethrow)."""
    ctx = contexts.get(reader.path)
    if ctx is None:
        return False
    for call in syntax.of_type(ctx.root, "call_expression"):
        if syntax.line(call) not in reader.lines or "read" not in js.js_callee(call).lower():
            continue
        if not any(
            clause.type == "catch_clause" and not _rethrows(clause)
            for clause in js.handler_clauses(call)
        ):
            return True
    return False


def _rethrows(clause: tree_sitter.Node) -> bool:
    body = clause.child_by_field_name("body")
    return body is not None and any(s.type == "throw_statement" for s in body.named_children)


RULE = Rule(meta=META, doc=__doc__ or "", check_repo=check_repo)
