"""Served SQLite database left at the default cache_size, temp_store and mmap_size.

One rule per language (Python, JS/TS, Rust), built from the table below; each rule's own
docstring is ``_DOC`` filled with that language's example.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from vibe_audit.chunker.parsing import node_text
from vibe_audit.rules import js, rust, syntax
from vibe_audit.rules.base import Hit, Rule, RuleMeta
from vibe_audit.rules.context import FileContext, RepoContext
from vibe_audit.schemas import Confidence, Severity

_DOC = """SQLite database of a served process left at the default cache, temp store and mmap size.

What it finds:
    A repository ({languages}) that opens its own SQLite database file ({opens}; not in
    memory, not read-only, not a file a caller names) and runs a server or workers ({served}),
    where no code sets any of ``PRAGMA cache_size``, ``PRAGMA temp_store`` and
    ``PRAGMA mmap_size`` (a name mentioned anywhere in its code counts as set; code that
    sets one or two has tuned SQLite on purpose and is left alone). Reported once, at the
    first open, as MONITOR: these are recommended tuning settings, not correctness
    settings.

Why it matters:
    SQLite's defaults are sized for small devices: a page cache of about 2 MB per connection
    (``cache_size = -2000``), temporary tables and sort spills written to files
    (``temp_store = DEFAULT``), and no memory-mapped I/O (``mmap_size = 0``). A long-running
    service reading a database larger than a few megabytes re-reads the same pages through
    system calls, and large ORDER BY / GROUP BY / index builds spill to temp files.

Example:
{example}

