"""SQLite connection opened in a handler callback and never closed (JS/TS).

What it finds:
    A callback (a function passed as an argument: a route, job, event or timer handler,
    which runs once per request or event) that declares ``const db = new Database(file)``
    (better-sqlite3, node:sqlite, bun:sqlite, sqlite3) or ``const db = openX()`` where
    ``openX`` is a function of the repository returning such a connection, and then never
    calls ``db.close()``, returns it, stores it elsewhere or hands it to another function.
    Connections opened once at module level, in a factory, or with ``using`` are not
    matched.

Why it matters:
    Each call opens a new connection: a file descriptor, a page cache and (in WAL mode) a
    shared-memory mapping. None of the drivers closes it when the variable goes out of
    scope; only the garbage collector's finalizer eventually does. Under load the handler
    accumulates open connections faster than they are collected, until the process hits
    EMFILE ("too many open files") or memory limits, and an unclosed read handle can keep
    a WAL checkpoint from completing.

Example:
    router.get("/export", (req, res) => {
      const ro = openReadonly();
      res.json(ro.prepare("SELECT * FROM notes").all());
    });

Use instead:
    router.get("/export", (req, res) => {
      const ro = openReadonly();
      try {
        res.json(ro.prepare("SELECT * FROM notes").all());
      } finally {
        ro.close();
      }
    });
    // or open one read-only handle at module level and reuse it
"""

from __future__ import annotations

from collections.abc import Iterator

import tree_sitter

from vibe_audit.chunker.parsing import node_text
from vibe_audit.rules import js, syntax
from vibe_audit.rules.base import Hit, Rule, RuleMeta
from vibe_audit.rules.context import FileContext, RepoContext
from vibe_audit.schemas import Confidence, Severity

META = RuleMeta(
    id="js-sqlite-connection-not-closed",
    title="SQLite connection opened per call and never closed",
    severity=Severity.MEDIUM,
    confidence=Confidence.HIGH,
    categories={
        "sqlite": "Connection",
        "reliability": "Resource Leak",
        "concurrency": "SQLite",
        "checkpoint": "Concurrency",
    },
    checklist=[
        "sqlite.2A",
        "sqlite.2C",
        "concurrency.1B",
        "concurrency.sqlite_checklist.5",
        "checkpoint.6C",
        "reliability.10.3",
    ],
    problem=(
        "{function} opens a SQLite connection ({opened}) each time it runs and never closes "
        "it: `{name}` is dropped with the connection still open."
    ),
    scenario=(
        "Every request or event handled by {function} leaves one more open connection "
        "behind; they are released only when the garbage collector finalizes them."
    ),
    impact=(
        "File descriptors and page caches pile up under load until the process fails with "
        "EMFILE or runs out of memory; unclosed readers can also hold back WAL checkpoints."
    ),
    how_to_verify=(
        "Call {function} a few hundred times (e.g. with autocannon) and watch "
        "`ls /proc/<pid>/fd | wc -l` grow with each call."
    ),
    fix=(
        "Close it on every path: `const {name} = ...; try { ... } finally { {name}.close(); }` "
        "(or `using` where the driver supports it), or open one connection at module level "
        "and reuse it."
    ),
    trade_off=(
        "A shared module-level handle must not be closed by a handler; reusing one avoids "
        "the per-call open cost as well."
    ),
    effort_hours=(0.25, 0.5),
    languages=js.JS_LANGUAGES,
)


def check_repo(repo: RepoContext) -> Iterator[Hit]:
    files = [
        ctx
        for ctx in repo.in_language(*js.JS_LANGUAGES)
        if not syntax.is_test_path(ctx.source.path)
    ]
    factories: set[str] = set()
    for ctx in files:
        factories |= _factories(ctx)
    for ctx in files:
        yield from _leaks(ctx, factories)


def _factories(ctx: FileContext) -> set[str]:
    """Names of the file's functions that return a newly opened SQLite connection."""
    names = set()
    for call, _module in js.sqlite_opens(ctx.root):
        parent = call.parent
        function = js.enclosing_function(call)
        if function is None or parent is None:
            continue
        body = function.child_by_field_name("body")
        if parent.type == "return_statement" or (body is not None and body == call):
            names.add(js.js_function_name(function))
    names.discard("<anonymous>")
    return names


def _leaks(ctx: FileContext, factories: set[str]) -> Iterator[Hit]:
    opens = {call.id for call, _ in js.sqlite_opens(ctx.root)}
    if not opens and not any(f"{name}(" in ctx.source.text for name in factories):
        return
    for declarator in syntax.of_type(ctx.root, "variable_declarator"):
        target = declarator.child_by_field_name("name")
        value = declarator.child_by_field_name("value")
        if target is None or value is None or target.type != "identifier":
            continue
        value = js.unwrap(value)
        opened = value.id in opens or (
            value.type == "call_expression" and js.js_callee(value).rsplit(".", 1)[-1] in factories
        )
        if not opened or _is_using(declarator):
            continue
        function = js.enclosing_function(declarator)
        if function is None or not _is_callback(function):
            continue
        name = node_text(target)
        if _kept(name, function, declarator):
            continue
        label = js.js_function_name(function)
        yield Hit(
            path=ctx.source.path,
            start_line=syntax.line(declarator),
            end_line=syntax.line(declarator),
            symbol=js.js_symbol(declarator),
            details={
                "function": f"{label}()" if label != "<anonymous>" else "This handler",
                "opened": node_text(value).split("\n", 1)[0][:80],
                "name": name,
            },
        )


def _is_using(declarator: tree_sitter.Node) -> bool:
    parent = declarator.parent
    return parent is not None and node_text(parent).startswith(("using ", "await using "))


def _is_callback(function: tree_sitter.Node) -> bool:
    """A function passed as an argument (``router.get(path, (req, res) => ...)``)."""
    parent = function.parent
    return parent is not None and parent.type == "arguments"


def _kept(name: str, function: tree_sitter.Node, declarator: tree_sitter.Node) -> bool:
    """The connection is closed, returned, stored or handed on somewhere in the function."""
    for node in syntax.of_type(function, "identifier", "shorthand_property_identifier"):
        if node_text(node) != name or node.start_byte < declarator.end_byte:
            continue
        if node.type == "shorthand_property_identifier":
            return True  # { db }: handed on in an object
        parent = node.parent
        if parent is None:
            continue
        if parent.type == "member_expression":
            prop = parent.child_by_field_name("property")
            if prop is not None and node_text(prop) in {"close", "destroy", "end"}:
                return True
            continue  # db.prepare(...), db.exec(...): a use
        if parent.type in {"return_statement", "arguments", "pair", "array",
                           "assignment_expression"}:  # fmt: skip
            return True
        if parent.type in {"arrow_function", "variable_declarator"}:
            return True  # () => db, const other = db
    return False


RULE = Rule(meta=META, doc=__doc__ or "", check_repo=check_repo)
