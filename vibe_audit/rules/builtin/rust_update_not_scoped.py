"""UPDATE keyed only by id: a status change with no expected-state guard, or a child row
changed without its owner's id.

What it finds:
    In a non-test Rust function, an ``UPDATE <table> SET ... WHERE id = <param>`` (string
    literal or file ``const``; the WHERE clause is exactly one equality on ``id``) that
    either
      1. assigns a string literal to a status/state column (``status``, ``state``,
         ``*_status``, ``*_state``): a hard-coded transition that assumes the current
         state (a generic setter binding the new status, ``SET status = $2``, is not
         flagged). Not flagged either when a statement of the function takes a row lock
         (``FOR UPDATE``, advisory lock), on SQLite when the function opens a
         transaction, or when the update is the second half of a claim that
         ``rust-claim-without-skip-locked`` reports; or
      2. changes a row of a child table while the function receives its owner's id
         (a parameter named ``document_id`` / ``doc_id`` / ``user_id`` / ``tenant_id`` /
         ``account_id`` / ``org_id`` / ``project_id`` / ``workspace_id`` / ``owner_id``,
         optionally ``_``-prefixed) that the body never uses and the statement never
         names, and the table is not the owner's own table.
    An UPDATE that bumps a version/revision column (``revision = revision + 1``) is not
    flagged: the write itself marks concurrent work on the old version as stale.

Why it matters:
    1. ``SET status = 'processing' WHERE id = $1`` succeeds whatever the current status
       is: a worker can move a cancelled or already completed job back to
       processing, and two workers racing on the same row both "win". The expected
       current state belongs in the WHERE clause, checked through rows_affected.
    2. A child row's id taken from the request is trusted to belong to the parent
       in the URL: a stale client, a bug or a malicious user edits a row of another
       parent (or tenant).

Example:
    sqlx::query("UPDATE jobs SET status = 'processing' WHERE id = $1")
        .bind(id).execute(&pool).await?;

Use instead:
    let claimed = sqlx::query(
        "UPDATE jobs SET status = 'processing' WHERE id = $1 AND status = 'pending'")
        .bind(id).execute(&pool).await?;
    if claimed.rows_affected() == 0 { return Err(Error::NotPending(id)); }

    // and for child rows: ... WHERE id = $1 AND project_id = $2
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import tree_sitter

from vibe_audit.chunker.parsing import node_text
from vibe_audit.rules import rust, sqltext, syntax
from vibe_audit.rules.base import Hit, Rule, RuleMeta, node_hit
from vibe_audit.rules.context import FileContext
from vibe_audit.schemas import Confidence, Severity

META = RuleMeta(
    id="rust-update-not-scoped",
    title="UPDATE keyed only by id (no state guard or owner scope)",
    severity=Severity.MEDIUM,
    confidence=Confidence.MEDIUM,
    categories={
        "concurrency": "Race Condition",
        "guardrails": "Row Locking",
        "checkpoint": "Concurrency",
    },
    checklist=[
        "concurrency.3A",
        "concurrency.3C",
        "guardrails.2A",
        "guardrails.5A",
        "checkpoint.6D",
    ],
    problem="{function}() runs `{sql}`: {reason}.",
    scenario="{scenario}",
    impact=(
        "{table} rows move to states the workflow forbids (a completed or cancelled row back "
        "to an earlier state, two workers owning one job) or another owner's rows change; "
        "both are silent and hard to trace."
    ),
    how_to_verify="{verify}",
    fix="{fix}",
    trade_off=(
        "Guarded updates can affect zero rows: every caller must check rows_affected and "
        "decide (retry, skip, report a conflict) instead of assuming success."
    ),
    effort_hours=(0.25, 1.0),
    languages=["rust"],
)

_ID_ONLY = re.compile(r"^\(?\s*(?:\w+\.)?\"?id\"?\s*=\s*(?:\$\d+|\?\d*|:\w+|@\w+)\s*\)?$", re.I)
_LITERAL_STATUS = re.compile(sqltext.STATUS_COLUMN + r"\s*=\s*'", re.I)
# `revision = revision + 1`: the write itself invalidates concurrent work on the old version.
_VERSION_BUMP = re.compile(r"\b(\w*(?:version|revision))\s*=\s*\1\s*\+", re.I)
_OWNER = re.compile(
    r"^_?(document|doc|user|tenant|account|org|organization|project|workspace|owner)_id$"
)
_LOG_MACROS = frozenset(
    {"trace", "debug", "info", "warn", "error", "println", "eprintln", "print", "eprint",
     "dbg", "event", "span", "info_span", "debug_span", "log"}
)  # fmt: skip
_STATUS = {
    "reason": (
        "the status changes whatever the row's current status is, because the WHERE clause "
        "names only the id"
    ),
    "scenario": (
        "A user cancels the {table} row (or another worker finishes it) just before this "
        "statement runs: the update still succeeds and moves the row back to the state "
        "this code assumed it was leaving."
    ),
    "verify": (
        "Set the row to a final status (completed / cancelled), call {function}() for it: "
        "the status is overwritten and rows_affected is 1."
    ),
    "fix": (
        "Add the expected current status to the WHERE clause (`... WHERE id = $1 AND "
        "status = 'pending'`), check rows_affected() == 1 and handle 0 as a conflict; or "
        "lock the row with SELECT ... FOR UPDATE in the same transaction first."
    ),
}
_OWNER_SCOPE = {
    "reason": (
        "the {table} row is chosen by its id alone although the function receives "
        "{owner} and never uses it, so the row may belong to another owner"
    ),
    "scenario": (
        "A request for one {owner_word} passes the id of a {table} row that belongs to "
        "another (stale client state, a bug, or a crafted request): the other row is "
        "changed."
    ),
    "verify": (
        "Call {function}() with the {owner} of one {owner_word} and the id of a {table} "
        "row of another: the foreign row is updated."
    ),
    "fix": (
        "Scope the statement by its owner: `... WHERE id = $1 AND {column} = $2` binding "
        "{owner}, and treat rows_affected() == 0 as not found."
    ),
}


def check_file(ctx: FileContext) -> Iterator[Hit]:
    text = ctx.source.text
    if "UPDATE" not in text.upper() or syntax.is_test_path(ctx.source.path):
        return
    sqlite = "sqlite" in text.lower()
    constants = rust.string_constants(ctx.root)
    for function in rust.rust_functions(ctx.root):
        statements = rust.function_sql(function, constants)
        updates = [
            (node, sql, update)
            for node, sql in statements
            if (update := sqltext.parse_update(sql)) is not None and _ID_ONLY.match(update.where)
        ]
        if not updates or rust.is_rust_test(function, ctx.source.path):
            continue
        status_ok = _status_guarded(function, statements, constants, sqlite)
        owners = _unused_owner_ids(function)
        name = rust.rust_function_name(function)
        for node, sql, update in updates:
            details = {"function": name, "table": update.table, "sql": _short(sql)}
            if _VERSION_BUMP.search(update.assignments):
                continue
            if _LITERAL_STATUS.search(update.assignments) and node.id not in status_ok:
                texts = _STATUS
            else:
                owner = _owner_of(update, sql, owners)
                if owner is None:
                    continue
                word = _OWNER.match(owner)
                details |= {
                    "owner": owner,
                    "owner_word": word.group(1) if word else owner,
                    "column": owner.lstrip("_"),
                }
                texts = _OWNER_SCOPE
            for key, template in texts.items():
                details[key] = template.format(**details)
            yield node_hit(
                ctx,
                node,
                details=details,
            )


def _status_guarded(
    function: tree_sitter.Node,
    statements: list[tuple[tree_sitter.Node, str]],
    constants: dict[str, str],
    sqlite: bool,
) -> set[int]:
    """Ids of UPDATE nodes whose status change is protected (or reported by the claim
    rule): every UPDATE when the function locks rows or is a SQLite transaction."""
    every = {node.id for node, _ in statements}
    if any(
        re.search(r"\bFOR\s+(NO\s+KEY\s+)?UPDATE\b|pg_advisory", sql, re.I) for _, sql in statements
    ):
        return every
    if sqlite and next(rust.rust_method_calls(function, "begin", "begin_with"), None):
        return every
    return {claim.update.id for claim in rust.unlocked_claims(function, constants, sqlite)}


def _unused_owner_ids(function: tree_sitter.Node) -> list[str]:
    """Owner-id parameters (``document_id``...) the body never uses outside log macros,
    when the function also takes another id parameter (the child row's)."""
    params = function.child_by_field_name("parameters")
    if params is None:
        return []
    names = [
        node_text(ident)
        for param in params.named_children
        if (pattern := param.child_by_field_name("pattern")) is not None
        for ident in [pattern, *syntax.of_type(pattern, "identifier")]
        if ident.type == "identifier"
    ]
    owners = [n for n in names if _OWNER.match(n)]
    others = [n for n in names if n not in owners and (n == "id" or n.endswith("_id"))]
    if not owners or not others:
        return []
    used = {
        node_text(node)
        for node in rust.rust_body_nodes(function)
        if node.type == "identifier" and not _in_log_macro(node)
    }
    return [owner for owner in owners if owner not in used]


def _in_log_macro(node: tree_sitter.Node) -> bool:
    current = node.parent
    while current is not None and current.type != "function_item":
        if current.type == "macro_invocation":
            macro = current.child_by_field_name("macro")
            if macro is not None and node_text(macro).rsplit("::", 1)[-1] in _LOG_MACROS:
                return True
        current = current.parent
    return False


def _owner_of(update: sqltext.Update, sql: str, owners: list[str]) -> str | None:
    """The unused owner id whose column the statement never names, for a child table."""
    for owner in owners:
        word = _OWNER.match(owner)
        entity = word.group(1) if word else owner
        if update.table.startswith(entity) or owner.lstrip("_") in sql.lower():
            continue
        return owner
    return None


def _short(sql: str) -> str:
    text = " ".join(sql.split())
    return text if len(text) <= 120 else text[:117] + "..."


RULE = Rule(meta=META, doc=__doc__ or "", check_file=check_file)
