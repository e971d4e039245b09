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

import re
from collections.abc import Iterator

import tree_sitter

from vibe_audit.chunker.parsing import node_text
from vibe_audit.rules import evidence, js, patching, syntax
from vibe_audit.rules.base import Hit, Rule, RuleMeta
from vibe_audit.rules.context import FileContext, RepoContext
from vibe_audit.schemas import Confidence, LineEdit, Patch, PatchSafety, Severity
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


_CONTINUED = "\0"  # marks a line of the statement after its first, indented as written
_PROMISE_FS = frozenset({"fs/promises", "node:fs/promises", "fs-extra"})
_OPTION_KEYS = frozenset({"encoding", "mode", "flag", "signal", "flush"})


def fix(ctx: FileContext, hit: Hit) -> Patch | None:
    """Unsafe (review): replace the in-place write by a write to a temp file in the same
    directory and a rename over the target, in a block of its own::

        {
          const tmp = `${file}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
          fs.writeFileSync(tmp, data, "utf8");
          fs.renameSync(tmp, file);
        }

    The write keeps its data and options (encoding, mode); a target that is not a plain
    name (``cursorFile(feed)``) is evaluated once into a const first. For
    ``fs.writeFileSync`` (rename: ``renameSync`` of the same module) and an awaited
    ``writeFile`` of a promise API (``fs.promises``, fs/promises, fs-extra: ``await
    x.rename``). Not for the callback form, a write that is not a statement of its own,
    options it cannot read or with a flag other than "w" (an append would lose the file's
    content), functions imported by name, or a target that may be a file descriptor."""
    call = next(
        (
            c
            for c in _write_calls(ctx, [hit.start_line])
            if syntax.line(c) == hit.start_line and syntax.end_line(c) == hit.end_line
        ),
        None,
    )
    function = call.child_by_field_name("function") if call is not None else None
    if call is None or function is None or function.type != "member_expression":
        return None
    owner_node = function.child_by_field_name("object")
    method_node = function.child_by_field_name("property")
    if owner_node is None or method_node is None:
        return None
    owner, method = node_text(owner_node), node_text(method_node)
    awaited = call.parent is not None and call.parent.type == "await_expression"
    if method == "writeFileSync" and not awaited:
        rename, wait = f"{owner}.renameSync", ""
    elif method == "writeFile" and awaited and _promise_fs(ctx.root, owner):
        rename, wait = f"{owner}.rename", "await "
    else:
        return None
    statement = call.parent if awaited else call
    statement = statement.parent if statement is not None else None
    if statement is None or statement.type != "expression_statement":
        return None
    if statement.parent is None or statement.parent.type not in {
        "program", "statement_block", "switch_case", "switch_default"
    }:  # fmt: skip
        return None
    if not js.starts_its_line(statement) or not js.ends_its_line(statement):
        return None
    args = js.js_arguments(call)
    if len(args) not in {2, 3} or (len(args) == 3 and not _plain_options(args[2])):
        return None
    target = js.unwrap(args[0])
    if _maybe_descriptor(target, call):
        return None
    if any(
        syntax.line(s) != syntax.end_line(s)
        for s in syntax.of_type(statement, "string", "template_string")
    ):
        return None  # re-indenting the statement would change a multi-line string
    taken = set(re.findall(r"[\w$]+", node_text(statement)))
    tmp = next(n for n in ("tmp", "tmpFile", "tmpPath", "tmpTarget") if n not in taken)
    lines: list[str] = []
    plain = re.fullmatch(r"[\w$]+(?:\.[\w$]+)*", node_text(target)) is not None
    path = node_text(target)
    if not plain:
        path = next(n for n in ("target", "targetPath", "file", "filePath") if n not in taken)
        lines.append(f"const {path} = {node_text(target)};")
    semicolon = ";" if node_text(statement).rstrip().endswith(";") else ""
    if not semicolon:
        lines = [line.removesuffix(";") for line in lines]
    random = "${Math.random().toString(36).slice(2)}"
    lines.append(f"const {tmp} = `${{{path}}}.${{process.pid}}.{random}.tmp`{semicolon}")
    unit = _indent_unit(ctx)
    base = patching.indent_of(ctx, syntax.line(statement))
    source = ctx.source.text.encode("utf-8")
    written = (
        source[statement.start_byte : args[0].start_byte].decode("utf-8")
        + tmp
        + source[args[0].end_byte : statement.end_byte].decode("utf-8")
    )
    first, *rest = written.split("\n")  # continuation lines keep their own indentation
    lines += [first, *(_CONTINUED + line for line in rest)]
    # The old file's permissions carry over (an in-place write kept them): a 0600 file
    # stays 0600. No old file yet: the temp file's own (the mode option, or the default).
    if wait:
        keep_mode = f"await {owner}.chmod({tmp}, (await {owner}.stat({path})).mode)"
    else:
        keep_mode = f"{owner}.chmodSync({tmp}, {owner}.statSync({path}).mode)"
    lines.append(f"try {{ {keep_mode}{semicolon} }} catch (_) {{}}")
    lines.append(f"{wait}{rename}({tmp}, {path}){semicolon}")
    body = "".join(
        "\n"
        if not line.strip(_CONTINUED + " \t")
        else f"{unit}{line.removeprefix(_CONTINUED)}\n"
        if line.startswith(_CONTINUED)
        else f"{base}{unit}{line}\n"
        for line in lines
    )
    edit = LineEdit(
        path=ctx.source.path,
        start_line=syntax.line(statement),
        end_line=syntax.end_line(statement),
        text=f"{base}{{\n{body}{base}}}\n",
    )
    return Patch(
        safety=PatchSafety.UNSAFE,
        description=f"write {node_text(target)} atomically: to a temp file in the same "
        f"directory, then {rename.rsplit('.', 1)[-1]}() over it, so a crash or a full disk "
        "mid-write leaves the previous file intact; the old file's permissions are copied "
        "onto the new one. Review: a symlink at the target is replaced by a file, and a "
        "crash can leave a stale .tmp file",
        edits=[edit],
        keeps=[node_text(option) for option in args[2:]],
    )


