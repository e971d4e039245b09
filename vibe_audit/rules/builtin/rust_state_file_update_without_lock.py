"""State file read, changed and written back with no lock, in code that runs concurrently.

What it finds:
    A Rust function that reads a state file (``fs::read_to_string`` / ``fs::read`` /
    ``File::open``, std or tokio) and deserializes it with serde (``serde_json::from_str``,
    ``toml::from_str``, ...), then writes the same path back (``fs::write``,
    ``File::create``, ``fs::rename(tmp, path)``, ``persist(path)``), in a file with no lock
    (no ``fs2`` / ``fd-lock`` / ``fs4`` file lock, no ``Mutex`` / ``RwLock``), where the code
    runs concurrently: the file uses tokio, rayon or a web framework, or the function is
    ``async`` in a crate that runs a server. Code with no sign of concurrency (a one-shot
    command-line edit) is not reported.

    Severity from evidence: HIGH in a crate that runs a server (axum, actix-web, warp,
    rocket, hyper, tonic); MEDIUM otherwise.

Why it matters:
    Two writers that overlap both read the same old content, each applies its own change,
    and the second write replaces the first: one update is silently lost. An atomic write
    (temp file + rename) keeps the file whole but does not prevent this; only a lock held
    from the read to the write (or a database transaction) does.

Example:
    async fn add_job(path: &Path, id: String) -> anyhow::Result<()> {
        let mut state: State = serde_json::from_str(&tokio::fs::read_to_string(path).await?)?;
        state.jobs.push(id);
        tokio::fs::write(path, serde_json::to_vec(&state)?).await?;
        Ok(())
    }

Use instead:
    static STATE_LOCK: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

    async fn add_job(path: &Path, id: String) -> anyhow::Result<()> {
        let _guard = STATE_LOCK.lock().await;  // fs2/fd-lock across processes
        let mut state: State = serde_json::from_str(&tokio::fs::read_to_string(path).await?)?;
        state.jobs.push(id);
        write_atomic(path, &serde_json::to_vec(&state)?).await
    }
"""

from __future__ import annotations

from collections.abc import Iterator

from vibe_audit.chunker.parsing import node_text
from vibe_audit.rules import evidence, rust
from vibe_audit.rules.base import Hit, Rule, RuleMeta, node_hit
from vibe_audit.rules.context import FileContext, RepoContext
from vibe_audit.rules.state_files_util import Update, has_lock, rust_updates
from vibe_audit.schemas import Confidence, Severity

META = RuleMeta(
    id="rust-state-file-update-without-lock",
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
        "`tokio::sync::Mutex` / `std::sync::Mutex` when one process writes the file, an "
        "advisory file lock (`fs2::FileExt::lock_exclusive`, `fd-lock`) on a lock file when "
        "several do; or keep the state in SQLite and update it in a transaction."
    ),
    trade_off=(
        "Writers of the file wait for each other (milliseconds for small state); a file lock "
        "needs a lock file and care on network filesystems."
    ),
    effort_hours=(0.5, 1.5),
    languages=["rust"],
)


_SERVERS = frozenset(
    {"axum", "actix_web", "warp", "rocket", "hyper", "tonic", "poem", "salvo", "tide"}
)


def check_repo(repo: RepoContext) -> Iterator[Hit]:
    contexts = repo.in_language("rust")
    servers = sorted(set().union(*(ctx.imports for ctx in contexts)) & _SERVERS)
    for ctx in contexts:
        if has_lock(ctx.source.text):
            continue
        for update in rust_updates(ctx):
            reason = evidence.concurrency(ctx)
            if servers and (reason or rust.is_async_fn(update.function)):
                reason = reason or f"{update.name}() is async in a crate that runs {servers[0]}"
                yield _hit(ctx, update, reason, Severity.HIGH)
            elif reason:
                yield _hit(ctx, update, reason, Severity.MEDIUM)


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
