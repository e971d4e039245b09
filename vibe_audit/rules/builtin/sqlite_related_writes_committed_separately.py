"""Two related writes of one function committed in separate transactions.

What it finds:
    A Python function that writes two different tables (INSERT / UPDATE / DELETE /
    REPLACE, the SQL a literal, ``text("...")`` or a string constant of the file) and
    commits between them: a ``.commit()`` (or ``execute("COMMIT")``) after the first write
    and before the second, the first write in a ``with conn:`` / ``engine.begin()`` /
    ``transaction.atomic()`` block that ends before the second, or a connection the
    function opens in autocommit mode (``sqlite3.connect(..., isolation_level=None)``) with
    no BEGIN anywhere in the function. Functions that open two connections (writes to two
    databases cannot share a transaction) are skipped. Only writes that both run
    in one call count (not writes in different branches of one ``if``, nor a write in a
    ``try`` body and its compensation in the ``except`` handler), and not a first write in
    a loop whose body the second write is not in (a per-row loop, then a summary).

Why it matters:
    Each commit makes its part durable on its own. A crash, a kill or an exception
    between the commits (the process is restarted during a deploy, the second statement
    hits a constraint or "database is locked") leaves the first write without the second:
    a result stored while the job still says "running" and gets processed again, a job
    removed from the queue whose result never landed, a status set to done with no
    result row. Other connections also see the half-done state between the commits.

Example:
    conn.execute("INSERT INTO results (job_id, body) VALUES (?, ?)", (job_id, body))
    conn.commit()
    conn.execute("DELETE FROM queue WHERE job_id = ?", (job_id,))
    conn.commit()

Use instead:
    with conn:  # one transaction: both writes or neither
        conn.execute("INSERT INTO results (job_id, body) VALUES (?, ?)", (job_id, body))
        conn.execute("DELETE FROM queue WHERE job_id = ?", (job_id,))
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator

import tree_sitter

from vibe_audit.chunker.parsing import node_text
from vibe_audit.rules import pytxn_util as tx
from vibe_audit.rules import syntax
from vibe_audit.rules.base import Hit, Rule, RuleMeta, node_hit
from vibe_audit.rules.context import FileContext, RepoContext
from vibe_audit.rules.sqltext import SETS_STATUS
from vibe_audit.schemas import Confidence, Severity

_AUTOCOMMIT = re.compile(r"isolation_level\s*=\s*None|autocommit\s*=\s*True")
_BEGINS = re.compile(r"[\"']\s*BEGIN\b|\.begin\(|\btransaction\(|\batomic\(", re.I)

META = RuleMeta(
    id="sqlite-related-writes-committed-separately",
    title="Related writes committed in separate transactions",
    severity=Severity.HIGH,
    confidence=Confidence.MEDIUM,
    categories={"guardrails": "Transactions", "concurrency": "Transaction"},
    checklist=["guardrails.1A", "guardrails.6A", "concurrency.4A"],
    problem=(
        "{function}() writes {first_table} (`{first}`) and {second_table} (`{second}`) "
        "and commits in between ({boundary}): the two writes are separate transactions, "
        "not one all-or-nothing change."
    ),
    scenario=(
        "The process is killed or the second statement fails (a constraint, 'database is "
        "locked') after the first commit: {first_table} keeps the {first_verb} while "
        "{second_table} never gets the {second_verb}, and no code path repairs the "
        "half-done state."
    ),
    impact=(
        "Inconsistent rows that outlive the failure (a result stored with the item still "
        "queued or not marked done, or the reverse), and the half-done state is visible to "
        "other connections between the commits."
    ),
    how_to_verify=(
        "Make the second statement fail (raise right before it, or add a failing CHECK) "
        "and call {function}(): the {first_verb} on {first_table} stays committed."
    ),
    fix=(
        "Run both statements in one transaction and commit once after the second: "
        "`with conn:` around both (sqlite3), one `engine.begin()` block (SQLAlchemy), or "
        "remove the commit between them."
    ),
    trade_off=(
        "The write lock is held from the first statement to the commit: keep slow work "
        "(HTTP calls, file I/O) out of the transaction."
    ),
    effort_hours=(0.25, 1.0),
    experimental=True,
)


def check_repo(repo: RepoContext) -> Iterator[Hit]:
    for ctx in tx.database_files(repo):
        text = ctx.source.text
        if "commit" not in text and "with " not in text:
            continue
        for function in syntax.functions(ctx.root):
            hit = _check_function(ctx, function)
            if hit is not None:
                yield hit


def _check_function(ctx: FileContext, function: tree_sitter.Node) -> Hit | None:
    writes = [s for s in tx.statements(function, tx.constants_of(ctx, function)) if tx.is_write(s)]
    if len({w.table for w in writes}) < 2:
        return None
    connects = [
        c for c in syntax.body_nodes(function, "call") if syntax.callee(c).endswith("connect")
    ]
    if len(connects) > 1:
        return None  # writes to different databases cannot share a transaction
    commit_calls = tx.commits(function)
    blocks = tx.transaction_blocks(function)
    autocommit = _autocommit_connection(function, connects)
    for i, first in enumerate(writes):
        for second in writes[i + 1 :]:
            if second.table == first.table or tx.exclusive(first.call, second.call):
                continue
            if tx.in_loop_without(first.call, second.call, function):
                continue
            boundary = _boundary(first.call, second.call, commit_calls, blocks) or autocommit
            if boundary is None:
                continue
            hit = node_hit(
                ctx,
                first.call,
                until=second.call,
                named_by=function,
                details={
                    "function": syntax.function_name(function),
                    "first_table": first.table,
                    "second_table": second.table,
                    "first": tx.short_sql(first.sql, 60),
                    "second": tx.short_sql(second.sql, 60),
                    "first_verb": first.verb,
                    "second_verb": second.verb,
                    "boundary": boundary,
                },
            )
            if not (second.verb == "DELETE" or SETS_STATUS.search(second.sql)):
                hit = dataclasses.replace(
                    hit,
                    severity=Severity.MEDIUM,
                    severity_reason=(
                        "the second write neither removes a queued item nor sets a status, "
                        "so the half-done state is less likely to be acted on"
                    ),
                )
            return hit
    return None


def _boundary(
    first: tree_sitter.Node,
    second: tree_sitter.Node,
    commit_calls: list[tree_sitter.Node],
    blocks: list[tree_sitter.Node],
) -> str | None:
    """How the first write is committed before the second runs, or None."""
    for commit in commit_calls:
        between = first.end_byte <= commit.start_byte and commit.end_byte <= second.start_byte
        if between and not (tx.exclusive(commit, first) or tx.exclusive(commit, second)):
            return f"`{node_text(commit)[:40]}` at line {syntax.line(commit)}"
    for block in blocks:
        if tx.inside(first, block) and not tx.inside(second, block):
            return f"the `with` block at line {syntax.line(block)} commits on exit"
    return None


def _autocommit_connection(
    function: tree_sitter.Node, connects: list[tree_sitter.Node]
) -> str | None:
    """The function opens its connection in autocommit mode (``isolation_level=None``,
    ``autocommit=True``) and never begins a transaction: every statement commits alone."""
    if not connects or syntax.callee(connects[0]) != "sqlite3.connect":
        return None
    text = node_text(connects[0])
    if not _AUTOCOMMIT.search(text):
        return None
    if _BEGINS.search(node_text(function)) or tx.transaction_blocks(function):
        return None
    return f"the connection opened at line {syntax.line(connects[0])} autocommits each statement"


RULE = Rule(meta=META, doc=__doc__ or "", check_repo=check_repo)