Use instead:
{use_instead}
"""


@dataclass(frozen=True)
class _Language:
    key: str
    rule_id: str
    languages: list[str]
    opens: str
    served: str
    example: str
    use_instead: str
    fix: str
    find_opens: Callable[[RepoContext], list[tuple[str, int, str]]]
    find_served: Callable[[RepoContext], str | None]


_TUNING = ("cache_size", "temp_store", "mmap_size")

_PY_SERVERS = {
    "fastapi": "a FastAPI server", "starlette": "a Starlette server", "flask": "a Flask server",
    "django": "a Django server", "aiohttp": "an aiohttp server", "tornado": "a Tornado server",
    "sanic": "a Sanic server", "quart": "a Quart server", "litestar": "a Litestar server",
    "bottle": "a Bottle server", "falcon": "a Falcon server", "cherrypy": "a CherryPy server",
    "uvicorn": "a uvicorn server", "gunicorn": "gunicorn workers", "celery": "Celery workers",
    "dramatiq": "Dramatiq workers", "apscheduler": "a scheduler running jobs",
}  # fmt: skip
_JS_SERVERS = {
    name: what
    for name, what in js.SERVER_MODULES.items()
    if name not in {"worker_threads", "node:worker_threads", "cluster", "node:cluster"}
}
_RUST_SERVERS = {
    "axum": "an axum server", "actix_web": "an actix-web server", "warp": "a warp server",
    "rocket": "a Rocket server", "hyper": "a hyper server", "tonic": "a tonic gRPC server",
    "poem": "a poem server", "salvo": "a salvo server", "tide": "a tide server",
}  # fmt: skip


def _code(repo: RepoContext, languages: list[str]) -> list[FileContext]:
    return [c for c in repo.in_language(*languages) if not syntax.is_test_path(c.source.path)]


def _served_by(repo: RepoContext, languages: list[str], servers: dict[str, str]) -> str | None:
    for ctx in _code(repo, languages):
        for name in sorted(ctx.imports):
            if name in servers:
                return f"{ctx.source.path} runs {servers[name]} ({name})"
    return None


def _py_opens(repo: RepoContext) -> list[tuple[str, int, str]]:
    return [
        (s.path, s.line, s.text)
        for s in repo.facts.owned_connect_sites
        if not syntax.is_test_path(s.path)
    ]


def _js_opens(repo: RepoContext) -> list[tuple[str, int, str]]:
    opens = js.sqlite_open_sites(_code(repo, js.JS_LANGUAGES))
    return [
        (o.path, syntax.line(o.call), node_text(o.call).split("\n", 1)[0])
        for o in opens
        if o.kind == "owned"
    ]


def _rust_opens(repo: RepoContext) -> list[tuple[str, int, str]]:
    found: list[tuple[str, int, str]] = []
    for ctx in _code(repo, ["rust"]):
        if "rusqlite" not in ctx.source.text and "Sqlite" not in ctx.source.text:
            continue
        uses = rust.use_paths(ctx.root)
        calls = list(rust.rusqlite_opens(ctx.root, uses, ctx.imports, ctx.source.path))
        for call in syntax.of_type(ctx.root, "call_expression"):
            path = rust.call_path(call, uses)
            text = node_text(call)
            if (
                ("SqlitePool::connect" in path or path.endswith("SqliteConnectOptions::from_str"))
                and "memory" not in text
                and not rust.is_rust_test(call, ctx.source.path)
            ):
                calls.append(call)
        for call in sorted(calls, key=syntax.line):
            line = syntax.line(call)
            found.append((ctx.source.path, line, ctx.lines[line - 1].strip()))
    return found


_LANGUAGE_TABLE = [
    _Language(
        key="python",
        rule_id="sqlite-tuning-pragmas-missing",
        languages=["python"],
        opens="``sqlite3.connect`` / ``aiosqlite.connect``",
        served="FastAPI, Flask, Django, aiohttp, Celery, ... imported",
        example=(
            '    conn = sqlite3.connect("app.db", check_same_thread=False)\n'
            '    conn.execute("PRAGMA journal_mode=WAL")'
        ),
        use_instead=(
            '    conn = sqlite3.connect("app.db", check_same_thread=False)\n'
            '    conn.execute("PRAGMA journal_mode=WAL")\n'
            '    conn.execute("PRAGMA cache_size=-64000")     # 64 MB page cache\n'
            '    conn.execute("PRAGMA temp_store=MEMORY")\n'
            '    conn.execute("PRAGMA mmap_size=268435456")   # 256 MB memory-mapped reads'
        ),
        fix=(
            "Where each connection is opened (e.g. {where}), after journal_mode:\n"
            '    conn.execute("PRAGMA cache_size=-64000")\n'
            '    conn.execute("PRAGMA temp_store=MEMORY")\n'
            '    conn.execute("PRAGMA mmap_size=268435456")'
        ),
        find_opens=_py_opens,
        find_served=lambda repo: _served_by(repo, ["python"], _PY_SERVERS),
    ),
    _Language(
        key="js",
        rule_id="js-sqlite-tuning-pragmas-missing",
        languages=js.JS_LANGUAGES,
        opens="better-sqlite3, node:sqlite, bun:sqlite or sqlite3",
        served="Express, Fastify, Koa, Hono, NestJS, an HTTP or websocket server, BullMQ",
        example=(
            '    export const db = new Database("app.db");\n    db.pragma("journal_mode = WAL");'
        ),
        use_instead=(
            '    export const db = new Database("app.db");\n'
            '    db.pragma("journal_mode = WAL");\n'
            '    db.pragma("cache_size = -64000");    // 64 MB page cache\n'
            '    db.pragma("temp_store = MEMORY");\n'
            '    db.pragma("mmap_size = 268435456");  // 256 MB memory-mapped reads'
        ),
        fix=(
            "Right after the database is opened ({where}):\n"
            '    db.pragma("cache_size = -64000");    // node:sqlite / bun:sqlite: '
            'db.exec("PRAGMA ...")\n'
            '    db.pragma("temp_store = MEMORY");\n'
            '    db.pragma("mmap_size = 268435456");'
        ),
        find_opens=_js_opens,
        find_served=lambda repo: _served_by(repo, js.JS_LANGUAGES, _JS_SERVERS),
    ),
    _Language(
        key="rust",
        rule_id="rust-sqlite-tuning-pragmas-missing",
        languages=["rust"],
        opens="rusqlite ``Connection::open``, sqlx ``SqlitePool`` / ``SqliteConnectOptions``",
        served="axum, actix-web, warp, Rocket, hyper, tonic, ...",
        example=(
            "    let conn = Connection::open(path)?;\n"
            '    conn.pragma_update(None, "journal_mode", "WAL")?;'
        ),
        use_instead=(
            "    let conn = Connection::open(path)?;\n"
            '    conn.pragma_update(None, "journal_mode", "WAL")?;\n'
            '    conn.pragma_update(None, "cache_size", -64000)?;     // 64 MB page cache\n'
            '    conn.pragma_update(None, "temp_store", "MEMORY")?;\n'
            '    conn.pragma_update(None, "mmap_size", 268435456)?;   // 256 MB mmap reads'
        ),
        fix=(
            "Where each connection is opened ({where}):\n"
            '    conn.pragma_update(None, "cache_size", -64000)?;\n'
            '    conn.pragma_update(None, "temp_store", "MEMORY")?;\n'
            '    conn.pragma_update(None, "mmap_size", 268435456)?;\n'
            '(sqlx: .pragma("cache_size", "-64000").pragma("temp_store", "MEMORY")'
            '.pragma("mmap_size", "268435456") on the SqliteConnectOptions)'
        ),
        find_opens=_rust_opens,
        find_served=lambda repo: _served_by(repo, ["rust"], _RUST_SERVERS),
    ),
]


def _checker(language: _Language) -> Callable[[RepoContext], Iterator[Hit]]:
    def check_repo(repo: RepoContext) -> Iterator[Hit]:
        opens = language.find_opens(repo)
        if not opens:
            return
        code = [c.source.text.lower() for c in _code(repo, language.languages)]
        missing = [name for name in _TUNING if not any(name in text for text in code)]
        if len(missing) < len(_TUNING):
            return  # some are set: the code tunes SQLite on purpose, the rest by choice
        served = language.find_served(repo)
        if served is None:
            return
        path, line, text = min(opens)
        yield Hit(
            path=path,
            start_line=line,
            end_line=line,
            details={
                "missing": ", ".join(missing),
                "served": served,
                "where": f"{path}:{line}",
                "text": text,
            },
        )

    return check_repo


def _rule(language: _Language) -> Rule:
    doc = _DOC.format(
        languages=", ".join(language.languages),
        opens=language.opens,
        served=language.served,
        example=language.example,
        use_instead=language.use_instead,
    )
    meta = RuleMeta(
        id=language.rule_id,
        title="SQLite tuning PRAGMAs left at their defaults in a served process",
        severity=Severity.MONITOR,
        confidence=Confidence.MEDIUM,
        categories={"sqlite": "Connection"},
        checklist=["sqlite.pragma.4", "sqlite.pragma.5", "sqlite.pragma.6"],
        problem=(
            "The database opened at {where} serves a long-running process ({served}), and no "
            "code sets PRAGMA {missing}: SQLite runs with its small defaults (about 2 MB of "
            "cache per connection, temp tables on disk, no memory-mapped I/O)."
        ),
        scenario=(
            "As the database grows past the cache, every request re-reads the same data "
            "from the OS with system calls, and large sorts and index builds spill to "
            "temporary files."
        ),
        impact=(
            "Read latency and I/O higher than they need to be under load; no data is at "
            "risk. Worth measuring before tuning."
        ),
        how_to_verify=(
            "Run `PRAGMA cache_size; PRAGMA temp_store; PRAGMA mmap_size;` through the app's "
            "connection (-2000, 0, 0 are the defaults) and compare p99 read latency with the "
            "settings applied on a copy of production data."
        ),
        fix=language.fix,
        trade_off=(
            "The cache is per connection (a pool of N connections uses N times the memory); "
            "with mmap an I/O error on the file arrives as a signal rather than an error "
            "code, and mmap brings nothing on network filesystems."
        ),
        effort_hours=(0.25, 1.0),
        languages=language.languages,
        experimental=True,
    )
    return Rule(meta=meta, doc=doc, check_repo=_checker(language))


RULES = [_rule(language) for language in _LANGUAGE_TABLE]
