"""Foreign keys declared in the schema, never enforced by SQLite.

What it finds:
    A schema that declares REFERENCES / FOREIGN KEY constraints (in SQL, not in docstrings or
    prose: a parenthesised column list is required), in a repository whose SQLite
    connections to its own database (or to a file whose schema the same function creates)
    never run ``PRAGMA foreign_keys=ON``.

Why it matters:
    SQLite ignores foreign keys unless each connection turns them on. The declared
    constraint documents an invariant that nothing enforces: deleting a parent row leaves
    orphans, and inserts that reference missing rows succeed.

Example:
    CREATE TABLE order_items (order_id TEXT REFERENCES orders(id))
    conn = sqlite3.connect("app.db")          # foreign_keys is OFF

Use instead:
    conn = sqlite3.connect("app.db")
    conn.execute("PRAGMA foreign_keys=ON")    # on every connection
"""

from __future__ import annotations

from collections.abc import Iterator

from vibe_audit.rules import syntax
from vibe_audit.rules.base import Hit, Rule, RuleMeta
from vibe_audit.rules.builtin.sqlite_wal_not_enabled import after_connect, connect_call
from vibe_audit.rules.context import FileContext, RepoContext
from vibe_audit.schemas import Confidence, Patch, PatchSafety, Severity

META = RuleMeta(
    id="sqlite-foreign-keys-off",
    title="Foreign keys declared but not enforced (PRAGMA foreign_keys is off)",
    severity=Severity.HIGH,
    confidence=Confidence.HIGH,
    categories={"guardrails": "Referential Integrity", "concurrency": "Validation"},
    checklist=["guardrails.4A", "concurrency.7B", "concurrency.sqlite_checklist.3"],
    problem=(
        "The schema declares foreign keys ({reference}), but no connection enables "
        "PRAGMA foreign_keys=ON, and SQLite leaves them unenforced by default. Referential "
        "integrity rests on application code alone."
    ),
    scenario=(
        "A parent row is deleted while other code still inserts its child rows, or a delete "
        "path forgets a child table (see {reference}): the child rows stay, pointing at "
        "nothing."
    ),
    impact=(
        "Orphaned rows accumulate silently; joins return partial data and cleanup jobs "
        "miss them. Likely under concurrent delete + process."
    ),
    how_to_verify=(
        'Run `sqlite3 <your.db> "PRAGMA foreign_keys;"` from the app\'s connection (prints 0), '
        'then `sqlite3 <your.db> "PRAGMA foreign_key_check;"` to list existing orphans.'
    ),
    fix=(
        "In the connection factory ({symbol}), after connecting:\n"
        '    conn.execute("PRAGMA foreign_keys=ON")\n'
        "and add ON DELETE CASCADE (or RESTRICT) to the child tables' REFERENCES clauses."
    ),
    trade_off=(
        "Enforcement makes existing orphan-producing code paths fail loudly; run "
        "PRAGMA foreign_key_check and clean up orphans before enabling it."
    ),
    effort_hours=(0.5, 2.0),
)


_ON = frozenset({"on", "1", "true", "yes"})  # PRAGMA foreign_keys values that enable it


def check_repo(repo: RepoContext) -> Iterator[Hit]:
    facts = repo.facts
    if not facts.schema_connect_sites or not facts.schema_references:
        return
    value = facts.pragma_value("foreign_keys")
    if value in _ON:
        return
    if value is None and "foreign_keys" in facts.pragma_mentions:
        return  # set from code (a formatted PRAGMA, a settings table): not decidable here
    first = min(facts.schema_connect_sites, key=lambda s: (s.path, s.line))
    reference = facts.schema_references[0]
    yield Hit(
        path=first.path,
        start_line=first.line,
        end_line=first.line,
        symbol=first.symbol,
        details={
            "reference": f"{reference.path}:{reference.line}",
            "symbol": first.symbol or first.path,
            "fix_connections": str(len(facts.schema_connect_sites)),  # for the fixer
        },
    )


def clears(repo: RepoContext) -> list[str]:
    """foreign_keys=ON set by a literal PRAGMA: the enforcement items are satisfied."""
    if repo.facts.pragma_value("foreign_keys") in _ON:
        return ["guardrails.4A", "concurrency.sqlite_checklist.3"]
    return []


def fix(ctx: FileContext, hit: Hit) -> Patch | None:
    """Safe: ``PRAGMA foreign_keys=ON`` right after the connect in the one connection factory
    (the only site that opens the database). Not when several sites open it: the setting is
    per connection, and one of them alone would leave the others unenforced."""
    if hit.details.get("fix_connections") != "1":
        return None
    call = connect_call(ctx, hit.start_line)
    setup = after_connect(ctx, call, ["PRAGMA foreign_keys=ON"]) if call is not None else None
    if call is None or setup is None:
        return None
    edit, name = setup
    return Patch(
        safety=PatchSafety.SAFE,
        description=f"enable foreign_keys on {name} right after {syntax.callee(call)}() "
        "(a per-connection setting; run PRAGMA foreign_key_check first to find existing "
        "orphans)",
        edits=[edit],
    )


RULE = Rule(meta=META, doc=__doc__ or "", check_repo=check_repo, clears=clears, fix=fix)
