"""State file read, changed and written back with no lock, in code that runs concurrently.

What it finds:
    A function that reads a state file (``open(path)`` / ``path.read_text()`` with
    ``json.load`` / ``yaml.safe_load`` / ``pickle.load``), changes the data and writes it back
    to the same path (``open(path, "w")``, ``path.write_text``, or ``os.replace(tmp, path)``),
    in a file with no lock of any kind (no ``fcntl.flock``, ``portalocker``, ``filelock``,
    ``threading.Lock``), where the code runs concurrently: the module uses threads, a pool,
    asyncio or several processes, or a server or worker framework imports it. Code with no
    sign of concurrency (a one-shot command-line edit) is not reported, nor are schema
    migrations (a ``migrations/`` directory: they run once, alone).

    Async tasks alone (``async def`` in the module) count only for an ``async``
    read-modify-write: they cannot interleave inside a synchronous function.

    Severity from evidence: HIGH when a server or worker framework runs the code; MEDIUM
    for threads, pools or async tasks in the module itself.

Why it matters:
    Two writers that overlap both read the same old content, each applies its own change,
    and the second write replaces the first: one update is silently lost. An atomic write
    (temp file + rename) keeps the file whole but does not prevent this; only a lock held
    from the read to the write (or a database transaction) does.

Example:
    def add_job(job_id):
        with open(STATE) as f:
            state = json.load(f)
        state["jobs"].append(job_id)
        with open(STATE, "w") as f:
            json.dump(state, f)

Use instead:
    from filelock import FileLock

    def add_job(job_id):
        with FileLock(str(STATE) + ".lock"):
            with open(STATE) as f:
                state = json.load(f)
            state["jobs"].append(job_id)
            atomic_write_json(STATE, state)
"""

from __future__ import annotations

from collections.abc import Iterator

from vibe_audit.chunker.parsing import node_text
from vibe_audit.rules import evidence, syntax
from vibe_audit.rules.base import Hit, Rule, RuleMeta, node_hit
from vibe_audit.rules.context import FileContext, RepoContext
from vibe_audit.rules.state_files_util import Update, has_lock, python_updates
from vibe_audit.schemas import Confidence, Severity

META = RuleMeta(
    id="state-file-update-without-lock",
    title="State file read-modify-write without a lock",
    severity=Severity.MEDIUM,
    confidence=Confidence.MEDIUM,
    categories={
        "concurrency": "Checkpoint",
        "checkpoint": "Concurrency",
        "sqlite": "Checkpoint",
    },
    audit_severity={"sqlite": Severity.MEDIUM},
    checklist=[
        "concurrency.2B",
        "checkpoint.2D",
        "concurrency.checkpoint_checklist.7",
        "sqlite.4D",
    ],
    problem=(
        "{function}() reads {file} (`{read}`), changes the data and writes it back "
        "(`{write}`) with no lock held in between, and {reason}."
    ),
    scenario=(
        "Two calls of {function}() overlap: both read the same old state, each applies its "
        "own change, and the later write replaces the earlier one."
    ),
    impact=(
        "Updates are silently lost (a job, a setting, a counter increment disappears) with no "
        "error; the file stays valid, so nothing shows it until the missing data is noticed."
    ),
    how_to_verify=(
        "Call {function}() many times at once (parallel requests, threads or processes), "
        "each adding a distinct entry, then read {file}: fewer entries than calls."
    ),
    fix=(
        "Hold one exclusive lock across the read, the change and the write: a "
        '`filelock.FileLock(path + ".lock")` (or `fcntl.flock` on a lock file) when '
        "several processes write, a module-level `threading.Lock` when only threads of one "
        "process do; or move the state into SQLite and update it in a transaction."
    ),
    trade_off=(
        "Writers of the file wait for each other (milliseconds for small state); a file lock "
        "needs a lock file and care on network filesystems."
    ),
    effort_hours=(0.5, 1.5),
    languages=["python"],
)


def check_repo(repo: RepoContext) -> Iterator[Hit]:
    for ctx in repo.in_language("python"):
        if has_lock(ctx.source.text):
            continue
        updates = list(python_updates(ctx))
        if not updates:
            continue
        reason = evidence.reaching_concurrency(ctx, repo)
        if reason is None:
            continue  # a one-shot command-line edit: nothing runs at the same time
        served = evidence.concurrency(ctx, frameworks_only=True) is not None or (
            evidence.concurrency(ctx) is None
        )
        for update in updates:
            if reason.endswith("(concurrent tasks)") and not syntax.is_async(update.function):
                continue  # async tasks cannot interleave inside a synchronous function
            yield _hit(ctx, update, reason, Severity.HIGH if served else Severity.MEDIUM)


def _hit(ctx: FileContext, update: Update, reason: str, severity: Severity) -> Hit:
    hit = node_hit(
        ctx,
        update.read,
        until=update.write,
        named_by=update.function,
        details={
            "function": update.name,
            "file": f"`{update.file}`",
            "read": node_text(update.read).split("\n")[0][:100],
            "write": node_text(update.write).split("\n")[0][:100],
            "reason": reason,
        },
    )
    word = "HIGH" if severity is Severity.HIGH else "MEDIUM"
    why = (
        "a server or worker process runs it, so overlapping requests or jobs are routine"
        if severity is Severity.HIGH
        else "the code runs concurrently in one process (threads, pool or tasks)"
    )
    return Hit(
        path=hit.path,
        start_line=hit.start_line,
        end_line=hit.end_line,
        symbol=hit.symbol,
        details=hit.details,
        severity=severity,
        severity_reason=f"{word}: {why} ({reason}).",
    )


RULE = Rule(meta=META, doc=__doc__ or "", check_repo=check_repo)
