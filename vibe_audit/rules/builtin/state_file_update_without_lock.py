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

from collections.abc import Callable, Iterator
from dataclasses import replace

from vibe_audit.chunker.parsing import node_text
from vibe_audit.rules import evidence, js, rust, syntax
from vibe_audit.rules.base import Hit, Rule, RuleMeta, node_hit
from vibe_audit.rules.context import FileContext, RepoContext
from vibe_audit.rules.state_files_util import (
    SERVICES,
    Update,
    family_doc,
    family_meta,
    has_lock,
    js_updates,
    python_updates,
    rust_updates,
)
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

# The documentation of the TypeScript/JavaScript and Rust rules: the sections they word
# differently; family_doc takes the rest from the module docstring (and, after a closing
# "...", the rest of a section).
_JS_DOC = family_doc(
    __doc__ or "",
    """
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
""",
)

_RUST_DOC = family_doc(
    __doc__ or "",
    """
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
""",
)

# What each language's rule says in its own words (the rest is META's).
_OWN_TEXTS: dict[str, dict[str, str]] = {
    "python": {},
    "js": {
        "fix": (
            "Serialise the read-modify-write: an async-mutex `Mutex.runExclusive` around the "
            "read, the change and the write when one process writes the file; "
            "`proper-lockfile` (`await lockfile.lock(path)` ... `release()`) when several "
            "processes do; or move the state into SQLite and update it in a transaction."
        ),
    },
    "rust": {
        "fix": (
            "Hold one exclusive lock across the read, the change and the write: a "
            "`tokio::sync::Mutex` / `std::sync::Mutex` when one process writes the file, an "
            "advisory file lock (`fs2::FileExt::lock_exclusive`, `fd-lock`) on a lock file "
            "when several do; or keep the state in SQLite and update it in a transaction."
        ),
    },
}
_DOCS = {"python": __doc__ or "", "js": _JS_DOC, "rust": _RUST_DOC}


def _check_python(repo: RepoContext) -> Iterator[Hit]:
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


def _check_js(repo: RepoContext) -> Iterator[Hit]:
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


def _check_rust(repo: RepoContext) -> Iterator[Hit]:
    contexts = repo.in_language("rust")
    servers = sorted(set().union(*(ctx.imports for ctx in contexts)) & SERVICES["rust"])
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
    return replace(hit, severity=severity, severity_reason=f"{word}: {why} ({reason}).")


_CHECKS: dict[str, Callable[[RepoContext], Iterator[Hit]]] = {
    "python": _check_python,
    "js": _check_js,
    "rust": _check_rust,
}

RULES = [
    Rule(meta=family_meta(META, language, own), doc=_DOCS[language], check_repo=_CHECKS[language])
    for language, own in _OWN_TEXTS.items()
]
