"""A column read, changed in Python and written back with no conflict check (lost update).

What it finds:
    A Python function that SELECTs a column of some rows of a table (a SELECT with a WHERE
    clause; the SQL a literal, ``text("...")`` or a string constant of the file), fetches
    the result into a name (``row = ....fetchone()``, ``cur.fetchone()``; rows iterated in
    a ``for`` loop, a batch backfill, do not count), computes a new value from it, and writes
    it back with ``UPDATE <same table> SET <column> = ? WHERE ...`` where the value bound to
    that placeholder is derived from the row, the WHERE clause checks neither the old value
    nor a version column, and nothing locks the row in between (``BEGIN IMMEDIATE`` /
    ``EXCLUSIVE``, ``FOR UPDATE``, a ``with ...lock:`` block around the UPDATE). Status /
    state columns are left to the check-then-act rules; ``SET n = n + 1`` is atomic in SQL
    and not matched.

Why it matters:
    Two requests or workers that run the function for the same row at once both read the
    old value, both compute from it, and the second UPDATE overwrites the first: one
    increment, one appended item, one balance change is silently lost. Nothing fails, so
    the loss shows up only as wrong numbers later.

Example:
    row = conn.execute("SELECT credits FROM accounts WHERE id = ?", (user_id,)).fetchone()
    credits = row["credits"] - cost
    conn.execute("UPDATE accounts SET credits = ? WHERE id = ?", (credits, user_id))
    conn.commit()

Use instead:
    cur = conn.execute(
        "UPDATE accounts SET credits = credits - ? WHERE id = ? AND credits >= ?",
        (cost, user_id, cost),
    )  # one atomic statement; or: ... WHERE id = ? AND version = ? and check rowcount
    conn.commit()
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import tree_sitter

from vibe_audit.chunker.parsing import node_text
from vibe_audit.rules import pytxn_util as tx
from vibe_audit.rules import syntax
from vibe_audit.rules.base import Hit, Rule, RuleMeta, node_hit
from vibe_audit.rules.context import FileContext, RepoContext
from vibe_audit.rules.sqltext import LOCKS_ROWS, STATUS_WORD, parse_update
from vibe_audit.schemas import Confidence, Severity

META = RuleMeta(
    id="sqlite-read-modify-write-lost-update",
    title="Value read, changed in code and written back without a conflict check",
    severity=Severity.MEDIUM,
    confidence=Confidence.MEDIUM,
    categories={"concurrency": "Race Condition", "guardrails": "Row Locking"},
    checklist=["concurrency.3C"],
    problem=(
        "{function}() reads {column} from {table}, computes the new value in code and "
        "writes it back with `{update}`, whose WHERE clause does not check that {column} "
        "is still what was read: a concurrent change in between is overwritten."
    ),
    scenario=(
        "Two calls of {function}() for the same row overlap: both read the same {column}, "
        "both compute from it, and the later UPDATE replaces the earlier one, so one of "
        "the two changes is lost without any error."
    ),
    impact=(
        "Silently lost updates (counters, balances, lists stored in a column) under "
        "concurrent requests or workers."
    ),
    how_to_verify=(
        "Run {function}() twice concurrently for one row (two threads, a sleep between "
        "the SELECT and the UPDATE) and compare the final {column} with the expected "
        "result of both changes."
    ),
    fix=(
        "Do the change in one statement (`SET {column} = {column} + ?`), or add the old "
        "value or a version column to the WHERE clause and retry when rowcount is 0, or "
        "read and write inside BEGIN IMMEDIATE."
    ),
    trade_off=(
        "An optimistic check needs a retry loop in the caller; BEGIN IMMEDIATE serializes "
        "writers for the duration of the read-modify-write."
    ),
    effort_hours=(0.25, 1.0),
    experimental=True,
    needs_concurrency=True,
)

_PLACEHOLDER = r"(\?|%s|:\w+|%\(\w+\)s)"
_ASSIGNMENT = re.compile(r"[\"`\[]?(\w+)[\"`\]]?\s*=\s*" + _PLACEHOLDER + r"\s*(?:,|$)", re.S)
_VERSION = re.compile(r"\b\w*(version|revision|rev|etag|updated_at|modified_at)\b", re.I)
_SELECTED = re.compile(r"^\s*SELECT\s+(.*?)\s+FROM\b", re.I | re.S)
_FETCH = frozenset({"fetchone", "fetchall", "fetchmany", "first", "one", "scalar"})


def check_repo(repo: RepoContext) -> Iterator[Hit]:
    for ctx in tx.database_files(repo):
        if "UPDATE" not in ctx.source.text.upper():
            continue
        for function in syntax.functions(ctx.root):
            hit = _check_function(ctx, function)
            if hit is not None:
                yield hit


def _check_function(ctx: FileContext, function: tree_sitter.Node) -> Hit | None:
    if LOCKS_ROWS.search(node_text(function)):
        return None
    stmts = tx.statements(function, tx.constants_of(ctx, function))
    reads = [s for s in stmts if s.verb == "SELECT" and s.table]
    if not reads:
        return None
    for update in (s for s in stmts if s.verb == "UPDATE" and s.table):
        parsed = parse_update(update.sql)
        if parsed is None or _VERSION.search(parsed.where) or _under_lock(update.call, function):
            continue
        for read in reads:
            if read.table != update.table or read.call.start_byte > update.call.start_byte:
                continue
            if not re.search(r"\bWHERE\b", read.sql, re.I):
                continue  # a batch over the whole table (a backfill), not one record
            if tx.exclusive(read.call, update.call):
                continue
            selected = _selected_columns(read.sql)
            tainted = _derived_names(function, read)
            if not tainted:
                continue
            for index, column in _placeholder_columns(parsed.assignments):
                if STATUS_WORD.search(column) or re.search(
                    rf"\b{re.escape(column)}\b", parsed.where, re.I
                ):
                    continue
                if "*" not in selected and column.lower() not in selected:
                    continue
                value = _bound_value(update.call, index, column)
                if value is None or not _identifiers(value) & tainted:
                    continue
                return node_hit(
                    ctx,
                    read.call,
                    until=update.call,
                    named_by=function,
                    details={
                        "function": syntax.function_name(function),
                        "table": update.table,
                        "column": column,
                        "update": tx.short_sql(update.sql, 70),
                    },
                )
    return None


def _selected_columns(sql: str) -> set[str]:
    match = _SELECTED.match(sql)
    if match is None:
        return set()
    columns = set()
    for part in match.group(1).split(","):
        words = re.findall(r"\w+|\*", part)
        if words:
            columns.add(words[-1].lower())  # the alias, or the column itself
            columns.update(w.lower() for w in words)
    return columns


def _derived_names(function: tree_sitter.Node, read: tx.Statement) -> set[str]:
    """Names bound to the read's result, and names computed from them later (in order)."""
    tainted: set[str] = set()
    cursor = read.receiver
    for assignment in syntax.body_nodes(function, "assignment", "augmented_assignment"):
        if assignment.end_byte < read.call.start_byte:
            continue
        left = assignment.child_by_field_name("left")
        right = assignment.child_by_field_name("right")
        if left is None or right is None:
            continue
        from_read = tx.inside(read.call, right) or _fetches_from(right, cursor)
        if from_read or _identifiers(right) & tainted:
            tainted |= _identifiers(left) if left.type != "attribute" else set()
    return tainted


