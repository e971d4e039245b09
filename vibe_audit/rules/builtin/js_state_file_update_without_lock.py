"""State file read, changed and written back with no lock, in code that runs concurrently.

What it finds:
    A TypeScript/JavaScript function that reads a JSON state file with Node's fs
    (``readFile``, fs-extra ``readJson``), changes it and writes it back to the same path
    (``writeFile``, ``Bun.write``, fs-extra ``writeJson``, or ``rename(tmp, path)``), with an
    ``await`` between the read and the write, in a module a server or worker process runs
    (it imports express, fastify, http, ws, worker_threads, cluster, ... or is imported by one),
    and with no lock in the file (``proper-lockfile``, ``async-mutex``, a promise chain that
    serialises the saves). A synchronous read-modify-write (``readFileSync`` ...
    ``writeFileSync`` with no await between) cannot interleave in one process and is not
    reported; nor is code no server or worker runs.

Why it matters:
    Two writers that overlap both read the same old content, each applies its own change,
    and the second write replaces the first: one update is silently lost. An atomic write
    (temp file + rename) keeps the file whole but does not prevent this; only a lock held
    from the read to the write (or a database transaction) does.

Example:
    app.post("/jobs", async (req, res) => {
      const state = JSON.parse(await fsp.readFile(STATE, "utf8"));
      state.jobs.push(req.body.id);
      await fsp.writeFile(STATE, JSON.stringify(state));
      res.sendStatus(204);
    });

Use instead:
    import { Mutex } from "async-mutex";
    const stateLock = new Mutex();   // one process; use proper-lockfile across processes

    await stateLock.runExclusive(async () => {
      const state = JSON.parse(await fsp.readFile(STATE, "utf8"));
      state.jobs.push(req.body.id);
      await writeAtomic(STATE, JSON.stringify(state));
    });
"""

from __future__ import annotations

from collections.abc import Iterator

from vibe_audit.chunker.parsing import node_text
from vibe_audit.rules import js, syntax
from vibe_audit.rules.base import Hit, Rule, RuleMeta, node_hit
from vibe_audit.rules.context import FileContext, RepoContext
from vibe_audit.rules.state_files_util import Update, has_lock, js_updates
from vibe_audit.schemas import Confidence, Severity

META = RuleMeta(
    id="js-state-file-update-without-lock",
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
        "Serialise the read-modify-write: an async-mutex `Mutex.runExclusive` around the read, "
        "the change and the write when one process writes the file; `proper-lockfile` "
        "(`await lockfile.lock(path)` ... `release()`) when several processes do; or move the "
        "state into SQLite and update it in a transaction."
    ),
    trade_off=(
        "Writers of the file wait for each other (milliseconds for small state); a file lock "
        "needs a lock file and care on network filesystems."
    ),
    effort_hours=(0.5, 1.5),
    languages=js.JS_LANGUAGES,
)


def check_repo(repo: RepoContext) -> Iterator[Hit]:
    contexts = {
        ctx.source.path: ctx
        for ctx in repo.in_language(*js.JS_LANGUAGES)
        if not syntax.is_test_path(ctx.source.path)
    }
    modules: dict[str, tuple[set[str], str]] | None = None
    for path, ctx in contexts.items():
        if has_lock(ctx.source.text):
            continue
        updates = list(js_updates(ctx))
        if not updates:
            continue
        if modules is None:
            modules = {p: (c.imports, c.source.text) for p, c in contexts.items()}
        reason = js.reaching_server(path, modules)
        if reason is None:
            continue  # no server or worker runs it: nothing writes at the same time
        for update in updates:
            yield _hit(ctx, update, reason, Severity.HIGH)


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
