"""Per-connection PRAGMA set on one connection, missing on another to the same database.

One rule per language (Python, JS/TS, Rust), built from the table at the bottom; each has
its own docstring (``_DOCS``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import tree_sitter

from vibe_audit.chunker.parsing import node_text
from vibe_audit.rules import js, pyflow, rust, syntax
from vibe_audit.rules.base import Hit, Rule, RuleMeta
from vibe_audit.rules.context import SQLITE_CONNECT, FileContext, RepoContext, database_kind
from vibe_audit.rules.literals import string_constants
from vibe_audit.rules.pragmas_util import js_pragmas, rust_pragmas
from vibe_audit.rules.sql import pragma_settings
from vibe_audit.rules.sqltext import REFERENCES
from vibe_audit.schemas import Confidence, Severity

_ON = frozenset({"on", "1", "true", "yes"})


@dataclass(frozen=True)
class _Open:
    """One place a connection is opened, and the per-connection PRAGMAs its code sets."""

    path: str
    line: int
    text: str
    scope: str  # 'path:function' of the function around it ('path:' at module level)
    function: str  # its name ('' at module level)
    database: str | None  # the file argument when it is a string literal
    owned: bool  # the application's own file (not one the caller names)
    sets: frozenset[str]  # the PRAGMAs its own code sets (foreign_keys, busy_timeout)
    calls: frozenset[str]  # names of the functions its scope calls
    needs: frozenset[str]  # the PRAGMAs that matter for its driver


@dataclass(frozen=True)
class _Setting:
    opens: list[_Open]
    setters: dict[str, set[str]]  # PRAGMA -> functions whose own body sets it
    # PRAGMA -> names of the functions called where it is set (their connection is set up)
    handed: dict[str, set[str]]


def _configured(open_: _Open, pragma: str, found: _Setting) -> bool:
    setters = found.setters.get(pragma, set())
    return pragma in open_.sets or bool(open_.calls & setters)


def _handed_to_configurer(open_: _Open, pragma: str, found: _Setting) -> bool:
    """The open sits in a factory whose connection a configured scope receives: a scope
    that sets the PRAGMA calls the factory (``conn = _connect(); conn.execute(...)``)."""
    return bool(open_.function) and open_.function in found.handed.get(pragma, set())


def _check(found: _Setting, pragmas: tuple[str, ...]) -> Iterator[Hit]:
    reported: set[tuple[str, int]] = set()
    for pragma in pragmas:
        relevant = [o for o in found.opens if pragma in o.needs or pragma in o.sets]
        configured = [o for o in relevant if _configured(o, pragma, found)]
        if not configured:
            continue  # never set: the "missing" rules' finding, not this one
        for open_ in relevant:
            if (
                pragma not in open_.needs
                or not open_.owned
                or _configured(open_, pragma, found)
                or _handed_to_configurer(open_, pragma, found)
                or (open_.path, open_.line) in reported
            ):
                continue
            same = [
                o
                for o in configured
                if o.database is None or open_.database is None or o.database == open_.database
            ]
            if not same:
                continue  # a different database file
            reported.add((open_.path, open_.line))
            first = same[0]
            yield Hit(
                path=open_.path,
                start_line=open_.line,
                end_line=open_.line,
                details={
                    "pragma": pragma,
                    "text": open_.text,
                    "configured": f"{first.path}:{first.line}",
                    "where": f"{open_.path}:{open_.line}",
                    "missing_effect": _EFFECT[pragma],
                },
            )


_EFFECT = {
    "foreign_keys": (
        "so the foreign keys the schema declares are not enforced on it (deletes leave "
        "orphans, inserts may reference missing rows)"
    ),
    "busy_timeout": (
        "so it has no busy timeout (a statement that meets another connection's lock fails "
        "at once with SQLITE_BUSY)"
    ),
}


# ----------------------------------------------------------------------------- Python


def _py_setting(repo: RepoContext) -> tuple[_Setting, tuple[str, ...]]:
    files = [c for c in repo.in_language("python") if not syntax.is_test_path(c.source.path)]
    if not repo.facts.schema_references:
        return _Setting([], {}, {}), ()
    setters: dict[str, set[str]] = {"foreign_keys": set()}
    handed: dict[str, set[str]] = {"foreign_keys": set()}
    sets_in: dict[str, set[str]] = {}  # scope -> PRAGMAs set there
    for ctx in files:
        if "foreign_keys" not in ctx.source.text:
            continue
        for pragma in pragma_settings(ctx, frozenset({"foreign_keys"})):
            if pragma.value not in _ON:
                continue
            function = pyflow.enclosing_function(pragma.node)
            key = _py_scope(ctx, function)
            sets_in.setdefault(key, set()).add("foreign_keys")
            if function is not None:
                setters["foreign_keys"].add(syntax.function_name(function))
            scope = function if function is not None else ctx.root
            handed["foreign_keys"] |= {
                syntax.last_name(syntax.callee(c))
                for c in syntax.of_type(scope, "call", stop_at=pyflow.SCOPE_TYPES)
            }
    opens: list[_Open] = []
    for ctx in files:
        if not ctx.imports & {"sqlite3", "aiosqlite"}:
            continue
        constants = string_constants(ctx.root)
        for call in syntax.of_type(ctx.root, "call"):
            if syntax.callee(call) not in SQLITE_CONNECT:
                continue
            kind = database_kind(call)
            if kind in {"memory", "read-only"}:
                continue
            function = pyflow.enclosing_function(call)
            scope_node = function if function is not None else ctx.root
            key = _py_scope(ctx, function)
            args = syntax.positional_args(call)
            database = _py_database(args[0], constants) if args else None
            line = syntax.line(call)
            opens.append(
                _Open(
                    path=ctx.source.path,
                    line=line,
                    text=ctx.lines[line - 1].strip(),
                    scope=key,
                    function=syntax.function_name(function) if function is not None else "",
                    database=database,
                    owned=kind == "owned",
                    sets=frozenset(sets_in.get(key, set())),
                    calls=frozenset(
                        syntax.last_name(syntax.callee(c))
                        for c in syntax.of_type(scope_node, "call", stop_at=pyflow.SCOPE_TYPES)
                    ),
                    needs=frozenset({"foreign_keys"}),
                )
            )
    return _Setting(opens, setters, handed), ("foreign_keys",)


def _py_database(node: tree_sitter.Node, constants: dict[str, str]) -> str | None:
    """The file a connect opens when it is a literal or a module constant."""
    if node.type == "identifier":
        return constants.get(node_text(node))
    return syntax.string_value(node)


def _py_scope(ctx: FileContext, function: tree_sitter.Node | None) -> str:
    if function is None:
        return f"{ctx.source.path}:"
    return f"{ctx.source.path}:{syntax.line(function)}"


# ----------------------------------------------------------------------------- JS/TS


def _js_setting(repo: RepoContext) -> tuple[_Setting, tuple[str, ...]]:
    files = [
        c for c in repo.in_language(*js.JS_LANGUAGES) if not syntax.is_test_path(c.source.path)
    ]
    schema = any(
        REFERENCES.search(text) for ctx in files for _, text in js.strings(ctx.root)
    ) or any(REFERENCES.search(s.text) for s in repo.other_sources if s.path.endswith(".sql"))
    setters: dict[str, set[str]] = {"foreign_keys": set(), "busy_timeout": set()}
    handed: dict[str, set[str]] = {"foreign_keys": set(), "busy_timeout": set()}
    sets_in: dict[str, set[str]] = {}
    for ctx in files:
        text = ctx.source.text
        if "foreign_keys" not in text and "busy_timeout" not in text:
            continue
        for pragma in js_pragmas(ctx):
            if not _enables(pragma.name, pragma.value):
                continue
            function = js.enclosing_function(pragma.node)
            key = _js_scope(ctx, function)
            sets_in.setdefault(key, set()).add(pragma.name)
            if function is not None:
                setters[pragma.name].add(js.js_function_name(function))
            scope = function if function is not None else ctx.root
            handed[pragma.name] |= {
                js.js_callee(c).rsplit(".", 1)[-1] for c in syntax.of_type(scope, "call_expression")
            }
    opens: list[_Open] = []
    for site in js.sqlite_open_sites(files):
        ctx = next(c for c in files if c.source.path == site.path)
        function = js.enclosing_function(site.call)
        scope_node = function if function is not None else ctx.root
        key = _js_scope(ctx, function)
        sets = set(sets_in.get(key, set()))
        if "timeout" in js.open_option_keys(site.call) and _timeout_option(site.call):
            sets.add("busy_timeout")
        needs = {"foreign_keys"} if schema else set()
        if site.module in {"node:sqlite", "bun:sqlite"}:
            needs.add("busy_timeout")
        args = js.js_arguments(site.call)
        line = syntax.line(site.call)
        opens.append(
            _Open(
                path=site.path,
                line=line,
                text=ctx.lines[line - 1].strip(),
                scope=key,
                function=js.js_function_name(function) if function is not None else "",
                database=js.js_string(js.unwrap(args[0])) if args else None,
                owned=site.kind == "owned",
                sets=frozenset(sets),
                calls=frozenset(
                    js.js_callee(c).rsplit(".", 1)[-1]
                    for c in syntax.of_type(scope_node, "call_expression")
                ),
                needs=frozenset(needs),
            )
        )
    return _Setting(opens, setters, handed), ("foreign_keys", "busy_timeout")


def _timeout_option(call: tree_sitter.Node) -> bool:
    for option in js.js_arguments(call)[1:]:
        option = js.unwrap(option)
        for pair in option.named_children if option.type == "object" else []:
            key = pair.child_by_field_name("key") if pair.type == "pair" else None
            value = pair.child_by_field_name("value") if pair.type == "pair" else None
            if key is not None and node_text(key) == "timeout":
                return value is None or node_text(value) != "0"
    return False


def _js_scope(ctx: FileContext, function: tree_sitter.Node | None) -> str:
    if function is None:
        return f"{ctx.source.path}:"
    return f"{ctx.source.path}:{syntax.line(function)}:{function.start_byte}"


def _enables(name: str, value: str) -> bool:
    if name == "foreign_keys":
        return value in _ON
    if name == "busy_timeout":
        return value.isdigit() and int(value) > 0
    return False


# ----------------------------------------------------------------------------- Rust


def _rust_setting(repo: RepoContext) -> tuple[_Setting, tuple[str, ...]]:
    files = [c for c in repo.in_language("rust") if not syntax.is_test_path(c.source.path)]
    schema = any(
        REFERENCES.search(text)
        for ctx in files
        for node in syntax.of_type(ctx.root, "string_literal", "raw_string_literal")
        if (text := rust.rust_string(node)) is not None
    ) or any(REFERENCES.search(s.text) for s in repo.other_sources if s.path.endswith(".sql"))
    if not schema:
        return _Setting([], {}, {}), ()
    setters: dict[str, set[str]] = {"foreign_keys": set()}
    handed: dict[str, set[str]] = {"foreign_keys": set()}
    sets_in: dict[str, set[str]] = {}
    for ctx in files:
        if "foreign_keys" not in ctx.source.text:
            continue
        uses = rust.use_paths(ctx.root)
        for pragma in rust_pragmas(ctx):
            if pragma.name != "foreign_keys" or pragma.value not in _ON:
                continue
            function = rust.enclosing_function(pragma.node)
            key = _js_scope(ctx, function)
            sets_in.setdefault(key, set()).add("foreign_keys")
            if function is not None:
                setters["foreign_keys"].add(rust.rust_function_name(function))
            scope = function if function is not None else ctx.root
            handed["foreign_keys"] |= _rust_calls(scope, uses)
    opens: list[_Open] = []
    for ctx in files:
        if "rusqlite" not in ctx.source.text:
            continue
        uses = rust.use_paths(ctx.root)
        for call in rust.rusqlite_opens(ctx.root, uses, ctx.imports, ctx.source.path):
            function = rust.enclosing_function(call)
            scope_node = function if function is not None else ctx.root
            key = _js_scope(ctx, function)
            args = rust.call_arguments(call)
            line = syntax.line(call)
            opens.append(
                _Open(
                    path=ctx.source.path,
                    line=line,
                    text=ctx.lines[line - 1].strip(),
                    scope=key,
                    function=rust.rust_function_name(function) if function is not None else "",
                    database=rust.rust_string(args[0]) if args else None,
                    owned=not _rust_parameter(args[0] if args else None, function),
                    sets=frozenset(sets_in.get(key, set())),
                    calls=frozenset(_rust_calls(scope_node, uses)),
                    needs=frozenset({"foreign_keys"}),
                )
            )
    return _Setting(opens, setters, handed), ("foreign_keys",)


def _rust_calls(scope: tree_sitter.Node, uses: dict[str, str]) -> set[str]:
    return {
        rust.method_name(c) or rust.call_path(c, uses).rsplit("::", 1)[-1]
        for c in syntax.of_type(scope, "call_expression")
    }


def _rust_parameter(node: tree_sitter.Node | None, function: tree_sitter.Node | None) -> bool:
    """The file argument is built from a parameter of the function (its caller names it)."""
    if node is None or function is None:
        return False
    parameters = function.child_by_field_name("parameters")
    if parameters is None:
        return False
    names = {
        node_text(p.child_by_field_name("pattern") or p).lstrip("&").removeprefix("mut ")
        for p in parameters.named_children
        if p.type == "parameter"
    }
    words = set(re.findall(r"[A-Za-z_]\w*", node_text(node)))
    return bool(words & names) and not any(w.isupper() for w in words)


# ----------------------------------------------------------------------------- the rules

_PY_DOC = """Per-connection PRAGMA foreign_keys=ON set on one connection, not on another.