def _fetches_from(node: tree_sitter.Node, cursor: str) -> bool:
    """``cur.fetchone()`` (and the like) on the cursor the SELECT ran on."""
    if not cursor:
        return False
    for call in [node, *syntax.walk(node)]:
        if call.type == "call":
            name = syntax.callee(call)
            if syntax.last_name(name) in _FETCH and name.rsplit(".", 1)[0] == cursor:
                return True
    return False


def _placeholder_columns(assignments: str) -> Iterator[tuple[int, str]]:
    """(index of the placeholder among the SET list's placeholders, column) for every
    ``column = ?`` assignment."""
    index = 0
    for part in _split(assignments):
        match = _ASSIGNMENT.match(part.strip() + ",")
        placeholders = len(re.findall(_PLACEHOLDER, part))
        if match:
            yield index, match.group(1)
        index += placeholders


def _split(assignments: str) -> list[str]:
    parts, depth, current = [], 0, ""
    for char in assignments:
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        if char == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += char
    parts.append(current)
    return parts


def _bound_value(call: tree_sitter.Node, index: int, column: str) -> tree_sitter.Node | None:
    """The argument bound to the index-th placeholder (a tuple / list literal), or to the
    ``:column`` key of a dict literal."""
    args = syntax.positional_args(call)
    if len(args) < 2:
        return None
    params = args[1]
    if params.type in {"tuple", "list"}:
        items = [c for c in params.named_children if c.type != "comment"]
        return items[index] if index < len(items) else None
    if params.type == "dictionary":
        for pair in params.named_children:
            key = pair.child_by_field_name("key")
            if key is not None and syntax.string_value(key) == column:
                return pair.child_by_field_name("value")
    return None


def _under_lock(call: tree_sitter.Node, function: tree_sitter.Node) -> bool:
    node = call.parent
    while node is not None and node.id != function.id:
        if node.type == "with_statement" and any(
            re.search(r"lock|mutex|semaphore", node_text(i), re.I) for i in tx.with_items(node)
        ):
            return True
        node = node.parent
    return False


def _identifiers(node: tree_sitter.Node) -> set[str]:
    found = {node_text(n) for n in syntax.walk(node) if n.type == "identifier"}
    if node.type == "identifier":
        found.add(node_text(node))
    return found


RULE = Rule(meta=META, doc=__doc__ or "", check_repo=check_repo)
