"""Workers claim jobs by setting an in-progress status, and nothing resets stuck ones.

What it finds:
    An SQL statement in the code that moves rows into an in-progress status
    (``SET status = 'processing'``, ``'running'``, ``'claimed'``, ``'in_progress'``,
    ``'locked'``, ``'started'``, ``'active'``; also a ``state`` column), while nothing in
    the repository (any language, .sql files included) brings such rows back: no
    ``UPDATE ... SET status = ... WHERE status = 'processing' AND <time> < ...`` sweep, and
    no lease, visibility timeout, heartbeat or lock-expiry column or setting
    (``locked_until``, ``lease_expires_at``, ``visibility_timeout``, ``heartbeat``,
    ``stale``, ``stuck``, ``reap``, ``orphan``, ``requeue``). One finding per repository,
    at the first claiming statement, in a file whose SQL also names a waiting status
    (``'pending'``, ``'queued'``, ``'waiting'``, ``'ready'``, ``'scheduled'``, ``'new'``):
    a queue, not a user account turned ``'active'``. Test files are not read.

Why it matters:
    A worker that dies mid-job (OOM kill, deploy, crash, lost connection) leaves its row in
    the in-progress status forever. Nothing picks it up again, because every claim query
    looks for pending rows: the job is silently lost, the user waits forever, and the
    stuck count only grows until someone resets rows by hand.

Example:
    UPDATE jobs SET status = 'processing', started_at = CURRENT_TIMESTAMP
    WHERE id = (SELECT id FROM jobs WHERE status = 'pending' LIMIT 1)

Use instead:
    -- run every minute (scheduler, worker start-up, or before each claim)
    UPDATE jobs SET status = 'pending', attempts = attempts + 1
    WHERE status = 'processing' AND started_at < datetime('now', '-15 minutes')
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

from vibe_audit.rules import ops_util
from vibe_audit.rules.base import Hit, Rule, RuleMeta
from vibe_audit.rules.context import RepoContext
from vibe_audit.schemas import Confidence, Severity

_IN_PROGRESS = r"(processing|running|claimed|in_progress|in-progress|locked|started|active)"
_CLAIM = re.compile(
    r"(?i)\bSET\s+(?:[\w\"`]+\.)?[\"`]?(status|state)[\"`]?\s*=\s*'" + _IN_PROGRESS + r"'"
)
# Queue evidence in the same file: rows also wait in a pending-like status.
_WAITING = re.compile(
    r"(?i)(status|state)[\"`]?\s*(=|IN\s*\()\s*'(pending|queued|waiting|ready|scheduled|new|"
    r"created|todo)'"
)
# A sweep: an UPDATE whose WHERE picks in-progress rows and compares a time (a cutoff).
_SWEEP = re.compile(
    r"(?is)\bUPDATE\b[^;]{0,400}?\bSET\b[^;]{0,400}?\bWHERE\b[^;]{0,400}?(status|state)"
    r"\s*(=|IN\s*\()[^;]{0,80}?'" + _IN_PROGRESS + r"'[^;]{0,400}?(<|>)"
)
_LEASE = re.compile(
    r"(?i)locked_until|lock_expires|lease|visibility_?timeout|heartbeat|\bstale|stuck|"
    r"\breap|orphan|requeue|timed_?out|expire[sd]?_at|lock_timeout|zombie|abandon"
)
_SWEEP_EXAMPLE = {
    "python": "a function run by the scheduler or at worker start-up",
    "js": "a setInterval task or a scheduled job",
    "rust": "a tokio::time::interval task",
}


def _meta(language: str) -> RuleMeta:
    return RuleMeta(
        id=f"{ops_util.PREFIX[language]}stuck-jobs-never-reset",
        title="Jobs stuck in an in-progress status are never reset",
        severity=Severity.MEDIUM,
        confidence=Confidence.MEDIUM,
        categories={"guardrails": "Queue Integrity"},
        checklist=["guardrails.6C"],
        problem=(
            "Jobs are claimed by setting `{status} = '{value}'`, and no code ever moves a "
            "row that stayed '{value}' too long back to a retryable or failed status (no "
            "timed sweep, lease or visibility timeout)."
        ),
        scenario=(
            "A worker is killed mid-job (deploy, OOM, crash): its row stays '{value}' "
            "forever, claim queries only look for new rows, and the job is never run again."
        ),
        impact=(
            "Jobs are lost silently and their users wait forever; stuck rows pile up until "
            "someone finds and resets them by hand."
        ),
        how_to_verify=(
            "Start a worker, kill it with `kill -9` while it processes a job, restart it: "
            "the job's row is still '{value}' and is never picked up."
        ),
        fix=(
            "Record when a job was claimed (started_at / locked_at) and reset stale ones "
            "from {sweep}:\n"
            "    UPDATE jobs SET {status} = 'pending', attempts = attempts + 1\n"
            "    WHERE {status} = '{value}' AND started_at < <now - timeout>"
        ),
        trade_off=(
            "The timeout must exceed the longest legitimate job, or a slow job runs twice; "
            "jobs must be idempotent (or heartbeat their lease) for the reset to be safe."
        ),
        effort_hours=(1.0, 2.0),
        languages=ops_util.LANGUAGES[language],
        experimental=True,
    )


def _check(language: str) -> Callable[[RepoContext], Iterator[Hit]]:
    def check_repo(repo: RepoContext) -> Iterator[Hit]:
        files = ops_util.code_files(repo, language)
        queues = [ctx for ctx in files if _WAITING.search(ctx.source.text)]
        claim = ops_util.first_mark(queues, _CLAIM, code_only=False)
        if claim is None:
            return
        if ops_util.any_text(repo, _SWEEP) or ops_util.any_text(repo, _LEASE):
            return
        found = _CLAIM.search(claim.text)
        status, value = (found.group(1), found.group(2)) if found else ("status", "processing")
        yield ops_util.hit(claim, status=status, value=value, sweep=_SWEEP_EXAMPLE[language])

    return check_repo


RULES = [
    Rule(meta=_meta(language), doc=__doc__ or "", check_repo=_check(language))
    for language in ops_util.LANGUAGES
]
