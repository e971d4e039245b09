"""Retry loop with no delay between attempts.

What it finds:
    A retry loop (a ``while`` loop, or ``for attempt in range(n)``, around a ``try`` whose
    success path leaves the loop and whose handler for a transient error (every error,
    connection, timeout, OSError, database busy) lets it go round again) that calls no
    sleep or backoff anywhere in the loop (time.sleep, asyncio.sleep, backoff helpers). Loops
    that retry forever are unbounded-retry's finding instead. Not flagged: handlers that
    reconnect or invalidate the connection first (the retry runs on a fresh one), and loops
    that rebind what the try body uses (each turn tries a new name or path: a search), and
    polls whose attempt waits by itself (every handler catches only a timeout, as around
    ``future.result(timeout=...)``).

Why it matters:
    Retrying immediately hits a failing dependency again within microseconds: all attempts
    land inside the same outage, "database is locked" is retried while the lock is still
    held, and every client retrying in lockstep turns a blip into a retry storm.

Example:
    for attempt in range(5):
        try:
            return requests.post(url, json=payload, timeout=10)
        except requests.ConnectionError:
            log.warning("attempt %d failed", attempt)

Use instead:
    for attempt in range(5):
        try:
            return requests.post(url, json=payload, timeout=10)
        except requests.ConnectionError:
            if attempt == 4:
                raise
            time.sleep(min(30, 0.5 * 2**attempt) * random.uniform(0.8, 1.2))
"""

from __future__ import annotations

from collections.abc import Iterator

import tree_sitter

from vibe_audit.chunker.parsing import node_text
from vibe_audit.rules import pyflow, syntax
from vibe_audit.rules.base import Hit, Rule, RuleMeta
from vibe_audit.rules.context import FileContext
from vibe_audit.schemas import Confidence, Severity

META = RuleMeta(
    id="retry-without-backoff",
    title="Retry loop without backoff",
    severity=Severity.MEDIUM,
    confidence=Confidence.MEDIUM,
    categories={"reliability": "Retry"},
    checklist=["reliability.2.2", "reliability.2.3"],
    problem=(
        "This loop retries after {caught} with no delay between attempts: every attempt "
        "lands within milliseconds, inside the same failure."
    ),
    scenario=(
        "The dependency restarts (or SQLite holds its write lock) for 2 seconds: all "
        "attempts fail within a few milliseconds and the operation gives up; with many "
        "workers retrying in lockstep the recovering service is hammered."
    ),
    impact=(
        "Transient failures become hard failures, and the retries add load exactly when the "
        "dependency is weakest (retry storm)."
    ),
    how_to_verify=(
        "Make the dependency fail for 1 s (stop it, or hold `BEGIN IMMEDIATE` in the sqlite3 "
        "shell) and log attempt timestamps: all attempts happen within milliseconds."
    ),
    fix=(
        "Sleep with exponential backoff and jitter between attempts (time.sleep or "
        "`await asyncio.sleep`): delay = min(cap, base * 2**attempt) * random.uniform(0.8, "
        "1.2); or use tenacity: @retry(wait=wait_exponential_jitter(), "
        "stop=stop_after_attempt(5))."
    ),
    trade_off=(
        "Backoff adds latency on the failure path; cap the delay and the total time so the "
        "caller still gets an answer within its own timeout."
    ),
    effort_hours=(0.25, 0.5),
    experimental=True,  # below the precision gate on real code: benchmarks/precision.py
)


def check_file(ctx: FileContext) -> Iterator[Hit]:
    if "try" not in ctx.source.text:
        return
    for loop in pyflow.statements(ctx.root, "for_statement", "while_statement"):
        statement = pyflow.retry_try(loop)
        if statement is None or pyflow.sleeps(loop) or pyflow.renews(statement):
            continue
        if pyflow.waits_per_attempt(statement):
            continue
        if pyflow.varies_input(loop, statement):
            continue
        if pyflow.retry_bound(loop, statement) is None:
            continue  # retries forever: unbounded-retry reports it
        yield _hit(ctx, loop, statement)


def _hit(ctx: FileContext, loop: tree_sitter.Node, statement: tree_sitter.Node) -> Hit:
    handlers = [
        c
        for c in statement.named_children
        if c.type == "except_clause" and pyflow.catches_transient(c)
    ]
    caught = pyflow.caught(handlers[0]) if handlers else ""
    return Hit(
        path=ctx.source.path,
        start_line=syntax.line(loop),
        end_line=syntax.end_line(handlers[0]) if handlers else syntax.line(statement),
        symbol=syntax.qualified_name(loop),
        details={"caught": caught or "any exception", "loop": node_text(loop).split("\n")[0]},
    )


RULE = Rule(meta=META, doc=__doc__ or "", check_file=check_file)