What it finds:
    A schema that declares foreign keys (REFERENCES / FOREIGN KEY in SQL), where the code
    that opens one ``sqlite3`` / ``aiosqlite`` connection turns ``PRAGMA foreign_keys=ON``
    on (in the same function, or through a function of the repository that sets it), while
    another ``connect(...)`` of the application's own database file -- in a function that
    neither sets it, nor calls a function that does, nor hands its connection to code that
    sets it -- does not. Opens of a different literal file name are not compared.

Why it matters:
    WAL mode persists in the database file, but foreign_keys (like busy_timeout and
    synchronous) is a property of each connection, and SQLite starts every connection with
    it off. Setting it once at startup, or in one of several places that open the database,
    leaves every other connection unenforced: the writes made through them can delete
    parent rows under their children or insert rows that reference nothing.

Example:
    def init_db():
        conn = sqlite3.connect(DB_PATH)
        conn.execute("PRAGMA foreign_keys=ON")
        conn.executescript(SCHEMA)

    def get_connection():
        return sqlite3.connect(DB_PATH)       # every request's connection: FKs off

Use instead:
    def get_connection():
        conn = sqlite3.connect(DB_PATH)
        conn.execute("PRAGMA foreign_keys=ON")   # in the one factory every caller uses
        return conn
"""

_JS_DOC = """Per-connection PRAGMA (foreign_keys, busy_timeout) set on one connection, not another.

