"""Request body or upload parser configured with no size limit.

What it finds:
    In non-test JS/TS code: Express / body-parser parsers (``express.json``,
    ``express.urlencoded``, ``express.raw``, ``express.text``, ``bodyParser.*``) given
    ``limit: Infinity`` (or ``Number.MAX_SAFE_INTEGER`` / ``MAX_VALUE``, or a size of 1 GB
    or more); ``multer(...)`` created without ``limits`` (or with ``limits`` that set no
    ``fileSize``); and busboy parsers (``busboy({ headers })``, ``new Busboy(...)``) created
    without ``limits``. Express's own parsers are not flagged when left at their default
    limit (100 kB).

Why it matters:
    multer and busboy accept files of any size unless ``limits.fileSize`` is set: one
    oversized upload (or a few concurrent ones) fills the disk or, with memory storage, the
    process's heap, and the worker is OOM-killed with every request it was serving. A body
    parser with an unbounded limit buffers a whole JSON or raw body in memory before the
    handler sees it.

Example:
    const upload = multer({ storage: multer.memoryStorage() });
    app.post("/files", upload.single("file"), handler);

Use instead:
    const upload = multer({
      storage: multer.memoryStorage(),
      limits: { fileSize: 50 * 1024 * 1024, files: 1 },  // answered with a 413 / MulterError
    });
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import tree_sitter

from vibe_audit.chunker.parsing import node_text
from vibe_audit.rules import js, syntax
from vibe_audit.rules.base import Hit, Rule, RuleMeta, node_hit
from vibe_audit.rules.context import FileContext
from vibe_audit.schemas import Confidence, Severity

META = RuleMeta(
    id="js-request-body-without-size-limit",
    title="Request body or upload parsed with no size limit",
    severity=Severity.MEDIUM,
    confidence=Confidence.MEDIUM,
    categories={"reliability": "Load Shedding"},
    checklist=["reliability.4.1"],
    problem=(
        "`{call}` {why}: the size of what a client sends alone decides how much memory or "
        "disk each request takes."
    ),
    scenario=(
        "A client uploads a multi-gigabyte file (by mistake, or several at once): the "
        "parser accepts all of it, memory or disk fills, and the process is killed or "
        "starts failing every other request."
    ),
    impact=(
        "Memory or disk exhaustion driven by client input and process restarts, instead "
        "of a 413 answer to the one oversized request."
    ),
    how_to_verify=(
        "POST a body or file larger than the server's free memory/disk to a route using "
        "this parser and watch the process's memory (or disk) grow until it fails."
    ),
    fix=(
        "Set a limit sized to the largest legitimate request: `limits.fileSize` "
        "for multer and busboy, `limit: '10mb'` for body parsers; handle the limit error "
        "with a 413 answer."
    ),
    trade_off="A limit rejects legitimate large files: make it configurable.",
    effort_hours=(0.1, 0.5),
    languages=js.JS_LANGUAGES,
    experimental=True,  # multer / busboy defaults taken from their docs, not measured here
)

_PARSERS = re.compile(r"^(?:express|bodyParser|bodyparser)\.(?:json|urlencoded|raw|text)$")
_UNBOUNDED = re.compile(
    r"^(?:Infinity|Number\.MAX_SAFE_INTEGER|Number\.MAX_VALUE|Number\.POSITIVE_INFINITY)$"
)
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(b|kb|mb|gb|tb)?\s*$", re.I)
_UNITS = {"b": 1, "kb": 1 << 10, "mb": 1 << 20, "gb": 1 << 30, "tb": 1 << 40}
_UPLOADERS = frozenset({"multer", "busboy"})


def check_file(ctx: FileContext) -> Iterator[Hit]:
    text = ctx.source.text
    if syntax.is_test_path(ctx.source.path) or not re.search(r"limit|multer|[Bb]usboy", text):
        return
    uploaders = _uploader_names(ctx.root)
    for call in syntax.of_type(ctx.root, "call_expression", "new_expression"):
        callee = js.js_callee(call) if call.type == "call_expression" else _constructor(call)
        args = js.js_arguments(call)
        options = js.unwrap(args[0]) if args else None
        if _PARSERS.match(callee):
            limit = _option(options, "limit")
            if limit is not None and _unbounded(limit):
                yield node_hit(ctx, call, details={
                    "call": _short(call), "why": f"sets `limit: {node_text(limit)}`"})  # fmt: skip
        elif callee in uploaders:
            module = uploaders[callee]
            if options is not None and options.type != "object":
                continue  # options built elsewhere: cannot see them
            limits = _option(options, "limits")
            if limits is None:
                why = (
                    f"creates a {module} parser without `limits`, and {module} sets no "
                    "file-size limit by default"
                )
            elif (
                module == "multer"
                and js.unwrap(limits).type == "object"
                and not ({"fileSize", "..."} & js.object_keys(js.unwrap(limits)))
            ):
                why = (
                    "sets `limits` without `fileSize`, and multer's default file size is unlimited"
                )
            else:
                continue
            yield node_hit(ctx, call, details={"call": _short(call), "why": why})


def _uploader_names(root: tree_sitter.Node) -> dict[str, str]:
    """{local name: module} for default / namespace imports and requires of multer, busboy."""
    names = {
        b.local: b.module
        for b in js.import_bindings(root)
        if b.module in _UPLOADERS and b.kind != "named"
    }
    for declarator in syntax.of_type(root, "variable_declarator"):
        name, value = (
            declarator.child_by_field_name("name"),
            declarator.child_by_field_name("value"),
        )
        if name is None or value is None or name.type != "identifier":
            continue
        match = re.match(
            r"""require\(\s*["'](multer|busboy)["']\s*\)$""", node_text(js.unwrap(value))
        )
        if match:
            names[node_text(name)] = match.group(1)
    return names


def _constructor(new: tree_sitter.Node) -> str:
    constructor = new.child_by_field_name("constructor")
    return node_text(constructor) if constructor is not None else ""


def _option(options: tree_sitter.Node | None, key: str) -> tree_sitter.Node | None:
    if options is None or options.type != "object":
        return None
    for pair in options.named_children:
        if pair.type == "pair":
            name = pair.child_by_field_name("key")
            if name is not None and node_text(name).strip("'\"") == key:
                return pair.child_by_field_name("value")
        elif pair.type == "shorthand_property_identifier" and node_text(pair) == key:
            return pair
    return None


def _unbounded(value: tree_sitter.Node) -> bool:
    text = node_text(js.unwrap(value))
    if _UNBOUNDED.match(text):
        return True
    literal = js.js_string(value)
    match = _SIZE.match(literal) if literal is not None else None
    if match is None:
        return False
    size = float(match.group(1)) * _UNITS[(match.group(2) or "b").lower()]
    return size >= 1 << 30


def _short(call: tree_sitter.Node) -> str:
    text = " ".join(node_text(call).split())
    return text if len(text) <= 70 else text[:67] + "..."


RULE = Rule(meta=META, doc=__doc__ or "", check_file=check_file)
