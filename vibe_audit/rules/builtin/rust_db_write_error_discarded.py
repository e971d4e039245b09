"""Database write whose error is discarded (``let _ =``, ``.ok();``, ``.unwrap_or_default()``).

What it finds:
    The result of a database write thrown away: ``let _ = <write>;``, ``<write>.ok();`` or
    ``<write>.unwrap_or_default()`` / ``.unwrap_or(..)``, where ``<write>`` is a rusqlite
    ``conn.execute("INSERT/UPDATE/DELETE ...", ..)`` / ``execute_batch``, a sqlx
    ``query("UPDATE ...").execute(..).await``, or a call of a function of the repository
    (by a specific name, not ``insert`` / ``update`` / ...) that returns a Result and
    executes such a statement. Not reported: test code, ``Drop`` implementations (which
    cannot return an error) and a cache's code (a module or function named ``*cache*``: a
    lost cache write costs a recomputation, not data).

Why it matters:
    "database is locked" (SQLite), a pool timeout, a dropped connection or a constraint
    violation is an ordinary outcome of a write. Discarding it means the write is lost while
    the code goes on as if it happened: a status never changes, the row stays stuck in its
    old state, and nothing is logged.

Example:
    let _ = conn.execute("UPDATE jobs SET status = 'done' WHERE id = ?1", [job_id]);

Use instead:
    conn.execute("UPDATE jobs SET status = 'done' WHERE id = ?1", [job_id])
        .with_context(|| format!("marking job {job_id} done"))?;
    // or, where the caller cannot fail: log it with the id, and count it in a metric
    if let Err(e) = set_status(&pool, job_id, "failed").await {
        tracing::error!(job_id, error = %e, "could not record the job's failure");
    }
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import tree_sitter

from vibe_audit.chunker.parsing import node_text
from vibe_audit.rules import rust, syntax
from vibe_audit.rules.base import Hit, Rule, RuleMeta, node_hit
from vibe_audit.rules.context import RepoContext
from vibe_audit.rules.sqltext import is_write, parse_update, sql_verb, statement, where_clause
from vibe_audit.schemas import Confidence, Severity

META = RuleMeta(
    id="rust-db-write-error-discarded",
    title="Database write error discarded (let _ = / .ok() on a write)",
    severity=Severity.MEDIUM,
    confidence=Confidence.HIGH,
    categories={
        "sqlite": "Error Handling",
        "reliability": "Error Handling",
        "guardrails": "Monitoring/Recovery",
    },
    checklist=["sqlite.7A", "sqlite.7B", "reliability.7.3", "reliability.2.3", "reliability.obs.1"],
    problem=(
        "{function}() discards the result of {write} with `{discard}`: when the write "
        "fails ({reasons}), the error is dropped and the code goes on as if it happened."
    ),
    scenario=(
        "The database is busy or unreachable when {function}() runs ({where}): {write} "
        "returns Err, `{discard}` throws it away, and {table} keeps its old values with "
        "nothing logged."
    ),
    impact=(
        "Lost writes and rows stuck in an old state (a status never updated), invisible in "
        "logs and metrics until someone finds the inconsistent data."
    ),
    how_to_verify=(
        "Make the write fail (hold a write lock from another connection, or stop the "
        "database) and run {function}(): it returns normally and the row is unchanged."
    ),
    fix=(
        "Propagate the error with `?` (with context), or, where the caller cannot fail, "
        "handle it: `if let Err(e) = ... {{ log it with the row's id, count it, retry a "
        "transient error }}`."
    ),
    trade_off=(
        "A few lines per call; a write that is truly best-effort should say so in a comment "
        "and still log its failure."
    ),
    effort_hours=(0.25, 0.5),
    languages=["rust"],
)

_REASONS = "database is locked, pool timeout, dropped connection, constraint violation"
# Method names a std collection, channel or writer also has: a repository function of that
# name is not told apart from them by name alone.
_GENERIC = frozenset(
    {"insert", "remove", "update", "delete", "set", "write", "save", "store", "put", "push",
     "send", "execute", "execute_batch", "clear", "flush", "replace", "add", "commit",
     "append", "extend", "truncate", "sync", "close", "run", "call", "apply", "exec"}
)  # fmt: skip
_FALLBACKS = frozenset({"unwrap_or_default", "unwrap_or"})
_CACHE = re.compile(r"cache", re.I)
# Bookkeeping columns (access times, view counters): a lost update of these alone costs
# nothing worth a finding.
_BOOKKEEPING = re.compile(
    r"^(last_\w+|\w+_at|\w*seen|\w*views?|\w*impressions?|\w*hits?|\w*clicks?|"
    r"\w*access(ed)?|\w*visits?)$",
    re.I,
)
_ASSIGNED = re.compile(r"(?:^|,)\s*[\"`\[]?(\w+)[\"`\]]?\s*=", re.S)
_EQUALITY = re.compile(r"(?<![<>!=])=(?!=)")
_LOG_TABLE = re.compile(r"(^|_)logs?$", re.I)
_DDL = re.compile(r"^\W*(ALTER|CREATE|DROP)\b", re.I)


def _best_effort(sql: str) -> bool:
    """A write whose loss costs nothing worth reporting: an UPDATE of bookkeeping columns
    only (``last_seen``, ``views = views + 1``), a retention sweep (a DELETE whose WHERE has
    no equality: the next sweep retries it) or a write to a log table."""
    update = parse_update(sql)
    if update is not None:
        columns = _ASSIGNED.findall(update.assignments)
        if columns and all(_BOOKKEEPING.match(c) for c in columns):
            return True
    target = statement(sql)
    if target is not None and _LOG_TABLE.search(target[1]):
        return True
    if sql_verb(sql) == "DELETE":
        where = where_clause(sql)
        return bool(where) and _EQUALITY.search(where) is None
    return False


def _migration(function: tree_sitter.Node, constants: dict[str, str]) -> bool:
    """The function also discards the result of a schema change (``let _ =
    conn.execute("ALTER TABLE ..")``): start-up migration code, where errors ("duplicate
    column", "no such column") are expected and ignored on purpose."""
    for site, call, _ in _discarded(function):
        args = (
            rust.call_arguments(call)
            if rust.method_name(call) in {"execute", "execute_batch"}
            else []
        )
        sql = _sql_of(args[0], constants) if args else None
        if sql is not None and _DDL.match(sql) and site.start_byte >= function.start_byte:
            return True
    return False


def _sql_of(node: tree_sitter.Node, constants: dict[str, str]) -> str | None:
    text = rust.rust_string(node)
    if text is None and node.type == "identifier":
        text = constants.get(node_text(node))
    return text


def _direct_write(call: tree_sitter.Node, constants: dict[str, str]) -> str:
    """The write SQL of a rusqlite ``x.execute("..", ..)`` / ``execute_batch("..")`` or a
    sqlx ``query("..")...execute(..)`` call, else ''."""
    if rust.method_name(call) not in {"execute", "execute_batch"}:
        return ""
    args = rust.call_arguments(call)
    if args:
        sql = _sql_of(args[0], constants)
        if sql is not None:
            return sql if is_write(sql) else ""
    scope = call.parent if call.parent is not None else call
    for query in rust.sqlx_queries(scope, constants):
        if query.call.id == call.id:
            return query.sql if is_write(query.sql) else ""
    return ""


def _returns_result(function: tree_sitter.Node) -> bool:
    kind = function.child_by_field_name("return_type")
    return kind is not None and "Result" in node_text(kind)


def _writer_functions(repo: RepoContext) -> dict[str, str]:
    """{function name: its first write SQL} of the repository's functions that return a
    Result and execute an INSERT / UPDATE / DELETE (rusqlite or sqlx), outside test code."""
    found: dict[str, str] = {}
    for ctx in repo.in_language("rust"):
        text = ctx.source.text
        if ".execute" not in text or syntax.is_test_path(ctx.source.path):
            continue
        constants = rust.string_constants(ctx.root)
        for function in rust.rust_functions(ctx.root):
            if not _returns_result(function) or rust.is_rust_test(function, ctx.source.path):
                continue
            for call in rust.rust_method_calls(function, "execute", "execute_batch"):
                sql = _direct_write(call, constants)
                if sql and not _best_effort(sql):
                    found.setdefault(rust.rust_function_name(function), sql)
                    break
    return found


def _unwrapped(node: tree_sitter.Node) -> tree_sitter.Node:
    """``x`` of ``x.await`` / ``(x)`` / ``x.map(..)`` (the error passes through unchanged)."""
    while True:
        if node.type in {"await_expression", "parenthesized_expression"} and node.named_children:
            node = node.named_children[0]
        elif node.type == "call_expression" and rust.method_name(node) == "map":
            value = rust.receiver(node)
            if value is None:
                return node
            node = value
        else:
            return node


def _discarded(root: tree_sitter.Node) -> Iterator[tuple[tree_sitter.Node, tree_sitter.Node, str]]:
    """(site, call whose result is dropped, how) for ``let _ = <call>;``,
    ``<call>.ok();`` and ``<call>.unwrap_or_default()`` / ``.unwrap_or(..)``."""
    for node in syntax.walk(root):
        if node.type == "let_declaration":
            pattern = node.child_by_field_name("pattern")
            value = node.child_by_field_name("value")
            if pattern is not None and value is not None and node_text(pattern) == "_":
                inner = _unwrapped(value)
                if inner.type == "call_expression":
                    yield node, inner, "let _ ="
        elif node.type == "call_expression" and rust.method_name(node) in {"ok", *_FALLBACKS}:
            method = rust.method_name(node)
            if method == "ok" and (
                node.parent is None or node.parent.type != "expression_statement"
            ):
                continue
            value = rust.receiver(node)
            result = _unwrapped(value) if value is not None else None
            if result is not None and result.type == "call_expression":
                yield node, result, f".{method}()"


def _called_name(call: tree_sitter.Node) -> str:
    """The called function's (or method's) last name."""
    method = rust.method_name(call)
    if method:
        return method
    function = call.child_by_field_name("function")
    if function is not None and function.type == "generic_function":
        function = function.child_by_field_name("function")
    if function is None or function.type not in {"identifier", "scoped_identifier"}:
        return ""
    return node_text(function).rsplit("::", 1)[-1]


def check_repo(repo: RepoContext) -> Iterator[Hit]:
    writers: dict[str, str] | None = None
    for ctx in repo.in_language("rust"):
        text = ctx.source.text
        if syntax.is_test_path(ctx.source.path) or _CACHE.search(ctx.source.path):
            continue
        if "let _" not in text and ".ok()" not in text and ".unwrap_or" not in text:
            continue
        constants: dict[str, str] | None = None
        for site, call, how in _discarded(ctx.root):
            function = rust.enclosing_function(site)
            if function is None:
                continue
            name = rust.rust_function_name(function)
            if name == "drop" or _CACHE.search(name) or rust.is_rust_test(site, ctx.source.path):
                continue
            if constants is None:
                constants = rust.string_constants(ctx.root)
            sql = _direct_write(call, constants)
            if sql and (_best_effort(sql) or _migration(function, constants)):
                continue
            if sql:
                write = f"`{_first_words(sql)}`"
            else:
                called = _called_name(call)
                if not called or called in _GENERIC or called == name:
                    continue
                if writers is None:
                    writers = _writer_functions(repo)
                if called not in writers:
                    continue
                sql = writers[called]
                write = f"{called}() (which runs `{_first_words(sql)}`)"
            target = statement(sql)
            yield node_hit(
                ctx,
                site,
                details={
                    "write": write,
                    "discard": how,
                    "reasons": _REASONS,
                    "table": target[1] if target else "the table",
                },
            )


def _first_words(sql: str) -> str:
    words = " ".join(sql.split())
    return words if len(words) <= 60 else words[:57] + "..."


RULE = Rule(meta=META, doc=__doc__ or "", check_repo=check_repo)