What it finds:
    JavaScript/TypeScript code that opens the application's own SQLite file in more than
    one place (better-sqlite3, node:sqlite, bun:sqlite, sqlite3), where one open's code sets
    a per-connection PRAGMA and another does not (neither in its own function nor through a
    function of the repository that sets it):
    ``foreign_keys = ON`` when the schema declares foreign keys, and a busy timeout
    (``PRAGMA busy_timeout`` or node:sqlite's ``timeout`` option) for node:sqlite and
    bun:sqlite opens, which have none by default. Opens of a different literal file name
    are not compared.

Why it matters:
    WAL mode persists in the database file, but foreign_keys and busy_timeout are properties
    of each connection. Setting them on the main connection leaves a second one (a worker's,
    a read-only handle, a migration script's) with foreign keys unenforced or with no busy
    timeout, so its writes can orphan rows or fail at once with SQLITE_BUSY.

Example:
    export const db = new DatabaseSync(DB_FILE, { timeout: 5000 });
    db.exec("PRAGMA foreign_keys = ON");
    export const openWorkerDb = () => new DatabaseSync(DB_FILE);   // neither setting

Use instead:
    export function openDb(): DatabaseSync {
      const db = new DatabaseSync(DB_FILE, { timeout: 5000 });
      db.exec("PRAGMA foreign_keys = ON");
      return db;                                   // the one factory every caller uses
    }
"""

_RUST_DOC = """Per-connection PRAGMA foreign_keys=ON set on one rusqlite connection, not another.

What it finds:
    A Rust repository whose schema declares foreign keys, where one function that opens a
    rusqlite connection (``Connection::open``) turns ``foreign_keys`` on
    (``pragma_update(None, "foreign_keys", "ON")`` or ``PRAGMA foreign_keys = ON``, itself
    or through a function of the repository that sets it), while another function opens
    the application's own database without it and does not hand its connection to code
    that sets it. sqlx connections are not matched: sqlx turns foreign keys on by default.

Why it matters:
    foreign_keys is a property of each connection and rusqlite opens every connection with
    SQLite's default, off. Setting it in one place (the startup connection, the migration
    runner) leaves the other connections unenforced: their deletes leave orphaned child
    rows and their inserts may reference missing rows.

Example:
    fn migrate(path: &Path) -> Result<()> {
        let conn = Connection::open(path)?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.execute_batch(SCHEMA)?;
        Ok(())
    }
    fn handle_delete(id: i64) -> Result<()> {
        let conn = Connection::open(DB_PATH)?;          // foreign keys off here
        conn.execute("DELETE FROM projects WHERE id = ?1", [id])?;
        Ok(())
    }

Use instead:
    fn open_db() -> Result<Connection> {
        let conn = Connection::open(DB_PATH)?;
        conn.pragma_update(None, "foreign_keys", "ON")?;   // every connection, one place
        Ok(conn)
    }
"""


def _meta(rule_id: str, languages: list[str], fix: str, checklist: list[str]) -> RuleMeta:
    return RuleMeta(
        id=rule_id,
        title="Per-connection SQLite PRAGMA set on one connection only",
        severity=Severity.MEDIUM,
        confidence=Confidence.MEDIUM,
        categories={"sqlite": "Connection"},
        checklist=checklist,
        problem=(
            "The connection opened at {configured} sets PRAGMA {pragma}, but the one opened "
            "at {where} (`{text}`) does not; {pragma} is per connection, {missing_effect}."
        ),
        scenario=(
            "The code that uses the connection opened at {where} runs after startup (a "
            "request, a worker, a script): it sees SQLite's defaults, not the settings made "
            "on the connection at {configured}."
        ),
        impact=(
            "Orphaned or dangling rows the schema forbids, or intermittent 'database is "
            "locked' failures, only on the code paths that use the second connection."
        ),
        how_to_verify=(
            "Through the connection opened at {where}, run `PRAGMA {pragma};` and compare "
            "it with the one opened at {configured}."
        ),
        fix=fix,
        trade_off=(
            "One factory for every connection adds an indirection; enabling foreign keys on "
            "a connection that wrote orphans before will make those code paths fail loudly "
            "(run PRAGMA foreign_key_check first)."
        ),
        effort_hours=(0.25, 1.0),
        languages=languages,
        experimental=True,
    )


def _rule(
    meta: RuleMeta, doc: str, setting: Callable[[RepoContext], tuple[_Setting, tuple[str, ...]]]
) -> Rule:
    def check_repo(repo: RepoContext) -> Iterator[Hit]:
        found, pragmas = setting(repo)
        yield from _check(found, pragmas)

    return Rule(meta=meta, doc=doc, check_repo=check_repo)


RULES = [
    _rule(
        _meta(
            "sqlite-pragma-not-on-every-connection",
            ["python"],
            "Open every connection through one factory that sets the per-connection PRAGMAs "
            '(`conn.execute("PRAGMA foreign_keys=ON")` right after `sqlite3.connect`), and '
            "call it at {where}.",
            ["sqlite.1C"],
        ),
        _PY_DOC,
        _py_setting,
    ),
    _rule(
        _meta(
            "js-sqlite-pragma-not-on-every-connection",
            js.JS_LANGUAGES,
            "Open every connection through one function that sets the per-connection "
            'settings (`db.pragma("foreign_keys = ON")` / `db.exec("PRAGMA foreign_keys = '
            'ON")`; node:sqlite `{ timeout: 5000 }`, bun:sqlite `PRAGMA busy_timeout = '
            "5000`), and use it at {where}.",
            ["sqlite.1C"],
        ),
        _JS_DOC,
        _js_setting,
    ),
    _rule(
        _meta(
            "rust-sqlite-pragma-not-on-every-connection",
            ["rust"],
            "Open every connection through one function that runs "
            '`conn.pragma_update(None, "foreign_keys", "ON")?` right after '
            "`Connection::open`, and use it at {where}.",
            ["sqlite.1C"],
        ),
        _RUST_DOC,
        _rust_setting,
    ),
]
