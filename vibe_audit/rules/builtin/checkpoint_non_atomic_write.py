"""JSON state written in place, without a temp file and an atomic rename.

What it finds:
    A function that opens a file for writing ("w", "wb", "w+") and dumps JSON into it, or
    calls ``Path.write_text(json.dumps(...))``, with no ``os.replace`` / ``os.rename`` /
    ``Path.replace`` in the same function, where the file is state: the repository reads it
    back (the resource index finds a reader of the same path). A first write under
    ``if not path.exists():`` creates the file and loses nothing. Files written into a fresh
    temporary directory and output files nothing reads back are not state. Exclusive
    creation (mode "x") is not a write in place.

    Severity from evidence: CRITICAL when the state is read back by other code (to resume)
    that cannot recover from a truncated file (no JSONDecodeError handling) and the code
    shows concurrency (threads, async tasks in the writing module, or a server or workers
    importing it); HIGH for such a reader without concurrency; MEDIUM when every reader
    handles a corrupt file (the content is lost, the program recovers), for a file a
    command-line tool (click, typer, argparse) writes once per command, and for a
    read-modify-write in one function.

Why it matters:
    Opening with "w" truncates the file first. A crash, kill or full disk between the
    truncate and the last write leaves an empty or half-written checkpoint, and the previous
    good state is already gone. A concurrent reader can also see the partial file.

Example:
    with open(path, "w") as f:
        json.dump(state, f)

Use instead:
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path) or ".", prefix=".tmp-")
    with os.fdopen(fd, "w") as f:
        json.dump(state, f)
        f.flush()
        os.fsync(f.fileno())
    if os.path.exists(path):
        os.chmod(tmp, stat.S_IMODE(os.stat(path).st_mode))  # keep the file's mode
    os.replace(tmp, path)
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import tree_sitter

from vibe_audit.chunker.parsing import node_text
from vibe_audit.rules import evidence, files, patching, pyflow, syntax
from vibe_audit.rules.base import Hit, Rule, RuleMeta
from vibe_audit.rules.builtin.checkpoint_load_unguarded import unguarded_loads
from vibe_audit.rules.context import FileContext, RepoContext
from vibe_audit.schemas import Confidence, LineEdit, Patch, PatchSafety, Severity
from vibe_audit.schemas.resources import Access, Resource

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
    # The SQLite audit's CRITICAL is "database is locked" under normal load: a torn state
    # file is not that; there it is a race under specific scenarios.
    audit_severity={"sqlite": Severity.MEDIUM},
    checklist=[
        "checkpoint.2A",
        "concurrency.2A",
        "concurrency.checkpoint_checklist.1",
        "sqlite.4A",
        "reliability.9.2",
    ],
    problem=(
        "{function}() writes JSON straight to its target ({call}), and {readers} read it "
        "back. Writing in place truncates the file before the new content is written, so the "
        "old state is lost before the new one is complete."
    ),
    scenario=(
        "The process is killed (deploy, OOM, Ctrl-C, crash) mid-write, or the disk fills: the "
        "file is left empty or truncated. {scenario}"
    ),
    impact=(
        "The next read of the file ({readers}) fails with JSONDecodeError and the previous "
        "state is gone. Certain on any crash during a write, likelier the larger the file."
    ),
    how_to_verify=(
        "Run a loop that saves a large checkpoint and `kill -9` the process mid-way; then load "
        "it: JSONDecodeError or an empty file."
    ),
    fix=(
        "# a temp file in the same directory, then an atomic rename; the file keeps its mode\n"
        'fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path) or ".", prefix=".tmp-")\n'
        "try:\n"
        '    with os.fdopen(fd, "w") as f:\n'
        "        json.dump(data, f)\n"
        "        f.flush()\n"
        "        os.fsync(f.fileno())\n"
        "    if os.path.exists(path):\n"
        "        os.chmod(tmp, stat.S_IMODE(os.stat(path).st_mode))\n"
        "    os.replace(tmp, path)  # atomic on POSIX and Windows\n"
        "except BaseException:\n"
        "    if os.path.exists(tmp):\n"
        "        os.unlink(tmp)\n"
        "    raise"
    ),
    trade_off=(
        "One extra fsync per save (milliseconds); the temp file must be in the same directory "
        "(same filesystem). A new file is created 0600 (mkstemp) instead of by the umask; an "
        "existing file keeps its mode. Owner and hard links are not carried over."
    ),
    effort_hours=(0.5, 1.5),
)

_WRITE_MODES = {"w", "wb", "w+", "wt", "w+b"}


_TEMP_DIRS = frozenset(
    {"tempfile.mkdtemp", "tempfile.TemporaryDirectory", "mkdtemp", "TemporaryDirectory"}
)
_CLI = frozenset({"click", "typer", "argparse", "fire", "docopt"})


def check_repo(repo: RepoContext) -> Iterator[Hit]:
    files: list[Resource] | None = None  # the resource index and the loads: on first need
    fragile: set[tuple[str, str | None]] = set()
    for ctx in repo.in_language("python"):
        reaching: list[str | None] = []  # once per file
        for hit in check_file(ctx):
            if files is None:
                files, fragile = evidence.named_files(repo), unguarded_loads(repo)
            readers = _readers(files, hit)
            if not readers:
                continue  # an output file nothing reads back: regenerated by running again
            unguarded = [r for r in readers if (r.path, r.symbol) in fragile]
            if not reaching:
                reaching.append(evidence.reaching_concurrency(ctx, repo))
            yield _with_severity(ctx, hit, readers, unguarded, reaching[0])


def _readers(files: list[Resource], hit: Hit) -> list[Access]:
    """Readers of the file the hit writes, by the resource index (same path pattern)."""
    readers: list[Access] = []
    for resource in files:
        if any(w.path == hit.path and hit.start_line in w.lines for w in resource.writers):
            readers += [r for r in resource.readers if r not in readers]
    return readers


def _with_severity(
    ctx: FileContext,
    hit: Hit,
    readers: list[Access],
    unguarded: list[Access],
    reaching: str | None,
) -> Hit:
    elsewhere = [r for r in readers if (r.path, r.symbol) != (hit.path, hit.symbol)]
    concurrent = (
        evidence.concurrency(ctx)
        or (f"{hit.details['function']}() is async" if hit.details.get("async") else None)
        or reaching
    )
    where = ", ".join(sorted({f"{r.symbol or r.path}()" for r in elsewhere})[:3])
    resumed = f"the state is read back by {where}" if elsewhere else None
    if ctx.imports & _CLI and not hit.details.get("async"):
        severity = Severity.MEDIUM
        reason = (
            f"MEDIUM: a command-line tool ({', '.join(sorted(ctx.imports & _CLI))}) writes it "
            "once per command; a crash mid-write still loses the previous content."
        )
    elif resumed and not [r for r in unguarded if r in elsewhere]:
        severity = Severity.MEDIUM
        reason = (
            f"MEDIUM: {resumed}, which handles a corrupt file: a crash mid-write loses the "
            "previous content, but the program recovers."
        )
    elif concurrent and resumed:
        severity = Severity.CRITICAL
        fails = ", ".join(sorted({f"{r.symbol or r.path}()" for r in unguarded})[:3])
        reason = (
            f"CRITICAL: {resumed}, {fails} cannot recover from a truncated file "
            f"(no JSONDecodeError handling), and {concurrent}."
        )
    elif resumed:
        severity = Severity.HIGH
        reason = (
            f"HIGH: {resumed}, which cannot recover from a truncated file; the code shows "
            "no concurrency."
        )
    else:
        severity = Severity.MEDIUM
        reason = (
            "MEDIUM: read and rewritten by the same function, with no concurrency seen; a "
            "crash mid-write loses the previous content."
        )
    who = where or f"{hit.details['function']}() itself"
    details = {
        **hit.details,
        "readers": who,
        "scenario": (
            f"The next read by {who} fails to parse it."
            if not concurrent
            else f"A reader running at the same time ({concurrent}) sees a partial file."
        ),
    }
    return replace(hit, severity=severity, severity_reason=reason, details=details)


def check_file(ctx: FileContext) -> Iterator[Hit]:
    for function in syntax.functions(ctx.root):
        nodes = list(syntax.body_nodes(function, "call"))
        names = [syntax.callee(n) for n in nodes]
        if any(syntax.is_rename(n) for n in nodes) or _TEMP_DIRS & set(names):
            continue  # renamed into place, or written into a fresh temporary directory
        dumps_json = any(name in {"json.dump", "json.dumps"} for name in names)
        for call, name in zip(nodes, names, strict=True):
            if (
                _writes_in_place(call, name, dumps_json)
                and not _creates_missing(call)
                and not _scratch_path(call)
            ):
                yield Hit(
                    path=ctx.source.path,
                    start_line=syntax.line(call),
                    end_line=syntax.line(call),
                    symbol=syntax.qualified_name(function),
                    details={
                        "function": syntax.function_name(function),
                        "call": node_text(call),
                        "async": "yes" if syntax.is_async(function) else "",
                    },
                )
                break


def _scratch_path(call: tree_sitter.Node) -> bool:
    """The path written names a temporary location (``temp_dir``, ``tmp_path``)."""
    args = syntax.positional_args(call)
    target = node_text(args[0]) if args and syntax.last_name(syntax.callee(call)) == "open" else ""
    if not target:
        function = call.child_by_field_name("function")
        target = node_text(function) if function is not None else ""
    return bool(files.SCRATCH.search(target))


def _creates_missing(call: tree_sitter.Node) -> bool:
    """The write sits under ``if not <path>.exists():`` (or ``os.path.exists``): it creates a
    file that is not there yet, so no previous content can be lost."""
    node = call.parent
    while node is not None and node.type not in syntax.FUNCTION_TYPES:
        if node.type == "if_statement":
            condition = node.child_by_field_name("condition")
            text = node_text(condition) if condition is not None else ""
            if text.startswith("not ") and any(
                probe in text for probe in ("exists(", "isfile(", "is_file(")
            ):
                return True
        node = node.parent
    return False


def _writes_in_place(call: tree_sitter.Node, name: str, dumps_json: bool) -> bool:
    if syntax.last_name(name) == "open":
        return dumps_json and _mode(call) in _WRITE_MODES and _receives_json(call)
    if syntax.last_name(name) in {"write_text", "write_bytes"}:
        args = syntax.positional_args(call)
        return bool(args) and "json.dumps" in node_text(args[0])
    return False


def _receives_json(call: tree_sitter.Node) -> bool:
    """The opened file itself gets the JSON: ``json.dump(x, f)`` or ``f.write(json.dumps(x))``
    on the handle ``open`` is bound to (a PNG written next to a JSON dump is not state)."""
    handle = pyflow.bound_name(call)
    function = syntax.enclosing(call, "function_definition")
    if handle is None or function is None:
        return False
    scope = syntax.enclosing(call, "with_statement") if pyflow.in_with_item(call) else None
    body = scope.child_by_field_name("body") if scope is not None else None
    calls = (
        syntax.of_type(body, "call", stop_at=syntax.FUNCTION_TYPES)
        if body is not None
        else syntax.body_nodes(function, "call")
    )
    for other in calls:
        name = syntax.callee(other)
        args = syntax.positional_args(other)
        if name == "json.dump" and len(args) > 1 and node_text(args[1]) == handle:
            return True
        if name == f"{handle}.write" and args and "json.dumps" in node_text(args[0]):
            return True
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


HELPER = "_atomic_write"
_HELPER_TEXT = f'''@contextlib.contextmanager
def {HELPER}(path, mode="w", **kwargs):
    """Open a temporary file in the same directory as ``path`` for writing; when the block
    ends, flush, fsync and os.replace it onto ``path`` (an existing file keeps its mode). A
    crash or error mid-write leaves the old file whole and removes the temporary one."""
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(os.path.abspath(path)), prefix=".tmp-")
    try:
        with os.fdopen(fd, mode, **kwargs) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        if os.path.exists(path):
            os.chmod(tmp, stat.S_IMODE(os.stat(path).st_mode))
        os.replace(tmp, path)  # atomic on POSIX and Windows
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
'''
_HELPER_IMPORTS = ["contextlib", "os", "stat", "tempfile"]
_OPEN_KEYWORDS = frozenset({"mode", "encoding", "errors", "newline", "buffering"})
_TEXT_KEYWORDS = frozenset({"encoding", "errors", "newline"})


def fix(ctx: FileContext, hit: Hit) -> Patch | None:
    """Unsafe (needs review): the in-place write goes through ``_atomic_write``, a helper the
    patch adds to the file: a temp file in the same directory, flush + fsync, os.replace,
    the target's mode kept; the same mode, encoding and newline as before.
    ``with open(p, "w") as f:`` becomes ``with _atomic_write(p, "w") as f:``;
    ``p.write_text(json.dumps(x))`` becomes a ``with _atomic_write(p, "w") as f:`` block.
    Every patch carries the helper and the imports it needs unless an earlier run added
    them (``_helper_edit``)."""
    if HELPER in ctx.source.text and _HELPER_TEXT not in ctx.source.text:
        return None  # a helper of that name that is not this one
    site = _atomic_site(ctx, hit.start_line)
    if site is None:
        return None
    edit, keeps, what = site
    edits = [*patching.python_import_edits(ctx, _HELPER_IMPORTS), edit]
    if _HELPER_TEXT not in ctx.source.text:  # not yet added by an earlier run
        helper = _helper_edit(ctx)
        if helper is None:
            return None
        edits.insert(-1, helper)
        what += " (the helper is added to the file)"
    return Patch(
        safety=PatchSafety.UNSAFE,
        description=f"write through a temp file in the same directory, fsync, then os.replace "
        f"onto the target: {what}. A new file is created 0600; an existing one keeps its mode "
        "(not its owner)",
        edits=edits,
        keeps=keeps,
    )


def _atomic_site(ctx: FileContext, line: int) -> tuple[LineEdit, list[str], str] | None:
    """The edit making the in-place write on ``line`` go through the helper, what it must
    keep (mode, encoding=, newline=), and what it does."""
    calls = [
        c
        for c in syntax.of_type(ctx.root, "call")
        if syntax.line(c) == line
        and syntax.last_name(syntax.callee(c)) in {"open", "write_text", "write_bytes"}
    ]
    if len(calls) != 1:
        return None
    call = calls[0]
    name = syntax.callee(call)
    arguments = call.child_by_field_name("arguments")
    function = call.child_by_field_name("function")
    if arguments is None or function is None:
        return None
    kinds = {a.type for a in arguments.named_children}
    if kinds & {"list_splat", "dictionary_splat"}:
        return None
    keywords = {
        node_text(key): node_text(arg)
        for arg in arguments.named_children
        if arg.type == "keyword_argument" and (key := arg.child_by_field_name("name"))
    }
    if name == "open":
        mode = _mode(call)
        positional = syntax.positional_args(call)
        if (
            mode not in _WRITE_MODES
            or not set(keywords) <= _OPEN_KEYWORDS
            or len(positional) > 2
            or not pyflow.in_with_item(call)
            or pyflow.bound_name(call) is None
        ):
            return None
        edit = patching.replace_node(ctx, function, HELPER)
        keeps = [*(node_text(a) for a in positional[1:]), *keywords.values()]
        return edit, keeps, f"{node_text(call)} becomes {HELPER}(...)"
    if syntax.last_name(name) == "open":
        return _path_open_site(ctx, call, keywords)
    return _write_text_site(ctx, call, keywords)


def _path_open_site(
    ctx: FileContext, call: tree_sitter.Node, keywords: dict[str, str]
) -> tuple[LineEdit, list[str], str] | None:
    """``with p.open("w") as f:`` (pathlib: the mode comes first) becomes
    ``with _atomic_write(p, "w") as f:``."""
    function = call.child_by_field_name("function")
    receiver = function.child_by_field_name("object") if function is not None else None
    arguments = call.child_by_field_name("arguments")
    positional = syntax.positional_args(call)
    mode = syntax.string_value(positional[0]) if positional else None
    if mode is None and not positional:
        value = syntax.keyword_value(call, "mode")
        mode = syntax.string_value(value) if value is not None else None
    if (
        receiver is None
        or arguments is None
        or mode not in _WRITE_MODES
        or len(positional) > 1
        or not set(keywords) <= _OPEN_KEYWORDS
        or not pyflow.in_with_item(call)
        or pyflow.bound_name(call) is None
    ):
        return None
    inner = node_text(arguments)[1:-1]
    edit = patching.replace_node(ctx, call, f"{HELPER}({node_text(receiver)}, {inner.lstrip()})")
    keeps = [*(node_text(a) for a in positional), *keywords.values()]
    return edit, keeps, f"{syntax.callee(call)}(...) becomes {HELPER}({node_text(receiver)}, ...)"


def _write_text_site(
    ctx: FileContext, call: tree_sitter.Node, keywords: dict[str, str]
) -> tuple[LineEdit, list[str], str] | None:
    """``p.write_text(json.dumps(x))`` as a statement: a with block writing the same text."""
    function = call.child_by_field_name("function")
    receiver = function.child_by_field_name("object") if function is not None else None
    statement = call.parent
    positional = syntax.positional_args(call)
    if (
        receiver is None
        or statement is None
        or statement.type != "expression_statement"
        or statement.named_child_count != 1
        or not patching.whole_lines(ctx, statement)
        or len(positional) != 1
        or not set(keywords) <= _TEXT_KEYWORDS
    ):
        return None
    scope = pyflow.enclosing_function(call)
    if scope is None or any(node_text(n) == "f" for n in syntax.of_type(scope, "identifier")):
        return None
    binary = syntax.last_name(syntax.callee(call)) == "write_bytes"
    if binary and keywords:
        return None
    options = "".join(f", {value}" for value in keywords.values())
    mode = '"wb"' if binary else '"w"'
    indent = patching.indent_of(ctx, syntax.line(statement))
    text = (
        f"with {HELPER}({node_text(receiver)}, {mode}{options}) as f:\n"
        f"{indent}    f.write({node_text(positional[0])})"
    )
    edit = patching.replace_node(ctx, statement, text)
    return edit, list(keywords.values()), f"{syntax.callee(call)}(...) becomes a {HELPER} block"


def _helper_edit(ctx: FileContext) -> LineEdit | None:
    """The helper, before the file's first top-level definition (and the comments right
    above it: nothing at module level can call it before it is defined). It replaces the
    blank lines above that definition, with blank lines around it again: a line diff
    cannot then place it outside the edit among identical blank lines. The same edit for
    every patch of the file, so two of them overlap: ``vibe-audit fix`` applies one per
    file and run, and the next run reuses the helper."""
    definitions = {"function_definition", "class_definition", "decorated_definition"}
    first = next((c for c in ctx.root.named_children if c.type in definitions), None)
    if first is None:
        return None
    top = syntax.line(first)
    while top > 1 and ctx.lines[top - 2].lstrip().startswith("#"):
        top -= 1
    blank = top
    while blank > 1 and not ctx.lines[blank - 2].strip():
        blank -= 1
    lead = "\n\n" if blank > 1 else ""
    return LineEdit(
        path=ctx.source.path,
        start_line=blank,
        end_line=top - 1,
        text=f"{lead}{_HELPER_TEXT}\n\n",
    )


RULE = Rule(meta=META, doc=__doc__ or "", check_repo=check_repo, fix=fix)
