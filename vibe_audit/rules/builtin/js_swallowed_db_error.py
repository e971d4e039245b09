"""Database write whose error is caught and discarded (JS/TS).

What it finds:
    In a repository that uses a SQL driver (better-sqlite3, node:sqlite, bun:sqlite,
    sqlite3, sqlite, pg, postgres, mysql, mysql2), a ``try`` block that runs a write (an
    INSERT / UPDATE / DELETE / REPLACE string, or ``stmt.run()`` of a statement prepared
    from one in the same file) with a ``catch`` that does nothing, or a ``catch`` that only
    logs (console / logger calls) around an UPDATE that sets a status or state column; and
    a write promise ended with an empty ``.catch(() => {})``. Not matched: code of a cache
    (its file or function is named ``*cache*``: a lost write costs a recomputation),
    schema statements (CREATE / ALTER, the usual "add the column if missing" idiom) and
    test code.

Why it matters:
    "database is locked" (SQLITE_BUSY), a constraint violation or a dropped connection
    are the normal failures of a database under load. Swallowing them means the write is
    lost while the caller believes it happened: the status never changes, the job stays
    stuck, and nothing (or only a log line) shows it.

Example:
    try {
      db.prepare("UPDATE jobs SET status = ? WHERE id = ?").run(status, jobId);
    } catch (err) {}

Use instead:
    try {
      db.prepare("UPDATE jobs SET status = ? WHERE id = ?").run(status, jobId);
    } catch (err) {
      if (err.code !== "SQLITE_CONSTRAINT_UNIQUE") throw err;  // ignore only what you mean
    }
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import tree_sitter

from vibe_audit.chunker.parsing import node_text
from vibe_audit.rules import js, sqltext, syntax
from vibe_audit.rules.base import Hit, Rule, RuleMeta
from vibe_audit.rules.context import FileContext, RepoContext
from vibe_audit.schemas import Confidence, Severity

META = RuleMeta(
    id="js-swallowed-db-error",
    title="Database error swallowed (empty catch around a write)",
    severity=Severity.HIGH,
    confidence=Confidence.HIGH,
    categories={"sqlite": "Error Handling", "reliability": "Error Handling"},
    checklist=["sqlite.7A", "sqlite.7B", "reliability.7.3", "reliability.2.3", "reliability.obs.1"],
    problem=(
        "In {function}, `{sql}` runs and its error handler {handling} any error it "
        "throws, with {logged}: a failed write is indistinguishable from a successful one."
    ),
    scenario=(
        "The database is busy (SQLITE_BUSY / lock timeout), a constraint fails or the "
        "connection drops while {function} writes: the error is {handled}, the caller "
        "carries on as if the row had been written, and the data is silently lost."
    ),
    impact=(
        "Lost writes and rows stuck in an old status, found much later, with {logged} to "
        "trace them."
    ),
    how_to_verify=(
        "Make the write fail (hold a write lock from another connection, or violate a "
        "constraint) and call {function}: it returns normally and the row is unchanged."
    ),
    fix=(
        "Let the error propagate (remove the try/catch), or catch only the error you mean "
        '(`if (err.code !== "SQLITE_CONSTRAINT_UNIQUE") throw err;`) and retry SQLITE_BUSY '
        "with a bounded backoff."
    ),
    trade_off=(
        "Callers now see database errors and must handle them (retry, report, roll back) "
        "instead of silently continuing."
    ),
    effort_hours=(0.25, 0.5),
    languages=js.JS_LANGUAGES,
    # Its shape was not found in real code (70 npm packages, public code search): off by
    # default until the precision corpus shows one.
    experimental=True,
)

_DRIVERS = frozenset(
    {"better-sqlite3", "node:sqlite", "bun:sqlite", "sqlite3", "sqlite", "pg", "postgres",
     "mysql", "mysql2", "mysql2/promise"}
)  # fmt: skip
_REQUIRE = re.compile(r"""require\(\s*["']([^"']+)["']\s*\)""")
# A write statement, not a sentence that starts with the same word ("Update failed").
_WRITE = re.compile(
    r"^\W*(INSERT\s+(OR\s+\w+\s+)?INTO\b|UPDATE\s+\S+\s+SET\b|DELETE\s+FROM\b|REPLACE\s+INTO\b)",
    re.I,
)
_RUNS = frozenset({"run", "all", "get", "exec", "execute", "query", "iterate"})
_LOGGERS = re.compile(
    r"^(console|logger|log|this\.logger|this\.log)\.(log|info|warn|warning|error|debug|trace)$"
)
_STOP = frozenset({*js.JS_FUNCTION_TYPES, "class_body"})


def check_repo(repo: RepoContext) -> Iterator[Hit]:
    files = [
        ctx
        for ctx in repo.in_language(*js.JS_LANGUAGES)
        if not syntax.is_test_path(ctx.source.path)
    ]
    if not any((ctx.imports | set(_REQUIRE.findall(ctx.source.text))) & _DRIVERS for ctx in files):
        return
    for ctx in files:
        text = ctx.source.text
        if "catch" not in text or not re.search(r"\b(INSERT|UPDATE|DELETE|REPLACE)\b", text, re.I):
            continue
        if "cache" in ctx.source.path.rsplit("/", 1)[-1].lower():
            continue
        prepared = _prepared_writes(ctx.root)
        yield from _try_blocks(ctx, prepared)
        yield from _promise_catches(ctx, prepared)


def _prepared_writes(root: tree_sitter.Node) -> dict[str, str]:
    """{name: SQL} of ``const name = db.prepare("<write>")`` declarations in the file."""
    found: dict[str, str] = {}
    for name, value in js.declared_values(root).items():
        value = js.unwrap(value)
        if value.type == "call_expression" and js.js_callee(value).endswith(".prepare"):
            args = js.js_arguments(value)
            sql = _sql(args[0]) if args else None
            if sql is not None and _WRITE.match(sql):
                found[name] = sql
    return found


def _sql(node: tree_sitter.Node) -> str | None:
    if node.type not in {"string", "template_string"}:
        return None
    value = js.js_string(node)
    return value if value is not None else node_text(node)[1:-1]


def _writes(body: tree_sitter.Node, prepared: dict[str, str]) -> str | None:
    """The first write SQL the block runs (not inside a nested function), else None."""
    for node in syntax.of_type(body, "string", "template_string", "call_expression", stop_at=_STOP):
        if node.type == "call_expression":
            callee = js.js_callee(node)
            head, _, method = callee.rpartition(".")
            if method in _RUNS and head in prepared:
                return prepared[head]
            continue
        sql = _sql(node)
        if sql is not None and _WRITE.match(sql) and sqltext.statement(sql) is not None:
            return sql
    return None


def _statements(block: tree_sitter.Node | None) -> list[tree_sitter.Node]:
    if block is None:
        return []
    return [s for s in block.named_children if s.type != "comment"]


def _logs_only(statements: list[tree_sitter.Node]) -> bool:
    if not statements:
        return False
    for statement in statements:
        call = js.unwrap(statement.named_children[0]) if statement.named_children else None
        if statement.type != "expression_statement" or call is None:
            return False
        if call.type != "call_expression" or not _LOGGERS.match(js.js_callee(call)):
            return False
    return True


def _sets_status(sql: str) -> bool:
    update = sqltext.parse_update(sql)
    return update is not None and sqltext.sets_status(update)


def _try_blocks(ctx: FileContext, prepared: dict[str, str]) -> Iterator[Hit]:
    for statement in syntax.of_type(ctx.root, "try_statement"):
        body = statement.child_by_field_name("body")
        handler = statement.child_by_field_name("handler")
        if body is None or handler is None or _in_cache(statement):
            continue
        sql = _writes(body, prepared)
        if sql is None:
            continue
        statements = _statements(handler.child_by_field_name("body"))
        if not statements:
            handling, logged, handled = "discards", "nothing logged", "discarded"
        elif _logs_only(statements) and _sets_status(sql):
            handling, logged, handled = "only logs", "only a log line", "logged and dropped"
        else:
            continue
        yield _hit(ctx, handler, sql, handling, logged, handled)


def _promise_catches(ctx: FileContext, prepared: dict[str, str]) -> Iterator[Hit]:
    """``pool.query("UPDATE ...").catch(() => {})``."""
    for call in syntax.of_type(ctx.root, "call_expression"):
        function = call.child_by_field_name("function")
        if function is None or function.type != "member_expression":
            continue
        prop = function.child_by_field_name("property")
        receiver = function.child_by_field_name("object")
        args = js.js_arguments(call)
        if prop is None or node_text(prop) != "catch" or receiver is None or len(args) != 1:
            continue
        callback = js.unwrap(args[0])
        body = callback.child_by_field_name("body")
        if callback.type not in js.JS_FUNCTION_TYPES or body is None:
            continue
        if body.type != "statement_block" or _statements(body) or _in_cache(call):
            continue
        sql = _writes(receiver, prepared)
        if sql is not None:
            yield _hit(ctx, call, sql, "discards", "nothing logged", "discarded")


def _in_cache(node: tree_sitter.Node) -> bool:
    function = js.enclosing_function(node)
    return function is not None and "cache" in js.js_function_name(function).lower()


def _describe(function: tree_sitter.Node | None) -> str:
    """'saveJob()', 'the app.post() callback' or 'the module's top level'."""
    if function is None:
        return "the module's top level"
    name = js.js_function_name(function)
    if name != "<anonymous>":
        return f"{name}()"
    call = syntax.enclosing(function, "call_expression")
    return f"the {js.js_callee(call)}() callback" if call is not None else "an anonymous function"


def _hit(
    ctx: FileContext,
    node: tree_sitter.Node,
    sql: str,
    handling: str,
    logged: str,
    handled: str,
) -> Hit:
    function = js.enclosing_function(node)
    statement = " ".join(sql.split())
    return Hit(
        path=ctx.source.path,
        start_line=syntax.line(node),
        end_line=syntax.end_line(node),
        symbol=js.js_symbol(node),
        details={
            "function": _describe(function),
            "sql": statement if len(statement) <= 80 else statement[:77] + "...",
            "handling": handling,
            "logged": logged,
            "handled": handled,
        },
    )


RULE = Rule(meta=META, doc=__doc__ or "", check_repo=check_repo)
