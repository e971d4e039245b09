"""SQLite connections opened, WAL never enabled anywhere in the repository.

What it finds:
    Code that opens SQLite connections (sqlite3.connect, aiosqlite.connect) while no file in
    the audited tree sets ``PRAGMA journal_mode=WAL``.

Why it matters:
    SQLite's default rollback journal (DELETE) lets one connection write and blocks every
    reader while it does. Concurrent request handlers and background workers then serialize
    on the database file and fail with "database is locked".

Example:
    conn = sqlite3.connect("app.db")   # journal_mode stays DELETE

Use instead:
    conn = sqlite3.connect("app.db", timeout=5)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
"""

from __future__ import annotations

from collections.abc import Iterator

from vibe_audit.rules.base import Hit, Rule, RuleMeta
from vibe_audit.rules.context import RepoContext
from vibe_audit.schemas import Confidence, Severity

META = RuleMeta(
    id="sqlite-wal-not-enabled",
    title="SQLite used without WAL journal mode",
    severity=Severity.HIGH,
    confidence=Confidence.HIGH,
    categories={"sqlite": "WAL Config", "concurrency": "SQLite", "reliability": "Concurrency"},
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
        "Concurrent uploads and status updates each open a connection and write; while one "
        "commits, the others wait for the busy timeout and then fail with "
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
        '    conn.execute("PRAGMA journal_mode=WAL")\n'
        '    conn.execute("PRAGMA synchronous=NORMAL")\n'
        '    conn.execute("PRAGMA busy_timeout=5000")'
    ),
    trade_off=(
        "WAL adds the -wal and -shm files beside the database and needs a local filesystem "
        "(not NFS); readers no longer block writers. Still one writer at a time."
    ),
    effort_hours=(0.5, 1.0),
)


def check_repo(repo: RepoContext) -> Iterator[Hit]:
    facts = repo.facts
    if not facts.connect_sites or facts.pragma_value("journal_mode") == "wal":
        return
    first = min(facts.connect_sites, key=lambda s: (s.path, s.line))
    yield Hit(
        path=first.path,
        start_line=first.line,
        end_line=first.line,
        symbol=first.symbol,
        details={"count": str(len(facts.connect_sites)), "symbol": first.symbol or first.path},
    )


RULE = Rule(meta=META, doc=__doc__ or "", check_repo=check_repo)
