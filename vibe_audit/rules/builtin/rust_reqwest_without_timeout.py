"""reqwest async client with no timeout: a stalled server holds the call forever.

What it finds:
    In non-test Rust code, an async reqwest request that no timeout covers:
    ``reqwest::get(url)`` (it builds a default client, and nothing can give it a timeout),
    unless it is wrapped in ``tokio::time::timeout(...)``; and ``reqwest::Client::new()`` or
    a ``Client::builder()...build()`` chain without ``.timeout(...)`` in a file that sets no
    per-request ``.timeout(...)`` and wraps nothing in ``timeout(...)``. The blocking client
    (``reqwest::blocking``) is not reported: its builder defaults to a 30 s timeout.

Why it matters:
    reqwest's async ``ClientBuilder`` has no default timeout at all (``timeout: None``,
    ``connect_timeout: None``): a server that accepts the connection and then stops
    answering, or trickles the body, keeps the future pending forever. The task awaiting it
    (a request handler, a worker holding a job) never finishes, and enough of them exhaust
    the service. ``connect_timeout`` alone bounds only the connect phase.

Example:
    let body = reqwest::get(&url).await?.bytes().await?;

    let http = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(5))
        .build()?;

Use instead:
    let http = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(30))
        .build()?;
    let body = http.get(&url).send().await?.bytes().await?;
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import tree_sitter

from vibe_audit.chunker.parsing import node_text
from vibe_audit.rules import patching, rust, syntax
from vibe_audit.rules.base import Hit, Rule, RuleMeta, node_hit
from vibe_audit.rules.context import FileContext, RepoContext
from vibe_audit.schemas import Confidence, LineEdit, Patch, PatchSafety, Severity

META = RuleMeta(
    id="rust-reqwest-without-timeout",
    title="reqwest request without a timeout",
    severity=Severity.HIGH,
    confidence=Confidence.HIGH,
    categories={"reliability": "Timeout"},
    checklist=["reliability.1.1", "reliability.8.1"],
    problem=(
        "{function}() makes HTTP requests through `{call}`, which has no timeout: reqwest's "
        "async client waits forever by default, so a server that stops answering holds "
        "this call indefinitely."
    ),
    scenario=(
        "The remote server accepts the connection but stalls (overload, a half-open "
        "connection, a slow body): the future awaiting the response never completes and "
        "the task running {function}() hangs with it."
    ),
    impact=(
        "Each stuck call pins a task and its resources (a request slot, a worker, a "
        "connection); enough of them stall the service until it is restarted."
    ),
    how_to_verify=(
        "Point the URL at a listener that accepts and never answers (`nc -l 9999`) and run "
        "{function}(): the call never returns."
    ),
    fix=(
        "Build one client with a total timeout and reuse it:\n"
        "    let http = reqwest::Client::builder()\n"
        "        .connect_timeout(Duration::from_secs(5))\n"
        "        .timeout(Duration::from_secs(30))\n"
        "        .build()?;\n"
        "or set `.timeout(...)` on each request, or wrap the call in "
        "`tokio::time::timeout(...)`."
    ),
    trade_off=(
        "A total timeout also bounds large downloads: size it for the slowest healthy "
        "response, or use a longer per-request timeout for those."
    ),
    effort_hours=(0.25, 0.5),
    languages=["rust"],
)

_CLIENTS = frozenset(
    {"reqwest::Client::new", "reqwest::Client::builder", "reqwest::ClientBuilder::new"}
)
_TIMEOUT_METHODS = frozenset({"timeout", "read_timeout"})
# Crates that make the code a long-running server: a stuck call there is an outage.
_SERVERS = ("axum", "actix_web", "warp", "rocket", "poem", "tonic", "tide", "salvo")


def check_file(ctx: FileContext) -> Iterator[Hit]:
    text = ctx.source.text
    if "reqwest" not in text or syntax.is_test_path(ctx.source.path):
        return
    uses = rust.use_paths(ctx.root)
    calls = list(syntax.of_type(ctx.root, "call_expression"))
    # A per-request .timeout(...) or a timeout(...) wrapper anywhere in the file: the
    # clients it makes may be bounded where they are used.
    bounded_file = any(
        rust.method_name(call) in _TIMEOUT_METHODS
        or rust.call_path(call, uses).rsplit("::", 1)[-1] == "timeout"
        for call in calls
    )
    for call in calls:
        path = rust.call_path(call, uses)
        if path == "reqwest::get":
            if _inside_timeout(call, uses):
                continue
        elif path in _CLIENTS:
            methods, _ = rust.chain_methods(call)
            if bounded_file or _TIMEOUT_METHODS & set(methods):
                continue
            if path != "reqwest::Client::new" and "build" not in methods:
                continue  # a builder kept in a variable and configured elsewhere
        else:
            continue
        function = rust.enclosing_function(call)
        if function is None or rust.is_rust_test(call, ctx.source.path):
            continue
        yield node_hit(
            ctx,
            call,
            details={
                "function": rust.rust_function_name(function),
                "call": node_text(call).split("\n")[0],
            },
        )


def _inside_timeout(call: tree_sitter.Node, uses: dict[str, str]) -> bool:
    """The call is an argument of a ``timeout(...)`` call (``tokio::time::timeout``)."""
    current = call.parent
    while current is not None and current.type != "function_item":
        if current.type == "call_expression" and (
            rust.call_path(current, uses).rsplit("::", 1)[-1] == "timeout"
        ):
            return True
        current = current.parent
    return False


def check_repo(repo: RepoContext) -> Iterator[Hit]:
    rust_files = repo.in_language("rust")
    server = next(
        (
            (ctx.source.path, crate)
            for ctx in rust_files
            for crate in _SERVERS
            if crate in ctx.imports or f"{crate}::" in ctx.source.text
        ),
        None,
    )
    for ctx in rust_files:
        for hit in check_file(ctx):
            if server is not None:
                yield replace(
                    hit,
                    severity=Severity.HIGH,
                    severity_reason=(
                        f"HIGH: the code runs a server ({server[1]}, {server[0]}): a stuck "
                        "call holds a request or worker until restart."
                    ),
                )
            else:
                yield replace(
                    hit,
                    severity=Severity.MEDIUM,
                    severity_reason=(
                        "MEDIUM: no server framework is seen in the code, so a stuck call "
                        "hangs one run or task rather than a service."
                    ),
                )


_STD_DURATION = frozenset({"std::time::Duration", "core::time::Duration", "tokio::time::Duration"})


def fix(ctx: FileContext, hit: Hit) -> Patch | None:
    """Safe: a 30 s total timeout on the client.

    - a ``Client::builder()...build()`` chain gets ``.timeout(..)`` (before ``.build()``
      when that starts its own line, else right after ``builder()``);
    - ``Client::new()`` becomes ``Client::builder().timeout(..).build().expect(..)``, which
      is what ``Client::new()`` itself does (``ClientBuilder::new().build().expect(..)``):
      it fails, and panics, exactly when ``Client::new()`` would.
    - ``reqwest::get(url)``, awaited where it is called, becomes ``async {
      reqwest::Client::builder().timeout(..).build()?.get(url).send().await }``: reqwest's
      own body of ``get`` plus the timeout, with the same output type and errors."""
    uses = rust.use_paths(ctx.root)
    call = next(
        (
            c
            for c in syntax.of_type(ctx.root, "call_expression")
            if syntax.line(c) == hit.start_line
            and rust.call_path(c, uses) in _CLIENTS | {"reqwest::get"}
        ),
        None,
    )
    function = call.child_by_field_name("function") if call is not None else None
    if call is None or function is None:
        return None
    duration = (
        "Duration::from_secs(30)"
        if uses.get("Duration") in _STD_DURATION
        else "std::time::Duration::from_secs(30)"
    )
    path = rust.call_path(call, uses)
    if path == "reqwest::get":
        arguments = call.child_by_field_name("arguments")
        parent = call.parent
        if arguments is None or parent is None or parent.type != "await_expression":
            return None  # a future kept or returned: the block's borrows could outlive it
        edit = patching.replace_node(
            ctx,
            call,
            f"async {{ reqwest::Client::builder().timeout({duration}).build()?"
            f".get{node_text(arguments)}.send().await }}",
        )
        what = f"{node_text(function)}()'s request (sent through a client built with it)"
    elif path == "reqwest::Client::new":
        if function.type != "scoped_identifier":
            return None
        if rust.call_arguments(call):
            return None
        client = node_text(function).rsplit("::", 1)[0]
        edit = patching.replace_node(
            ctx,
            call,
            f'{client}::builder().timeout({duration}).build().expect("Client::new()")',
        )
        what = f"{client}::new()"
    else:
        found = _before_build(ctx, call, f".timeout({duration})")
        if found is None:
            return None
        edit, what = found, f"the {node_text(function)}() chain"
    return Patch(
        safety=PatchSafety.SAFE,
        description=f"in {hit.details.get('function')}(), a 30 s total timeout on {what}: a "
        "stalled server now fails the request instead of holding it forever",
        edits=[edit],
    )


def _before_build(ctx: FileContext, call: tree_sitter.Node, timeout: str) -> LineEdit | None:
    """``timeout`` inserted into the builder chain that starts at ``call``: on a line of its
    own before a ``.build()`` that starts its line, else right after ``call``."""
    current = call
    while True:
        parent = current.parent
        if parent is None or parent.type != "field_expression":
            return None
        outer = parent.parent
        if outer is None or outer.type != "call_expression":
            return None
        if rust.method_name(outer) == "build":
            field = parent.child_by_field_name("field")
            break
        current = outer
    if field is None:
        return None
    row = field.start_point[0]
    before = ctx.lines[row].encode("utf-8")[: field.start_point[1]].decode("utf-8", "ignore")
    if before.strip() == ".":
        indent = before[: len(before) - len(before.lstrip())]
        return LineEdit(
            path=ctx.source.path, start_line=row + 1, end_line=row, text=f"{indent}{timeout}\n"
        )
    return patching.replace_node(ctx, call, node_text(call) + timeout)


RULE = Rule(meta=META, doc=__doc__ or "", check_repo=check_repo, fix=fix)