def _plain_options(option: tree_sitter.Node) -> bool:
    """An encoding string, or an options object of known keys whose flag (if any) is "w"."""
    option = js.unwrap(option)
    if js.js_string(option) is not None:
        return True
    if option.type != "object" or not js.object_keys(option) <= _OPTION_KEYS:
        return False
    for pair in option.named_children:
        key = pair.child_by_field_name("key") if pair.type == "pair" else None
        value = pair.child_by_field_name("value") if pair.type == "pair" else None
        if key is not None and node_text(key).strip("'\"") == "flag":
            if value is None or js.js_string(value) != "w":
                return False
        elif pair.type == "shorthand_property_identifier" and node_text(pair) == "flag":
            return False
    return True


def _maybe_descriptor(target: tree_sitter.Node, call: tree_sitter.Node) -> bool:
    """The write's target may be a file descriptor or a handle, not a path."""
    text = node_text(target)
    if target.type == "number" or re.search(r"(?i)(?:^|[._])(fd|handle)$|Fd$|Handle$", text):
        return True
    if target.type == "identifier":
        function = js.enclosing_function(call)
        for scope in (function, _root(call)):
            value = js.declared_values(scope).get(text) if scope is not None else None
            if value is not None:
                return re.search(r"\bopen(Sync)?\(|new URL\(", node_text(value)) is not None
    return "new URL(" in text


def _promise_fs(root: tree_sitter.Node, owner: str) -> bool:
    """``owner`` names a promise API of Node's fs: ``fs.promises``, an import or require of
    fs/promises or fs-extra, ``import { promises as fsp } from "fs"``."""
    if owner.endswith(".promises"):
        return True
    for statement in syntax.of_type(root, "import_statement"):
        source = statement.child_by_field_name("source")
        module = js.js_string(source) if source is not None else None
        for clause in (c for c in statement.named_children if c.type == "import_clause"):
            if module in _PROMISE_FS:
                bound = {node_text(i) for i in syntax.of_type(clause, "identifier")}
                named = {
                    node_text(s.child_by_field_name("alias") or s)
                    for s in syntax.of_type(clause, "import_specifier")
                }
                if owner in bound - named:
                    return True
            if module in {"fs", "node:fs"}:
                for spec in syntax.of_type(clause, "import_specifier"):
                    name = spec.child_by_field_name("name")
                    alias = spec.child_by_field_name("alias")
                    if (
                        name is not None
                        and node_text(name) == "promises"
                        and node_text(alias or name) == owner
                    ):
                        return True
    for declarator in syntax.of_type(root, "variable_declarator"):
        target = declarator.child_by_field_name("name")
        value = declarator.child_by_field_name("value")
        if target is None or value is None or node_text(target) != owner:
            continue
        text = re.sub(r"\s+", "", node_text(js.unwrap(value)))
        if re.fullmatch(
            r"""require\(["'`](?:(?:node:)?fs/promises|fs-extra)["'`]\)"""
            r"""|require\(["'`](?:node:)?fs["'`]\)\.promises""",
            text,
        ):
            return True
    return False


def _indent_unit(ctx: FileContext) -> str:
    """One level of the file's indentation: a tab, or its smallest run of leading spaces."""
    widths = [len(line) - len(line.lstrip(" ")) for line in ctx.lines if line.strip()]
    tabs = sum(1 for line in ctx.lines if line.startswith("\t"))
    spaced = [w for w in widths if w]
    if tabs > len(spaced):
        return "\t"
    return " " * min(spaced) if spaced and min(spaced) in {2, 4} else "  "


RULE = Rule(meta=META, doc=__doc__ or "", check_repo=check_repo, fix=fix)
