"""Retry loop that never gives up.

What it finds:
    ``while True:`` around a ``try`` whose success path leaves the loop (break / return) and
    whose handler for a transient error (every error, connection, timeout, OSError,
    database busy) goes round again, with nothing else that ends the loop: no attempt
    counter, no break / return / raise in the handler or elsewhere in the loop. Not flagged:
    server and worker main loops (no exit on success: each turn serves new work), handlers
    that reconnect or reset state first, loops that rebind what the try body uses
    (a search over names or paths, not a retry), and polls whose attempt waits by itself
    (every handler catches only a timeout, as around ``future.result(timeout=...)``).

Why it matters:
    A failure that is not transient (wrong credentials, a deleted table, a dependency
    that is gone) is retried forever: the caller hangs instead of failing, the error is
    never surfaced, and without a delay the loop spins at 100% CPU hammering the dependency.

Example:
    while True:
        try:
            conn.execute("UPDATE jobs SET status=? WHERE id=?", (status, job_id))
            conn.commit()
            break
        except sqlite3.OperationalError:
            pass

Use instead:
    for attempt in range(5):
        try:
            ...
            break
        except sqlite3.OperationalError:
            if attempt == 4:
                raise
            time.sleep(0.05 * 2**attempt + random.random() * 0.05)
"""

from __future__ import annotations

from collections.abc import Iterator

from vibe_audit.rules import pyflow, syntax
from vibe_audit.rules.base import Hit, Rule, RuleMeta
from vibe_audit.rules.context import FileContext
from vibe_audit.schemas import Confidence, Severity

META = RuleMeta(
    id="unbounded-retry",
    title="Retry loop without a limit",
    severity=Severity.HIGH,
    confidence=Confidence.MEDIUM,
    categories={"reliability": "Retry"},
    checklist=["reliability.2.1", "reliability.2.2", "reliability.2.3"],
    problem=(
        "This `while True` loop retries after {caught} with no attempt limit and nothing that "
        "ends it on failure{delay}: a permanent error is retried forever."
    ),
    scenario=(
        "The dependency fails permanently (bad credentials, missing table, host gone): the "
        "call never returns, the caller's request hangs until its own timeout, and the "
        "error is never raised or logged as final."
    ),
    impact=(
        "Stuck workers and requests instead of a clear failure; without a delay, a hot loop "
        "burning CPU and flooding the failing dependency."
    ),
    how_to_verify=(
        "Make the operation fail permanently (point it at a closed port or a read-only "
        "database) and call the code path: it never returns."
    ),
    fix=(
        "Bound the retries (for attempt in range(N), or a deadline), back off between "
        "attempts, retry only transient errors, and re-raise the last error when the budget "
        "is spent; or use tenacity with stop_after_attempt/stop_after_delay."
    ),
    trade_off=(
        "A bounded retry surfaces outages as errors the caller must handle; size the budget "
        "to the caller's timeout."
    ),
    effort_hours=(0.25, 0.75),
)


def check_file(ctx: FileContext) -> Iterator[Hit]:
    if "while" not in ctx.source.text:
        return
    for loop in pyflow.statements(ctx.root, "while_statement"):
        statement = pyflow.retry_try(loop)
        if statement is None or pyflow.retry_bound(loop, statement) is not None:
            continue
        if pyflow.renews(statement) or pyflow.varies_input(loop, statement):
            continue
        if pyflow.waits_per_attempt(statement):
            continue  # a poll: each attempt waits its own timeout
        handlers = [
            c
            for c in statement.named_children
            if c.type == "except_clause" and pyflow.catches_transient(c)
        ]
        caught = pyflow.caught(handlers[0]) if handlers else ""
        yield Hit(
            path=ctx.source.path,
            start_line=syntax.line(loop),
            end_line=syntax.end_line(handlers[0]) if handlers else syntax.line(statement),
            symbol=syntax.qualified_name(loop),
            details={
                "caught": caught or "any exception",
                "delay": "" if pyflow.sleeps(loop) else " and no delay between attempts",
            },
        )


RULE = Rule(meta=META, doc=__doc__ or "", check_file=check_file)
