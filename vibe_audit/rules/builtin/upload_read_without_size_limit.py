"""Uploaded file read whole into memory, with no size limit anywhere.

What it finds:
    A FastAPI / Starlette handler parameter annotated ``UploadFile`` (or ``list[UploadFile]``,
    then each file of a ``for`` loop over it) read with ``await file.read()`` or
    ``file.file.read()`` and no size argument, in a function that never looks at the upload's
    size (``file.size``, a Content-Length header, a ``MAX_..._SIZE`` style limit or a
    ``len(...)`` comparison), in a repository that sets no request-body limit of its own.

Why it matters:
    Starlette does not cap the size of an uploaded file: the multipart parser spools it to a
    temporary file (in memory up to 1 MB, then on disk) and ``read()`` with no size returns
    all of it as one ``bytes`` object. One large upload, or a few concurrent ones, takes the
    worker's memory with it (an OOM kill of the whole process, every in-flight request
    lost), where a limit would have answered 413.

Example:
    @app.post("/files")
    async def upload(file: UploadFile):
        data = await file.read()

Use instead:
    MAX_UPLOAD = 50 * 1024 * 1024

    @app.post("/files")
    async def upload(file: UploadFile):
        if file.size is not None and file.size > MAX_UPLOAD:
            raise HTTPException(413, "file too large")
        with open(dest, "wb") as out:                 # or stream it in chunks
            while chunk := await file.read(1024 * 1024):
                out.write(chunk)
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
    id="upload-read-without-size-limit",
    title="File received in a request read whole into memory with no size limit",
    severity=Severity.MEDIUM,
    confidence=Confidence.MEDIUM,
    categories={"reliability": "Load Shedding"},
    checklist=["reliability.4.1"],
    problem=(
        "{function}() reads the received file `{name}` whole with `{call}`, and nothing "
        "checks its size first: Starlette does not limit the size of a file part, so the "
        "request body's size alone decides how much memory this takes."
    ),
    scenario=(
        "A client sends a multi-gigabyte file (by mistake, or several at once): {call} "
        "loads all of it into memory, the worker is OOM-killed, and every request it was "
        "serving fails with it."
    ),
    impact=(
        "Memory exhaustion and process restarts driven by client input, instead of a 413 "
        "answer to the one oversized request."
    ),
    how_to_verify=(
        "POST a file larger than the worker's free memory to the endpoint of {function}() "
        "and watch the process's resident memory (or its OOM kill)."
    ),
    fix=(
        "Reject oversized files before reading: compare `{name}.size` (or the "
        "Content-Length header) with a limit and answer 413, and read in chunks "
        "(`await {name}.read(1024 * 1024)` in a loop) to stream it to disk; or set a body "
        "limit in the reverse proxy (client_max_body_size) and say so in the code."
    ),
    trade_off="A limit rejects legitimate large files: make it configurable.",
    effort_hours=(0.25, 1.0),
)

_LIMIT_WORDS = re.compile(
    r"content[-_]length|max\w*(?:size|bytes|length|upload)|(?:size|bytes|upload)\w*max|"
    r"len\([^)]*\)\s*[<>]|\.size\b",
    re.I,
)
_BODY_LIMIT = re.compile(
    r"max_content_length|client_max_body_size|max_body_size|max_request_body|"
    r"max_upload_size|LimitUploadSize|ContentSizeLimit|body_limit",
    re.I,
)


def check_repo(repo: RepoContext) -> Iterator[Hit]:
    files = [ctx for ctx in repo.in_language("python") if "UploadFile" in ctx.source.text]
    if not files or any(_BODY_LIMIT.search(ctx.source.text) for ctx in repo.in_language("python")):
        return
    for ctx in files:
        yield from _check_file(ctx)


def _check_file(ctx: FileContext) -> Iterator[Hit]:
    for function in syntax.functions(ctx.root):
        single, lists = _upload_parameters(function)
        if not single and not lists:
            continue
        body = function.child_by_field_name("body")
        if body is None or _LIMIT_WORDS.search(node_text(body)):
            continue
        names = set(single)
        for loop in syntax.body_nodes(function, "for_statement"):
            left, right = loop.child_by_field_name("left"), loop.child_by_field_name("right")
            if left is not None and right is not None and node_text(right) in lists:
                names.add(node_text(left))
        for call in syntax.body_nodes(function, "call"):
            name = _whole_read(call, names)
            if name is None:
                continue
            awaited = call.parent is not None and call.parent.type == "await"
            shown = node_text(call.parent) if awaited and call.parent else node_text(call)
            yield node_hit(
                ctx,
                call,
                named_by=function,
                details={
                    "function": syntax.function_name(function),
                    "name": name,
                    "call": shown,
                },
            )
            break


def _upload_parameters(function: tree_sitter.Node) -> tuple[set[str], set[str]]:
    """Parameters typed ``UploadFile`` (or Optional of it), and those typed a list of them."""
    single: set[str] = set()
    lists: set[str] = set()
    parameters = function.child_by_field_name("parameters")
    for param in parameters.named_children if parameters is not None else []:
        annotation = param.child_by_field_name("type")
        name = param.child_by_field_name("name")
        if name is None:
            name = next((c for c in param.named_children if c.type == "identifier"), None)
        if annotation is None or name is None:
            continue
        text = node_text(annotation).replace(" ", "")
        if "UploadFile" not in text:
            continue
        if re.search(r"(?:list|List|Sequence)\[(?:Optional\[)?UploadFile", text):
            lists.add(node_text(name))
        else:
            single.add(node_text(name))
    return single, lists


def _whole_read(call: tree_sitter.Node, names: set[str]) -> str | None:
    """``name.read()`` / ``name.file.read()`` with no size: the upload's name, else None."""
    callee = syntax.callee(call)
    if syntax.last_name(callee) != "read" or syntax.positional_args(call):
        return None
    if syntax.keyword_names(call):
        return None
    receiver = callee.rsplit(".", 1)[0]
    base = receiver.removesuffix(".file")
    return base if base in names else None


RULE = Rule(meta=META, doc=__doc__ or "", check_repo=check_repo)
