"""Polling loop that retries at once when its operation fails.

What it finds:
    A non-test Rust ``loop`` / ``while`` whose body matches on the result of a call, where
    one arm waits before polling again (``tokio::time::sleep``, ``std::thread::sleep``,
    ``interval.tick()``) but the ``Err(..)`` arm goes straight to the next iteration
    (``continue``, or the end of the loop) without waiting, returning or breaking.

Why it matters:
    The author made the idle path wait, but the failure path spins: when the database is
    down, the pool is exhausted or the queue service is unreachable, every worker retries
    immediately, thousands of times a second, flooding the logs and hammering the
    dependency exactly while it is trying to recover.

Example:
    loop {
        let job = match queue.claim_next().await {
            Ok(Some(job)) => job,
            Ok(None) => { tokio::time::sleep(poll).await; continue; }
            Err(e) => { tracing::warn!(error = %e, "claim failed"); continue; }
        };
        process(job).await;
    }

Use instead:
    let mut backoff = Duration::from_millis(200);
    loop {
        let job = match queue.claim_next().await {
            Ok(Some(job)) => { backoff = Duration::from_millis(200); job }
            Ok(None) => { tokio::time::sleep(poll).await; continue; }
            Err(e) => {
                tracing::warn!(error = %e, "claim failed");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(30));
                continue;
            }
        };
        process(job).await;
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
    id="rust-poll-error-without-delay",
    title="Polling loop retries immediately on error (no delay or backoff)",
    severity=Severity.MEDIUM,
    confidence=Confidence.HIGH,
    categories={"reliability": "Error Handling"},
    checklist=["reliability.2.2", "reliability.2.3"],
    problem=(
        "The loop in {function}() waits before polling again when {operation} finds "
        "nothing, but when it fails the Err arm (line {line}) loops again at once, with no "
        "delay or backoff."
    ),
    scenario=(
        "The dependency behind {operation} goes down (database restart, pool exhausted, "
        "network partition): the loop fails and retries in a tight loop, as fast as the "
        "error comes back, in every task running {function}()."
    ),
    impact=(
        "CPU burn and log floods while the dependency is down, and a burst of load on it "
        "exactly while it recovers."
    ),
    how_to_verify=(
        "Stop the dependency {operation} talks to and watch the logs of {function}(): the "
        "error line repeats thousands of times a second."
    ),
    fix=(
        "Wait in the Err arm too, with exponential backoff and a cap (e.g. 200 ms doubling "
        "to 30 s, reset after a success): `tokio::time::sleep(backoff).await;` before "
        "`continue`."
    ),
    trade_off=(
        "Recovery is detected up to one backoff interval later; cap the backoff so work "
        "resumes promptly."
    ),
    effort_hours=(0.25, 0.5),
    languages=["rust"],
    # No instance seen yet in real code (benchmarks/realworld.py packages, public code
    # searched for it): off by default until one is measured.
    experimental=True,
)

_SLEEP = re.compile(r"\bsleep\s*\(|\.tick\(\)|\bdelay_for\s*\(|backoff|\bpark_timeout\(")
_LEAVES = re.compile(r"\breturn\b|\bbreak\b|\bpanic!|\bunreachable!|\bprocess::exit|\?\s*;")
_LOOPS = ("loop_expression", "while_expression")


def check_file(ctx: FileContext) -> Iterator[Hit]:
    text = ctx.source.text
    if "Err(" not in text or not _SLEEP.search(text) or syntax.is_test_path(ctx.source.path):
        return
    for match in syntax.of_type(ctx.root, "match_expression"):
        loop = _enclosing_loop(match)
        if loop is None:
            continue
        value = match.child_by_field_name("value")
        if value is None or not any(
            n.type == "call_expression" for n in [value, *syntax.walk(value)]
        ):
            continue
        block = match.child_by_field_name("body")
        arms = [a for a in block.named_children if a.type == "match_arm"] if block else []
        err = next((a for a in arms if _is_err_arm(a)), None)
        if err is None or not any(_SLEEP.search(node_text(a)) for a in arms if a != err):
            continue
        body = err.child_by_field_name("value")
        said = node_text(body) if body is not None else ""
        if _SLEEP.search(said) or _LEAVES.search(said):
            continue
        if not _restarts(err, match, loop) or rust.is_rust_test(match, ctx.source.path):
            continue
        function = rust.enclosing_function(match)
        yield node_hit(
            ctx,
            err,
            details={
                "function": rust.rust_function_name(function) if function else "<closure>",
                "operation": _operation(value),
                "line": str(syntax.line(err)),
            },
        )


def _enclosing_loop(node: tree_sitter.Node) -> tree_sitter.Node | None:
    current = node.parent
    while current is not None and current.type not in {"function_item", "closure_expression"}:
        if current.type in _LOOPS:
            return current
        current = current.parent
    return None


def _is_err_arm(arm: tree_sitter.Node) -> bool:
    pattern = arm.child_by_field_name("pattern")
    return pattern is not None and node_text(pattern).lstrip().startswith("Err(")


def _restarts(err: tree_sitter.Node, match: tree_sitter.Node, loop: tree_sitter.Node) -> bool:
    """The Err arm leads to the next iteration without a wait: it ends with ``continue``,
    or it falls through and nothing after the match in the loop body waits."""
    body = err.child_by_field_name("value")
    if body is not None and re.search(r"\bcontinue\b", node_text(body)):
        return True
    after = node_text(loop)[match.end_byte - loop.start_byte :]
    statement = match.parent
    if statement is not None and statement.type == "let_declaration":
        return False  # the Err arm's value is used after the match: not a plain retry
    return not _SLEEP.search(after)


def _operation(value: tree_sitter.Node) -> str:
    """``db::claim_next_job(...)`` of ``match db::claim_next_job(&pool, &id).await``."""
    call = next((n for n in [value, *syntax.walk(value)] if n.type == "call_expression"), value)
    function = call.child_by_field_name("function")
    name = node_text(function) if function is not None else node_text(call)
    return f"{name.split('(')[0].strip()}()"


RULE = Rule(meta=META, doc=__doc__ or "", check_file=check_file)
