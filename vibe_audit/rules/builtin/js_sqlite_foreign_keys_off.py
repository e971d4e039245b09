"""Foreign keys declared, never enforced: bun:sqlite / sqlite3 without PRAGMA foreign_keys.

What it finds:
    A repository whose schema (a SQL string of its JS/TS code, or a .sql migration) declares
    REFERENCES / FOREIGN KEY constraints, and that opens SQLite with a driver that leaves
    foreign keys off, bun:sqlite (``new Database(file)``) or sqlite3 (``new
    sqlite3.Database(file)``, also through the ``sqlite`` wrapper's ``open({ driver })``),
    while no string sets ``PRAGMA foreign_keys`` on. better-sqlite3 (its bundled SQLite is
    built with SQLITE_DEFAULT_FOREIGN_KEYS=1) and node:sqlite (``enableForeignKeyConstraints``
    defaults to true) enforce them unless told otherwise and are not matched. A foreign_keys
    setting built from a variable cannot be read and is left alone.

Why it matters:
    SQLite ignores foreign keys unless each connection turns them on. The declared
    constraints (and their ON DELETE CASCADE actions) do nothing: deleting a parent leaves
    its child rows behind, and inserts that reference missing rows succeed.

Example:
    const db = new Database("app.db");              // bun:sqlite: foreign_keys is 0
    db.run(`CREATE TABLE items (list_id INTEGER REFERENCES lists(id) ON DELETE CASCADE)`);

Use instead:
    const db = new Database("app.db");
    db.run("PRAGMA foreign_keys = ON");             // per connection, every open
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import tree_sitter

from vibe_audit.chunker.parsing import node_text
from vibe_audit.rules import js, patching, syntax
from vibe_audit.rules.base import Hit, Rule, RuleMeta
from vibe_audit.rules.context import FileContext, RepoContext
from vibe_audit.rules.sqltext import REFERENCES
from vibe_audit.schemas import Confidence, Patch, PatchSafety, Severity

META = RuleMeta(
    id="js-sqlite-foreign-keys-off",
    title="Foreign keys declared but not enforced (bun:sqlite / sqlite3)",
    severity=Severity.HIGH,
    confidence=Confidence.HIGH,
    categories={"guardrails": "Referential Integrity", "concurrency": "Validation"},
    checklist=["guardrails.4A", "concurrency.7B", "concurrency.sqlite_checklist.3"],
    problem=(
        "The schema declares foreign keys ({reference}), but the database is opened with "
        "{module}, which leaves PRAGMA foreign_keys off, and no code turns it on: the "
        "constraints and their ON DELETE actions are not enforced."
    ),
    scenario=(
        "A parent row is deleted (or a child row inserted for a parent that does not exist, "
        "see {reference}): SQLite accepts it, and the child rows stay, pointing at nothing."
    ),
    impact=(
        "Orphaned rows accumulate silently; cascades the schema promises never run, joins "
        "return partial data and cleanup jobs miss them."
    ),
    how_to_verify=(
        "Run `SELECT * FROM pragma_foreign_keys` through the app's connection (returns 0), "
        "then `PRAGMA foreign_key_check` on the database to list existing orphans."
    ),
    fix=(
        "Right after opening the database ({where}), run "
        '`db.run("PRAGMA foreign_keys = ON")` (bun:sqlite) / '
        '`db.exec("PRAGMA foreign_keys = ON")` (sqlite3): it is per connection, so on every '
        "open."
    ),
    trade_off=(
        "Enforcement makes existing orphan-producing code paths fail loudly; run PRAGMA "
        "foreign_key_check and clean up orphans before enabling it."
    ),
    effort_hours=(0.5, 2.0),
    languages=js.JS_LANGUAGES,
)

_ON = frozenset({"on", "1", "true", "yes"})
_UNENFORCED = ("bun:sqlite", "sqlite3")
_OTHER_DATABASES = (
    "pg", "postgres", "mysql", "mysql2", "mariadb", "@neondatabase", "@vercel/postgres",
    "@supabase", "knex", "@prisma", "prisma", "typeorm", "sequelize", "mssql", "tedious",
    "oracledb", "drizzle-orm/pg-core", "drizzle-orm/mysql-core", "kysely",
)  # fmt: skip
# Column types and clauses of PostgreSQL / MySQL DDL that SQLite schemas do not use.
_OTHER_DIALECT = re.compile(
    r"\b(SERIAL|BIGSERIAL|TIMESTAMPTZ|JSONB|gen_random_uuid|AUTO_INCREMENT|ENGINE\s*=|ENUM\s*\()",
    re.I,
)


def check_repo(repo: RepoContext) -> Iterator[Hit]:
    files = [
        ctx
        for ctx in repo.in_language(*js.JS_LANGUAGES)
        if not syntax.is_test_path(ctx.source.path)
    ]
    opens: list[tuple[str, tree_sitter.Node, str]] = []
    reference: str | None = None
    # With another SQL database in the repository, a schema counts only in a file that
    # uses the SQLite driver itself.
    other_db = any(name.startswith(_OTHER_DATABASES) for ctx in files for name in ctx.imports)
    for ctx in files:
        text = ctx.source.text
        if "sqlite" not in text and "REFERENCES" not in text.upper():
            continue
        for _node, name, value in js.pragma_settings(ctx.root):
            if name == "foreign_keys" and (value in _ON or not value):
                return  # enforced, or set from a variable
        for node, string in js.strings(ctx.root):
            if "foreign_keys" in string and "${" in string:
                return
            found = REFERENCES.search(string)
            if found and _OTHER_DIALECT.search(string):
                continue
            if found and other_db and not ctx.imports & {*_UNENFORCED, "sqlite"}:
                continue
            if found and reference is None:
                line = syntax.line(node) + string.count("\n", 0, found.start())
                reference = f"{ctx.source.path}:{line}"
        for call, module in js.sqlite_opens(ctx.root):
            if module in _UNENFORCED and js.opened_database(call, module) != "memory":
                opens.append((ctx.source.path, call, module))
        opens += [(ctx.source.path, call, "sqlite3") for call in _wrapper_opens(ctx.root)]
    if reference is None and not other_db:
        for source in repo.other_sources:
            found = REFERENCES.search(source.text) if source.path.endswith(".sql") else None
            if found and not _OTHER_DIALECT.search(source.text):
                line = source.text.count("\n", 0, found.start()) + 1
                reference = f"{source.path}:{line}"
                break
    if reference is None or not opens:
        return
    path, call, module = opens[0]
    yield Hit(
        path=path,
        start_line=syntax.line(call),
        end_line=syntax.line(call),
        symbol=js.js_symbol(call),
        details={
            "reference": reference,
            "module": module,
            "text": node_text(call),
        },
    )


def _wrapper_opens(root: tree_sitter.Node) -> list[tree_sitter.Node]:
    """``open({ filename, driver: sqlite3.Database })`` calls of the ``sqlite`` wrapper."""
    classes = {name for name, module in js.sqlite_classes(root).items() if module == "sqlite3"}
    found = []
    for call in syntax.of_type(root, "call_expression"):
        if js.js_callee(call).rsplit(".", 1)[-1] != "open":
            continue
        args = js.js_arguments(call)
        config = js.unwrap(args[0]) if args else None
        if config is None or config.type != "object":
            continue
        for pair in config.named_children:
            key = pair.child_by_field_name("key") if pair.type == "pair" else None
            value = pair.child_by_field_name("value") if pair.type == "pair" else None
            if (
                key is not None
                and value is not None
                and node_text(key) == "driver"
                and node_text(value) in classes
            ):
                found.append(call)
    return found


def fix(ctx: FileContext, hit: Hit) -> Patch | None:
    """Safe: run ``PRAGMA foreign_keys = ON`` on the connection right after the statement
    that opens it: ``db.run(...)`` for bun:sqlite, ``db.exec(...)`` for sqlite3 (which queues
    it before any later statement), ``await db.exec(...)`` after the ``sqlite`` wrapper's ``await
    open({...})``. Not for an open that is not bound by a statement of its own (a class
    field, a ``return``), nor a wrapper open that is not awaited there."""
    found = js.sqlite_open_at(ctx, hit.start_line)
    prefix = ""
    if found is not None and found[1] in _UNENFORCED:
        call, module = found
    else:
        wrapped = [c for c in _wrapper_opens(ctx.root) if syntax.line(c) == hit.start_line]
        if len(wrapped) != 1 or found is not None:
            return None
        call, module, prefix = wrapped[0], "sqlite", "await "
        if call.parent is None or call.parent.type != "await_expression":
            return None
    bound = js.bound_statement(call)
    if bound is None:
        return None
    statement, name = bound
    semicolon = ";" if node_text(statement).rstrip().endswith(";") else ""
    pragma = js.run_pragma(module, name, "foreign_keys = ON", js.quote_style(ctx.root), semicolon)
    return Patch(
        safety=PatchSafety.SAFE,
        description=f"turn foreign key enforcement on for {name} right after the open (PRAGMA "
        "foreign_keys is per connection and off by default): the declared REFERENCES and "
        "their ON DELETE actions are enforced",
        edits=[patching.insert_after(ctx, statement, [prefix + pragma])],
    )


RULE = Rule(meta=META, doc=__doc__ or "", check_repo=check_repo, fix=fix)
