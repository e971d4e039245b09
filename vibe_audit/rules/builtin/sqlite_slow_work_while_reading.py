"""Slow work per row while a SQLite SELECT cursor is still being read.

What it finds:
    In a file that uses sqlite3, aiosqlite or apsw: a ``for`` (or ``async for``) loop over a
    live SELECT cursor -- ``for row in conn.execute("SELECT ...")``, or ``cur.execute(
    "SELECT ...")`` / ``cur = conn.execute("SELECT ...")`` followed by ``for row in cur`` in
    the same function -- whose body makes an HTTP request (``requests.*``, ``httpx.*``,
    ``urllib.request.urlopen``), sleeps (``time.sleep``, ``asyncio.sleep``) or runs a
    subprocess (``subprocess.*``, ``os.system``). Loops over ``.fetchall()`` are not
    matched: the rows are read before the slow work starts.

Why it matters:
    While a cursor still has rows to return, its statement is active and the connection
    keeps its read transaction (its snapshot) open. In WAL mode a checkpoint cannot copy
    pages past that snapshot or restart the log, so the -wal file keeps growing for as long
    as the loop runs (minutes or hours when each row waits on the network); in rollback
    journal mode the shared lock makes every writer's commit wait and then fail with
    'database is locked'.

Example:
    for row in conn.execute("SELECT id, url FROM feeds"):
        body = requests.get(row[1], timeout=30).text      # seconds per row
        save(row[0], body)

Use instead:
    feeds = conn.execute("SELECT id, url FROM feeds").fetchall()   # read, then release
    for feed_id, url in feeds:
        body = requests.get(url, timeout=30).text
        save(feed_id, body)
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import tree_sitter

from vibe_audit.chunker.parsing import node_text
from vibe_audit.rules import pyflow, syntax
from vibe_audit.rules.base import Hit, Rule, RuleMeta
from vibe_audit.rules.context import FileContext
from vibe_audit.rules.literals import literal_text, string_constants
from vibe_audit.rules.sqltext import SELECT_SQL
from vibe_audit.schemas import Confidence, Severity

META = RuleMeta(
    id="sqlite-slow-work-while-reading",
    title="Slow work per row while a SQLite read cursor stays open",
    severity=Severity.MEDIUM,
    confidence=Confidence.MEDIUM,
    categories={"sqlite": "Write Contention"},
    checklist=["sqlite.3E"],
    problem=(
        "The loop over `{cursor}` in {function} calls `{slow}` for each row while the "
        "SELECT's cursor is still being read: the connection's read transaction stays open "
        "for the whole loop."
    ),
    scenario=(
        "Each row waits on {what}; the loop runs for minutes while other connections keep "
        "writing. In WAL mode no checkpoint can get past this reader's snapshot and the -wal "
        "file grows for as long as the loop runs; in rollback-journal mode writers wait on "
        "the shared lock and fail with 'database is locked'."
    ),
    impact=(
        "WAL growth and slower reads for everyone during the loop, or failed writes in "
        "rollback-journal mode; the longer the per-row work, the worse."
    ),
    how_to_verify=(
        "Run {function} against a database in WAL mode while another process writes, and "
        "watch `ls -l <db>-wal`: it grows until the loop ends. "
        "`PRAGMA wal_checkpoint(PASSIVE)` during the loop reports frames it could not "
        "checkpoint."
    ),
    fix=(
        "Read the rows first, then do the slow work: `rows = conn.execute(...).fetchall()` "
        "(or read in batches by key, `WHERE id > ? ORDER BY id LIMIT 500`, "
        "finishing each batch's query before its slow work)."
    ),
    trade_off=(
        "fetchall() holds the whole result in memory; for very large results, read in "
        "batches by key so each batch's read transaction ends before its slow work."
    ),
    effort_hours=(0.25, 1.0),
    experimental=True,
)

_SQLITE_IMPORTS = frozenset({"sqlite3", "aiosqlite", "apsw"})
_SLOW = re.compile(
    r"^(requests\.(get|post|put|patch|delete|head|request)"
    r"|httpx\.(get|post|put|patch|delete|head|request|stream)"
    r"|urllib\.request\.urlopen|urllib\.request\.urlretrieve"
    r"|time\.sleep|asyncio\.sleep|trio\.sleep"
    r"|subprocess\.(run|call|check_call|check_output|Popen)|os\.system)$"
)
_WHAT = {
    "requests": "an HTTP request",
    "httpx": "an HTTP request",
    "urllib": "an HTTP request",
    "time": "a sleep",
    "asyncio": "a sleep",
    "trio": "a sleep",
    "subprocess": "a subprocess",
    "os": "a subprocess",
}
_CLIENT_WHAT = "an HTTP request"


def check_file(ctx: FileContext) -> Iterator[Hit]:
    if not ctx.imports & _SQLITE_IMPORTS or syntax.is_test_path(ctx.source.path):
        return
    aliases = pyflow.import_aliases(ctx.root)
    for loop in syntax.of_type(ctx.root, "for_statement"):
        cursor = _live_select(loop)
        if cursor is None:
            continue
        slow = _slow_call(loop, aliases)
        if slow is None:
            continue
        function = pyflow.enclosing_function(loop)
        name = syntax.function_name(function) if function is not None else "module-level code"
        full = pyflow.canonical(syntax.callee(slow), aliases)
        yield Hit(
            path=ctx.source.path,
            start_line=syntax.line(loop),
            end_line=syntax.line(loop),
            symbol=syntax.qualified_name(loop),
            details={
                "cursor": cursor,
                "function": f"{name}()" if function is not None else name,
                "slow": syntax.callee(slow),
                "slow_line": str(syntax.line(slow)),
                "what": _WHAT.get(full.split(".", 1)[0], _CLIENT_WHAT),
            },
        )


def _select_call(node: tree_sitter.Node, constants: dict[str, str]) -> bool:
    """``x.execute("SELECT ...")`` with a literal SELECT (or WITH) statement, or a name the
    function (or module) binds to one."""
    node = node.named_children[0] if node.type == "await" and node.named_children else node
    if node.type != "call" or syntax.last_name(syntax.callee(node)) != "execute":
        return False
    args = syntax.positional_args(node)
    if not args:
        return False
    first = args[0]
    text = constants.get(node_text(first)) if first.type == "identifier" else literal_text(first)
    return text is not None and bool(SELECT_SQL.match(text))


def _live_select(loop: tree_sitter.Node) -> str | None:
    """What the loop iterates when it is a SELECT cursor still being read: the execute
    call itself, or a name the same function bound to one (``cur = conn.execute(...)`` /
    ``cur.execute(...)``) with no ``fetchall()`` in between."""
    right = loop.child_by_field_name("right")
    if right is None:
        return None
    function = pyflow.enclosing_function(loop)
    root = loop
    while root.parent is not None:
        root = root.parent
    constants = string_constants(root)
    if function is not None and function.type == "function_definition":
        constants |= string_constants(function)
    if _select_call(right, constants):
        return node_text(right).split("\n", 1)[0]
    if right.type != "identifier":
        return None
    name = node_text(right)
    scope = pyflow.enclosing_function(loop) or loop.parent
    if scope is None:
        return None
    last: tree_sitter.Node | None = None
    for node in pyflow.own_nodes(scope):
        if node.start_byte >= loop.start_byte:
            break
        if node.type == "assignment":
            left = node.child_by_field_name("left")
            value = node.child_by_field_name("right")
            if left is not None and node_text(left) == name:
                last = value if value is not None and _select_call(value, constants) else None
        elif node.type == "call" and syntax.callee(node) == f"{name}.execute":
            last = node if _select_call(node, constants) else None
        elif node.type == "as_pattern" and node.named_children:
            alias = node.child_by_field_name("alias")
            if alias is not None and node_text(alias) == name:
                inner = node.named_children[0]
                last = inner if _select_call(inner, constants) else None
    return name if last is not None else None


_CLIENTS = frozenset(
    {"httpx.Client", "httpx.AsyncClient", "requests.Session", "requests.session",
     "aiohttp.ClientSession"}
)  # fmt: skip
_CLIENT_METHODS = re.compile(r"^(\w+)\.(get|post|put|patch|delete|head|request|stream|send)$")


def _clients(scope: tree_sitter.Node, aliases: dict[str, str]) -> dict[str, str]:
    """{name: client class} of the HTTP clients the scope binds (``client =
    httpx.Client()``, ``async with httpx.AsyncClient() as client``)."""
    found: dict[str, str] = {}
    for node in pyflow.own_nodes(scope):
        if node.type == "assignment":
            target, value = node.child_by_field_name("left"), node.child_by_field_name("right")
        elif node.type == "as_pattern" and node.named_children:
            target, value = node.child_by_field_name("alias"), node.named_children[0]
        else:
            continue
        if target is None or value is None or value.type != "call":
            continue
        made = pyflow.canonical(syntax.callee(value), aliases)
        if made in _CLIENTS:
            found[node_text(target)] = made
    return found


def _slow_call(loop: tree_sitter.Node, aliases: dict[str, str]) -> tree_sitter.Node | None:
    body = loop.child_by_field_name("body")
    if body is None:
        return None
    scope = pyflow.enclosing_function(loop) or loop
    clients: dict[str, str] | None = None
    for call in syntax.of_type(body, "call", stop_at=pyflow.SCOPE_TYPES):
        name = syntax.callee(call)
        if _SLOW.match(pyflow.canonical(name, aliases)):
            return call
        method = _CLIENT_METHODS.match(name)
        if method is not None:
            clients = _clients(scope, aliases) if clients is None else clients
            if method.group(1) in clients:
                return call
    return None


RULE = Rule(meta=META, doc=__doc__ or "", check_file=check_file)
