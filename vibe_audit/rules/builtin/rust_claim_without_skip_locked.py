"""Job claimed with SELECT-by-status then UPDATE, without locking the row.

What it finds:
    A non-test Rust function with a SELECT that picks rows of a table by status
    (``WHERE status = 'pending'`` / ``state IN (...)``, with ``LIMIT`` or fetched with
    ``fetch_one`` / ``fetch_optional``) and, later in the same function, an UPDATE of the
    same table that sets the status column with no status condition in its WHERE, when no
    statement of the function takes a row lock (``FOR UPDATE [SKIP LOCKED]``,
    ``FOR NO KEY UPDATE``) or an advisory lock. Guarded updates (``... AND status =
    'pending'``, checked through rows_affected) and single-statement claims (``UPDATE ...
    WHERE id = (SELECT ... FOR UPDATE SKIP LOCKED) RETURNING *``) are not flagged. On
    SQLite a function that opens a transaction is trusted.

Why it matters:
    Two workers run the SELECT at the same moment, both see the same pending job, both
    mark it as theirs and both process it: duplicate side effects (two API calls, two
    emails, two result rows) and the later finisher overwrites the first one's result.

Example:
    let job = sqlx::query_as::<_, Job>(
        "SELECT * FROM jobs WHERE status = 'pending' ORDER BY created_at LIMIT 1")
        .fetch_optional(&pool).await?;
    sqlx::query("UPDATE jobs SET status = 'running' WHERE id = $1")
        .bind(job.id).execute(&pool).await?;

Use instead:
    let job = sqlx::query_as::<_, Job>(
        "UPDATE jobs SET status = 'running', started_at = now()
         WHERE id = (SELECT id FROM jobs WHERE status = 'pending'
                     ORDER BY created_at LIMIT 1 FOR UPDATE SKIP LOCKED)
         RETURNING *")
        .fetch_optional(&pool).await?;
"""

from __future__ import annotations

from collections.abc import Iterator

from vibe_audit.rules import rust, syntax
from vibe_audit.rules.base import Hit, Rule, RuleMeta, node_hit
from vibe_audit.rules.context import FileContext
from vibe_audit.schemas import Confidence, Severity

META = RuleMeta(
    id="rust-claim-without-skip-locked",
    title="Job claim without row locking (SELECT then UPDATE)",
    severity=Severity.HIGH,
    confidence=Confidence.MEDIUM,
    categories={"guardrails": "Queue Integrity", "concurrency": "Race Condition"},
    checklist=["guardrails.6B", "guardrails.2A", "concurrency.3B", "concurrency.5A"],
    problem=(
        "{function}() selects a {table} row by status and then updates its status in a "
        "separate statement, with no FOR UPDATE SKIP LOCKED and no status guard: two "
        "workers can claim the same row."
    ),
    scenario=(
        "Two workers poll at the same time: both SELECT the same pending row before either "
        "UPDATE lands, both set it to running and both process it."
    ),
    impact=(
        "Duplicate processing: repeated side effects, double cost, and results of one run "
        "overwritten by the other; failures of one run can mark the other's job failed."
    ),
    how_to_verify=(
        "Insert one pending {table} row and run two workers (or two concurrent calls of "
        "{function}()) with a short sleep between the SELECT and UPDATE: both claim it."
    ),
    fix=(
        "Claim in one statement: `UPDATE {table} SET status = 'running' WHERE id = (SELECT "
        "id FROM {table} WHERE status = 'pending' ORDER BY ... LIMIT 1 FOR UPDATE SKIP "
        "LOCKED) RETURNING *`; on SQLite use `UPDATE ... WHERE id = (SELECT ...) AND status "
        "= 'pending' RETURNING *` and treat no row as 'nothing to do'."
    ),
    trade_off=(
        "SKIP LOCKED gives up strict FIFO order across workers; a claimed job needs a "
        "claimed_at / heartbeat so a crashed worker's job can be reset."
    ),
    effort_hours=(1.0, 2.0),
    needs_concurrency=True,
    languages=["rust"],
)


def check_file(ctx: FileContext) -> Iterator[Hit]:
    text = ctx.source.text
    if "UPDATE" not in text.upper() or syntax.is_test_path(ctx.source.path):
        return
    sqlite = "sqlite" in text.lower()
    constants = rust.string_constants(ctx.root)
    for function in rust.rust_functions(ctx.root):
        claims = rust.unlocked_claims(function, constants, sqlite)
        if not claims or rust.is_rust_test(function, ctx.source.path):
            continue
        for claim in claims:
            yield node_hit(
                ctx,
                claim.select,
                until=claim.update,
                details={
                    "function": rust.rust_function_name(function),
                    "table": claim.table,
                },
            )


RULE = Rule(meta=META, doc=__doc__ or "", check_file=check_file)
