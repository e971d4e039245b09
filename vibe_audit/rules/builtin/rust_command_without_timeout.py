"""Child process waited on in async code with no timeout (std / tokio ``Command``).

What it finds:
    In an ``async fn`` or ``async`` block (not ``main``, not test code): a
    ``std::process::Command`` or ``tokio::process::Command`` whose completion is waited for
    (``.output()``, ``.status()``, or ``.wait()`` / ``.wait_with_output()`` on the child it
    ``.spawn()``-ed), in a function that sets no timeout (no ``tokio::time::timeout``, no
    ``wait_timeout``, no ``.timeout(..)``). ``--version`` / ``--help`` probes are not
    reported (a local program printing a line and exiting), nor runs bounded by their own
    arguments (a recording of ``-t <seconds>``, sox ``trim``). Experimental: measured on
    too few real crates to pass the precision gate (see the report).

Why it matters:
    A child process can hang: a converter stuck on a corrupt file, ``git`` waiting on a
    credential prompt or a stalled network, a tool waiting on a lock. Without a timeout the
    task waits forever and the child is never killed. With ``std::process::Command`` it is
    worse: ``output()`` blocks the async runtime's worker thread itself, so every other task
    scheduled on that thread stalls too.

Example:
    async fn thumbnail(path: &Path) -> anyhow::Result<Vec<u8>> {
        let out = std::process::Command::new("ffmpeg").args(["-i"]).arg(path).output()?;
        Ok(out.stdout)
    }

Use instead:
    async fn thumbnail(path: &Path) -> anyhow::Result<Vec<u8>> {
        let child = tokio::process::Command::new("ffmpeg")
            .args(["-i"]).arg(path)
            .kill_on_drop(true)          // the timeout drops the child: kill it
            .output();
        let out = tokio::time::timeout(Duration::from_secs(60), child).await??;
        Ok(out.stdout)
    }
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import tree_sitter

from vibe_audit.chunker.parsing import node_text
from vibe_audit.rules import rust, syntax
from vibe_audit.rules.base import Hit, Rule, RuleMeta, node_hit
from vibe_audit.rules.context import FileContext
from vibe_audit.schemas import Confidence, Severity

META = RuleMeta(
    id="rust-command-without-timeout",
    title="Child process waited on in async code without a timeout",
    severity=Severity.MEDIUM,
    confidence=Confidence.MEDIUM,
    categories={"reliability": "Timeout"},
    checklist=["reliability.1.3", "reliability.8.2"],
    problem=(
        "{function}() waits for `{program}` with `{wait}` and no timeout: if the command "
        "hangs, this task waits forever and the child is never killed{blocking}."
    ),
    scenario=(
        "`{program}` stalls (a corrupt input, a credential prompt, a stalled network, a "
        "lock held elsewhere) while {function}() runs: the task never completes{stall}."
    ),
    impact=(
        "Each hung child pins a task (and its memory, open files and any lock or connection "
        "it holds); requests or jobs behind it time out with nothing in the logs."
    ),
    how_to_verify=(
        "Make `{program}` hang (point it at `sleep 100000` through PATH, or feed it an input "
        "that stalls) and call {function}(): it never returns."
    ),
    fix=(
        "Use tokio::process::Command with `.kill_on_drop(true)` and wrap the wait in "
        "`tokio::time::timeout(Duration::from_secs(60), ...)`, handling the Elapsed error "
        "(log the input that timed out)."
    ),
    trade_off=(
        "Too short a timeout kills slow but healthy runs (large inputs); make it "
        "configurable per command."
    ),
    effort_hours=(0.25, 0.5),
    languages=["rust"],
    experimental=True,
)

_WAITS = frozenset({"output", "status"})
_CHILD_WAITS = frozenset({"wait", "wait_with_output"})
_TIMEOUT = re.compile(r"timeout", re.I)
_PROBE = re.compile(r"""["']--?(version|help|V)["']""")
# A run bounded by its own arguments: a recording of `-t <seconds>` (ffmpeg), `trim 0 <s>`
# (sox), `-d <s>` (arecord).
_BOUNDED = re.compile(r"""["'](-t|trim|-d|--duration)["']""")


def _command_kind(call: tree_sitter.Node, uses: dict[str, str], text: str) -> str:
    """'std' / 'tokio' for a ``Command::new(..)`` call of std::process or tokio::process,
    else ''."""
    path = rust.call_path(call, uses)
    if not path.endswith("Command::new"):
        return ""
    if "tokio::process" in path:
        return "tokio"
    if "std::process" in path:
        return "std"
    if path == "Command::new" and re.search(r"\bprocess::Command\b", text):
        return "tokio" if "tokio::process::Command" in text else "std"
    return ""


def _async_scope(node: tree_sitter.Node) -> bool:
    """``node`` runs in an async fn or async block (not in a closure or blocking task
    nested in it, nor in ``main``)."""
    current = node.parent
    while current is not None:
        if current.type == "async_block":
            return True
        if current.type == "closure_expression":
            return False  # spawn_blocking(|| ...), iterator closures: not the async task
        if current.type == "function_item":
            return rust.is_async_fn(current) and rust.rust_function_name(current) != "main"
        current = current.parent
    return False


def _spawned_waits(function: tree_sitter.Node, last: tree_sitter.Node) -> tree_sitter.Node | None:
    """``child.wait()`` / ``child.wait_with_output()`` in ``function`` on the child bound
    by ``let [mut] child = <...spawn()>;``."""
    parent = last.parent
    while parent is not None and parent.type in {"try_expression", "await_expression"}:
        parent = parent.parent
    if parent is None or parent.type != "let_declaration":
        return None
    pattern = parent.child_by_field_name("pattern")
    if pattern is None:
        return None
    name = node_text(pattern).removeprefix("mut ").strip()
    for call in rust.rust_method_calls(function, *_CHILD_WAITS):
        target = rust.receiver(call)
        if target is not None and node_text(target) == name:
            return call
    return None


def check_file(ctx: FileContext) -> Iterator[Hit]:
    text = ctx.source.text
    if "Command" not in text or "async" not in text or syntax.is_test_path(ctx.source.path):
        return
    uses = rust.use_paths(ctx.root)
    for call in syntax.of_type(ctx.root, "call_expression"):
        kind = _command_kind(call, uses, text)
        if not kind or not _async_scope(call) or rust.is_rust_test(call, ctx.source.path):
            continue
        function = rust.enclosing_function(call)
        if function is None or _TIMEOUT.search(node_text(function)):
            continue
        methods, last = rust.chain_methods(call)
        if _PROBE.search(node_text(last)) or _BOUNDED.search(node_text(last)):
            continue
        wait: tree_sitter.Node | None = None
        waited = methods[-1] if methods else ""
        if waited in _WAITS:
            wait = last
        elif waited == "spawn":
            wait = _spawned_waits(function, last)
            waited = rust.method_name(wait) if wait is not None else ""
        if wait is None:
            continue
        args = rust.call_arguments(call)
        program = node_text(args[0]) if args else "the command"
        blocking = kind == "std"
        yield node_hit(
            ctx,
            call,
            until=wait,
            details={
                "function": rust.rust_function_name(function),
                "program": program.strip('"'),
                "wait": f".{waited}()",
                "blocking": (
                    ", and std::process blocks the async runtime's worker thread meanwhile"
                    if blocking
                    else ""
                ),
                "stall": (
                    " and every other task scheduled on the same runtime thread stalls with it"
                    if blocking
                    else ""
                ),
            },
        )


RULE = Rule(meta=META, doc=__doc__ or "", check_file=check_file)
