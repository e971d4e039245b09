"""SQLite connections opened, WAL never enabled anywhere in the repository.

What it finds:
    Code that opens its own SQLite database file (sqlite3.connect, aiosqlite.connect) while
    no file in the audited tree sets ``PRAGMA journal_mode=WAL``. Not its own: ':memory:'
    databases, read-only connections (mode=ro), and files the caller names (a library's or
    driver's parameter, ``self.filename``, forwarded ``**kwargs``): their journal mode is the
    application's choice. A journal mode set from code (``"PRAGMA journal_mode=%s"``, a
    settings key) cannot be read statically and is left to the model. Code that opens its
    transactions with ``BEGIN EXCLUSIVE`` has chosen full serialization: WAL would change
    nothing for it.

    Severity from evidence: HIGH where the code shows concurrency (threads, async tasks, a
    server, workers), MEDIUM where it shows none.

Why it matters:
    SQLite's default rollback journal (DELETE) lets one connection write and blocks every
    reader while it does. Concurrent request handlers and background workers then serialize
    on the database file and fail with "database is locked".

Example:
    conn = sqlite3.connect("app.db")   # journal_mode stays DELETE

Use instead:
    conn = sqlite3.connect("app.db", timeout=5)
    conn.execute("PRAGMA journal_mode=WAL")
"""

from __future__ import annotations

from collections.abc import Iterator

from vibe_audit.rules import evidence
from vibe_audit.rules.base import Hit, Rule, RuleMeta
from vibe_audit.rules.context import RepoContext
from vibe_audit.schemas import Confidence, Severity

META = RuleMeta(
    id="sqlite-wal-not-enabled",
    title="SQLite used without WAL journal mode",
    severity=Severity.HIGH,
    confidence=Confidence.HIGH,
    categories={"sqlite": "WAL Config", "concurrency": "SQLite", "reliability": "Concurrency"},
    # Readers blocking the writer lose no data: in the integrity audit it is MEDIUM.
    audit_severity={"concurrency": Severity.MEDIUM},
    checklist=[
        "sqlite.1A",
        "sqlite.pragma.1",
        "concurrency.1A",
        "concurrency.sqlite_checklist.1",
        "reliability.9.1",
    ],
    problem=(
        "{count} SQLite connection site(s) open the database, and no file sets "
        "PRAGMA journal_mode=WAL, so the default DELETE journal is in use. In that mode a "
        "writer locks out every reader and every other writer for the whole transaction."
    ),
    scenario=(
        "Concurrent requests or workers each open a connection (as {symbol} does) and "
        "write; while one commits, the others wait for the busy timeout and then fail with "
        "'sqlite3.OperationalError: database is locked'."
    ),
    impact=(
        "With 10+ concurrent writers, a share of requests fails with 'database is locked' and "
        "read latency spikes while writes commit."
    ),
    how_to_verify=(
        'Run `sqlite3 <your.db> "PRAGMA journal_mode;"` (prints "delete"); then run 10 threads '
        "writing concurrently and count OperationalError."
    ),
    fix=(
        "In the connection factory ({symbol}), right after connecting:\n"
        '    conn.execute("PRAGMA busy_timeout=5000")\n'
        '    conn.execute("PRAGMA journal_mode=WAL")  # persistent: set once, kept in the file'
    ),
    trade_off=(
        "WAL adds the -wal and -shm files beside the database and needs a local filesystem "
        "(not NFS); readers no longer block writers. Still one writer at a time. "
        "synchronous stays FULL (as durable as before); synchronous=NORMAL is faster but "
        "can lose the last commits on power loss."
    ),
    effort_hours=(0.5, 1.0),
)


def check_repo(repo: RepoContext) -> Iterator[Hit]:
    facts = repo.facts
    journal = facts.pragma_value("journal_mode")
    if not facts.owned_connect_sites or journal == "wal":
        return
    if journal is None and "journal_mode" in facts.pragma_mentions:
        return  # set from code (a formatted PRAGMA, a settings table): not decidable here
    if any("EXCLUSIVE" in site.text.upper() for site in facts.begin_statements):
        return  # every access takes the exclusive lock by design: WAL would change nothing
    sites = sorted(facts.owned_connect_sites, key=lambda s: (s.path, s.line))
    first = sites[0]
    by_path = {ctx.source.path: ctx for ctx in repo.files}
    concurrent = next(
        (
            reason
            for path in dict.fromkeys(site.path for site in sites)  # each file once, in order
            if (reason := evidence.reaching_concurrency(by_path[path], repo))
        ),
        None,
    )
    yield Hit(
        severity=Severity.HIGH if concurrent else Severity.MEDIUM,
        severity_reason=(
            f"HIGH: concurrent writers are possible: {concurrent}."
            if concurrent
            else "MEDIUM: no threads, async tasks, server or workers seen in the code, so "
            "writers contend only when several processes open the database at once."
        ),
        path=first.path,
        start_line=first.line,
        end_line=first.line,
        symbol=first.symbol,
        details={
            "count": str(len(facts.owned_connect_sites)),
            "symbol": first.symbol or first.path,
        },
    )


def clears(repo: RepoContext) -> list[str]:
    """WAL set by a literal PRAGMA: the WAL items are satisfied."""
    if repo.facts.pragma_value("journal_mode") == "wal":
        return ["sqlite.1A", "sqlite.pragma.1", "concurrency.sqlite_checklist.1"]
    return []


RULE = Rule(meta=META, doc=__doc__ or "", check_repo=check_repo, clears=clears)
