"""rusqlite schema declares foreign keys that the system SQLite leaves unenforced.

What it finds:
    A Rust repository that opens a file database with rusqlite, whose schema (a SQL string
    in a file using rusqlite, or a ``.sql`` file such a file names) declares ``REFERENCES``
    / ``FOREIGN KEY``, where no non-test code mentions ``foreign_keys`` and no
    ``Cargo.toml`` of the repository says ``bundled`` (rusqlite's and libsqlite3-sys's
    ``bundled`` build compiles SQLite with ``SQLITE_DEFAULT_FOREIGN_KEYS=1``, which turns
    enforcement on). Reported once, at the first ``Connection::open``.

Why it matters:
    Without the bundled build, rusqlite links the system SQLite, which keeps foreign-key
    enforcement off on every new connection unless ``PRAGMA foreign_keys = ON`` is run on
    it. The REFERENCES clauses (and their ON DELETE CASCADE) then do nothing: deleting a
    parent leaves its children behind, and rows pointing at missing parents are accepted.

Example:
    let conn = Connection::open(path)?;
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS items (
             id INTEGER PRIMARY KEY,
             list_id INTEGER NOT NULL REFERENCES lists(id) ON DELETE CASCADE)",
    )?;

Use instead:
    let conn = Connection::open(path)?;
    conn.pragma_update(None, "foreign_keys", "ON")?;  // per connection, every open
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from vibe_audit.rules import rust, syntax
from vibe_audit.rules.base import Hit, Rule, RuleMeta
from vibe_audit.rules.builtin.rust_rusqlite_wal_not_enabled import rust_pragma_after_open
from vibe_audit.rules.context import FileContext, RepoContext
from vibe_audit.rules.sqltext import REFERENCES
from vibe_audit.schemas import Confidence, Patch, PatchSafety, Severity

META = RuleMeta(
    id="rust-rusqlite-foreign-keys-off",
    title="Foreign keys declared but not enforced (rusqlite, PRAGMA foreign_keys off)",
    severity=Severity.HIGH,
    confidence=Confidence.HIGH,
    categories={"guardrails": "Referential Integrity", "concurrency": "Validation"},
    checklist=["guardrails.4A", "concurrency.7B", "concurrency.sqlite_checklist.3"],
    problem=(
        "The schema declares foreign keys ({reference}), but no connection runs PRAGMA "
        "foreign_keys = ON and rusqlite is not built with its bundled SQLite: the system "
        "SQLite leaves them unenforced, so referential integrity rests on application code "
        "alone."
    ),
    scenario=(
        "A parent row is deleted while other code still inserts its children, or a delete "
        "path relies on ON DELETE CASCADE (see {reference}): the child rows stay, pointing "
        "at nothing, and no error is raised."
    ),
    impact=(
        "Orphaned rows accumulate silently; joins return partial data and cleanup jobs miss them."
    ),
    how_to_verify=(
        "Query `PRAGMA foreign_keys` through a connection {function}() opens (returns 0), "
        "then run `PRAGMA foreign_key_check` on the database to list existing orphans."
    ),
    fix=(
        "Right after opening, in {function}():\n"
        '    conn.pragma_update(None, "foreign_keys", "ON")?;\n'
        "(on every connection: the setting is not stored in the file)."
    ),
    trade_off=(
        "Enforcement makes existing orphan-producing code paths fail loudly; run PRAGMA "
        "foreign_key_check and clean up orphans before enabling it."
    ),
    effort_hours=(0.5, 2.0),
    languages=["rust"],
)

_INCLUDED_SQL = re.compile(r"include_str!\s*\(\s*\"([^\"]+\.sql)\"")


def check_repo(repo: RepoContext) -> Iterator[Hit]:
    rust_files = [
        ctx for ctx in repo.in_language("rust") if not syntax.is_test_path(ctx.source.path)
    ]
    users = [ctx for ctx in rust_files if "rusqlite" in ctx.source.text]
    manifests = [s.text for s in repo.other_sources if s.path.endswith("Cargo.toml")]
    if not users or not any("rusqlite" in text for text in manifests):
        return  # no rusqlite dependency seen: how SQLite is built is unknown
    if any("bundled" in text for text in manifests):
        return  # bundled SQLite: compiled with SQLITE_DEFAULT_FOREIGN_KEYS=1
    if any("foreign_keys" in ctx.source.text.lower() for ctx in rust_files):
        return  # set (or decided) in code
    reference = _reference(users, repo)
    if reference is None:
        return
    opens = [
        (ctx, call)
        for ctx in users
        for call in rust.rusqlite_opens(
            ctx.root, rust.use_paths(ctx.root), ctx.imports, ctx.source.path
        )
    ]
    if not opens:
        return
    ctx, call = opens[0]
    function = rust.enclosing_function(call)
    yield Hit(
        path=ctx.source.path,
        start_line=syntax.line(call),
        end_line=syntax.end_line(call),
        symbol=rust.rust_symbol(call),
        details={
            "reference": reference,
            "function": rust.rust_function_name(function) if function else "main",
            "opens": str(len(opens)),
        },
    )


def fix(ctx: FileContext, hit: Hit) -> Patch | None:
    """Safe: turn foreign-key enforcement on right after the one ``Connection::open`` of the
    repository (its connection factory, so every connection gets it), where ``?`` on a
    rusqlite error compiles."""
    if hit.details.get("opens") != "1":
        return None  # several opens: each connection needs it, one patch would not do
    edit = rust_pragma_after_open(ctx, hit, '"foreign_keys", "ON"')
    if edit is None:
        return None
    return Patch(
        safety=PatchSafety.SAFE,
        description=f"set PRAGMA foreign_keys=ON right after Connection::open in "
        f"{hit.details.get('function') or 'main'}(), so the schema's REFERENCES are enforced "
        "on every connection",
        edits=[edit],
    )


def _reference(users: list[FileContext], repo: RepoContext) -> str | None:
    """'path:line' of the first REFERENCES / FOREIGN KEY in the rusqlite code's schema."""
    included: set[str] = set()
    for ctx in users:
        for node in syntax.of_type(ctx.root, "string_literal", "raw_string_literal"):
            text = rust.rust_string(node) or ""
            found = REFERENCES.search(text)
            if found and not rust.is_rust_test(node, ctx.source.path):
                line = syntax.line(node) + text.count("\n", 0, found.start())
                return f"{ctx.source.path}:{line}"
        included |= {m.rsplit("/", 1)[-1] for m in _INCLUDED_SQL.findall(ctx.source.text)}
    for source in repo.other_sources:
        if source.path.rsplit("/", 1)[-1] in included:
            found = REFERENCES.search(source.text)
            if found:
                return f"{source.path}:{source.text.count(chr(10), 0, found.start()) + 1}"
    return None


RULE = Rule(meta=META, doc=__doc__ or "", check_repo=check_repo, fix=fix)
