"""Control-flow helpers over tree-sitter Python trees, shared by the reliability rules.

Import aliases (``from time import sleep``), "is this node inside an async def", "does this
loop sleep", exception handlers that swallow, and the lifecycle of a local resource (is the
value bound to this name closed, returned, stored or handed on).
"""

from __future__ import annotations

from collections.abc import Iterator

import tree_sitter

from vibe_audit.chunker.parsing import node_text
from vibe_audit.rules import syntax
from vibe_audit.rules.base import Hit
from vibe_audit.rules.context import FileContext

LOOP_TYPES = frozenset({"for_statement", "while_statement"})
SCOPE_TYPES = syntax.FUNCTION_TYPES | {"class_definition"}
BROAD_EXCEPTIONS = frozenset({"", "Exception", "BaseException"})
EXIT_TYPES = frozenset({"break_statement", "return_statement", "raise_statement"})
# Exceptions a retry loop around I/O catches (besides the broad ones).
_IO_ERROR_WORDS = ("connection", "timeout", "operational", "http", "request", "transport",
                   "network", "unavailable", "socket", "busy", "locked", "temporary",
                   "transient", "retry", "throttl", "ratelimit")  # fmt: skip
_IO_ERRORS = frozenset({"OSError", "IOError", "EnvironmentError", "error"})
_LOGGERS = ("log", "print", "warn")
_SLEEP_WORDS = ("sleep", "backoff", "delay", "wait", "retry", "throttle")


# Nodes that contain statements; everything else (expressions) holds no loop, try or except.
_COMPOUND = frozenset(
    {"module", "block", "function_definition", "class_definition", "decorated_definition",
     "if_statement", "elif_clause", "else_clause", "for_statement", "while_statement",
     "try_statement", "except_clause", "except_group_clause", "finally_clause",
     "with_statement", "match_statement", "case_clause"}
)  # fmt: skip


def statements(node: tree_sitter.Node, *types: str) -> Iterator[tree_sitter.Node]:
    """Statement-level descendants of ``node`` of the given types, found without walking
    into expressions (much faster than ``syntax.of_type`` for loops, try and except)."""
    wanted = set(types)
    stack = list(reversed(node.children))
    while stack:
        current = stack.pop()
        if current.type in wanted:
            yield current
        if current.type in _COMPOUND:
            stack.extend(reversed(current.children))


def import_aliases(root: tree_sitter.Node) -> dict[str, str]:
    """Local name -> dotted name it stands for: ``from time import sleep`` -> sleep: time.sleep,
    ``import subprocess as sp`` -> sp: subprocess (module-level and nested imports alike)."""
    aliases: dict[str, str] = {}
    for node in syntax.of_type(root, "import_statement", "import_from_statement"):
        if node.type == "import_statement":
            for child in node.named_children:
                if child.type == "aliased_import":
                    name, alias = (
                        child.child_by_field_name("name"),
                        child.child_by_field_name("alias"),
                    )
                    if name is not None and alias is not None:
                        aliases[node_text(alias)] = node_text(name)
            continue
        module = node.child_by_field_name("module_name")
        if module is None or node_text(module).startswith("."):
            continue
        for child in node.named_children[1:]:
            if child.type == "aliased_import":
                name, alias = child.child_by_field_name("name"), child.child_by_field_name("alias")
                if name is not None and alias is not None:
                    aliases[node_text(alias)] = f"{node_text(module)}.{node_text(name)}"
            elif child.type == "dotted_name":
                aliases[node_text(child)] = f"{node_text(module)}.{node_text(child)}"
    return aliases


def canonical(name: str, aliases: dict[str, str]) -> str:
    """``name`` with its first component replaced by what it was imported as."""
    head, dot, rest = name.partition(".")
    full = aliases.get(head)
    return f"{full}{dot}{rest}" if full else name


def enclosing_function(node: tree_sitter.Node) -> tree_sitter.Node | None:
    """The innermost ``def`` or lambda around ``node`` (None at module or class level)."""
    scope = syntax.enclosing(node, *SCOPE_TYPES)
    return scope if scope is not None and scope.type in syntax.FUNCTION_TYPES else None


def in_async_function(node: tree_sitter.Node) -> bool:
    """True when ``node`` runs in the body of an ``async def`` (not a nested def or lambda)."""
    function = enclosing_function(node)
    return function is not None and syntax.is_async(function)


def is_awaited(call: tree_sitter.Node) -> bool:
    return call.parent is not None and call.parent.type == "await"


def own_nodes(node: tree_sitter.Node) -> Iterator[tree_sitter.Node]:
    """Descendants of ``node`` that run with it: not inside nested functions or classes."""
    return syntax.walk(node, stop_at=SCOPE_TYPES)


def loop_body_nodes(loop: tree_sitter.Node) -> Iterator[tree_sitter.Node]:
    """Nodes of a loop's own body that belong to this loop: not inside nested loops."""
    body = loop.child_by_field_name("body")
    if body is None:
        return iter(())
    return syntax.walk(body, stop_at=SCOPE_TYPES | LOOP_TYPES)


def sleeps(node: tree_sitter.Node) -> bool:
    """Whether any call under ``node`` looks like a delay or backoff (sleep, backoff, wait)."""
    for call in syntax.of_type(node, "call", stop_at=SCOPE_TYPES):
        name = syntax.last_name(syntax.callee(call)).lower()
        if any(word in name for word in _SLEEP_WORDS):
            return True
    return False


def waits_per_attempt(statement: tree_sitter.Node) -> bool:
    """Each attempt of a retry ``try`` waits by itself, so the loop is not a hot loop: every
    transient handler catches only a timeout (``future.result(timeout=...)`` polled until
    done, a lock's Timeout): the attempt already waited that long before failing. A
    ``timeout=`` alone is not enough: a refused connection fails at once."""
    handlers = [c for c in statement.named_children if c.type == "except_clause"]
    names = [
        syntax.last_name(name.strip("() "))
        for clause in handlers
        for name in caught(clause).split(",")
        if catches_transient(clause)
    ]
    return bool(names) and all("timeout" in name.lower() for name in names)


def caught(clause: tree_sitter.Node) -> str:
    """The exception expression an except clause names ('' for a bare ``except:``)."""
    for child in clause.named_children:
        if child.type == "block":
            return ""
        if child.type == "as_pattern":
            child = child.named_children[0]
        return node_text(child)
    return ""


def handler_block(clause: tree_sitter.Node) -> tree_sitter.Node | None:
    return next((c for c in clause.named_children if c.type == "block"), None)


def is_silent(clause: tree_sitter.Node) -> bool:
    """An except clause whose body only passes, ``...`` or continues."""
    block = handler_block(clause)
    if block is None:
        return False
    statements = [s for s in block.named_children if s.type != "comment"]
    return all(
        s.type in {"pass_statement", "continue_statement"}
        or (s.type == "expression_statement" and node_text(s).strip() == "...")
        for s in statements
    )


def catches_transient(clause: tree_sitter.Node) -> bool:
    """A handler for every error, or for errors a retry of I/O expects (connection, timeout,
    OSError, database busy); not ValueError / KeyError style handlers."""
    name = caught(clause)
    if name in BROAD_EXCEPTIONS:
        return True
    names = [part.strip().rsplit(".", 1)[-1] for part in name.strip("()").split(",")]
    return any(
        n in BROAD_EXCEPTIONS or n in _IO_ERRORS or any(w in n.lower() for w in _IO_ERROR_WORDS)
        for n in names
        if n
    )


def translates(clause: tree_sitter.Node) -> bool:
    """A handler that ends by handing its exception to a (non-logging) function, such as
    ``self._convert_socket_error(exc)``: such helpers usually raise a translated error."""
    alias = next((c for c in clause.named_children if c.type == "as_pattern"), None)
    target = alias.child_by_field_name("alias") if alias is not None else None
    block = handler_block(clause)
    statements = [s for s in block.named_children if s.type != "comment"] if block else []
    if target is None or not statements or statements[-1].type != "expression_statement":
        return False
    call = statements[-1].named_children[0] if statements[-1].named_child_count else None
    if call is not None and call.type == "await" and call.named_child_count:
        call = call.named_children[0]
    if call is None or call.type != "call":
        return False
    name = syntax.callee(call).lower()
    passed = {node_text(a) for a in syntax.positional_args(call)}
    return node_text(target).strip() in passed and not any(w in name for w in _LOGGERS)


# Handlers that repair before going round again: reconnect, or create what was missing
# (``except OperationalError: _create_tables()``): a deliberate protocol, not a blind retry.
_RENEW_WORDS = (
    "connect", "invalidate", "reset", "refresh", "reopen", "create", "init", "setup",
    "migrate", "ensure",
)  # fmt: skip


def renews(statement: tree_sitter.Node) -> bool:
    """A handler that reconnects, resets or invalidates the resource before going round
    again: the next attempt runs on a fresh connection, a deliberate protocol."""
    for clause in statement.named_children:
        if clause.type != "except_clause":
            continue
        for call in syntax.of_type(clause, "call", stop_at=SCOPE_TYPES):
            name = syntax.last_name(syntax.callee(call)).lower()
            if any(word in name for word in _RENEW_WORDS):
                return True
    return False


def varies_input(loop: tree_sitter.Node, statement: tree_sitter.Node) -> bool:
    """Whether the loop rebinds a name the try body reads (``number = number + 1``,
    ``prefix = prefix.parent``): each turn tries something different (a new file name, the
    parent directory), a search rather than a retry of the same operation."""
    body = statement.child_by_field_name("body")
    if body is None:
        return False
    inside = {n.id for n in own_nodes(body)}
    assigned: set[str] = set()
    for node in loop_body_nodes(loop):
        if node.type == "assignment" and node.id not in inside:
            left = node.child_by_field_name("left")
            if left is not None:
                names = [left] if left.type == "identifier" else left.named_children
                assigned.update(node_text(n) for n in names if n.type == "identifier")
    read = {node_text(n) for n in own_nodes(body) if n.type == "identifier"}
    return bool(assigned & read)


def exits(node: tree_sitter.Node) -> list[tree_sitter.Node]:
    """break / return / raise statements under ``node`` that leave the enclosing loop
    (not those of nested loops, functions or classes)."""
    found = [node] if node.type in EXIT_TYPES else []
    found += [
        n for n in syntax.walk(node, stop_at=SCOPE_TYPES | LOOP_TYPES) if n.type in EXIT_TYPES
    ]
    return found


def bound_name(call: tree_sitter.Node) -> str | None:
    """The plain name a call's value is bound to: ``x = call()``, ``x = await call()``,
    ``with call() as x`` (None for attributes, tuples and anything else)."""
    node = call.parent if call.parent is not None and call.parent.type == "await" else call
    parent = node.parent
    if parent is not None and parent.type == "assignment":
        left = parent.child_by_field_name("left")
        right = parent.child_by_field_name("right")
        if right is not None and right.id == node.id and left is not None:
            return node_text(left) if left.type == "identifier" else None
    if parent is not None and parent.type == "as_pattern":
        alias = parent.child_by_field_name("alias")
        return node_text(alias).strip() if alias is not None else None
    return None


def in_with_item(call: tree_sitter.Node) -> bool:
    """``with call():`` / ``with call() as x:`` / ``async with``."""
    node = call.parent if call.parent is not None and call.parent.type == "await" else call
    parent = node.parent
    if parent is not None and parent.type == "as_pattern":
        parent = parent.parent
    return parent is not None and parent.type == "with_item"


_HANDED_ON = frozenset(
    {"argument_list", "keyword_argument", "assignment", "return_statement", "yield", "list",
     "tuple", "set", "dictionary", "pair", "lambda"}
)  # fmt: skip


def released(name: str, scope: tree_sitter.Node, after: tree_sitter.Node) -> bool:
    """Whether the local ``name`` may be cleaned up or outlive ``scope`` after node ``after``:
    it is closed (``name.close()`` / ``aclose()`` / ``__exit__``), used in a ``with``, returned
    or yielded, stored somewhere (attribute, container, another name), passed to a call, or
    captured by a nested function. Only ``name.method(...)`` calls, attribute reads and
    iteration keep it local. Conservative: any unrecognised use counts as released."""
    for node in syntax.walk(scope):
        if node.type != "identifier" or node_text(node) != name or node.start_byte < after.end_byte:
            continue
        parent = node.parent
        if parent is None:
            return True
        if (parent.type == "attribute" and parent.child_by_field_name("attribute") == node) or (
            parent.type == "keyword_argument" and parent.child_by_field_name("name") == node
        ):
            continue  # other.name / name=... : a different name
        if parent.type == "attribute" and parent.child_by_field_name("object") == node:
            attribute = parent.child_by_field_name("attribute")
            method = node_text(attribute) if attribute is not None else ""
            if method in {"close", "aclose", "__exit__", "__aexit__", "detach", "release"}:
                return True
            holder = parent.parent
            if holder is not None and holder.type in _HANDED_ON:
                return True  # a bound method handed on (setwriter(f.write)) keeps it alive
            continue
        if parent.type in {"for_statement", "for_in_clause"} and (
            parent.child_by_field_name("right") == node
        ):
            continue
        if parent.type == "assignment" and parent.child_by_field_name("left") == node:
            continue  # rebound (x = ...): the next binding is judged on its own
        if parent.type == "comparison_operator" or parent.type in {"not_operator", "if_statement"}:
            continue
        return True
    return False


def module_globals(root: tree_sitter.Node) -> set[str]:
    """Names declared ``global`` anywhere in the module."""
    names: set[str] = set()
    for node in syntax.of_type(root, "global_statement"):
        names.update(node_text(c) for c in node.named_children if c.type == "identifier")
    return names


def hit(ctx: FileContext, node: tree_sitter.Node, **details: str) -> Hit:
    """A hit spanning ``node``, named by its enclosing definitions."""
    return Hit(
        path=ctx.source.path,
        start_line=syntax.line(node),
        end_line=syntax.end_line(node),
        symbol=syntax.qualified_name(node),
        details=details,
    )


_EXIT_CALLS = frozenset({"sys.exit", "exit", "quit", "os._exit"})
_ATTEMPT_WORDS = ("attempt", "retr", "tries", "try")


def retry_try(loop: tree_sitter.Node) -> tree_sitter.Node | None:
    """The try statement that makes ``loop`` a retry loop, if it is one.

    A retry loop is a ``while`` loop, or a ``for`` over ``range(...)`` / ``itertools.count()``
    whose variable reads as an attempt counter (``_``, ``attempt``, ``retry``, ``tries``), with
    a ``try`` directly in its body whose success path leaves the loop (break / return in the
    try body or its else clause) and a handler for a transient error (see
    ``catches_transient``) that does not always leave it (it falls through or continues).
    Loops over candidates (``for url in mirrors``) are fallbacks, and loops that call
    ``input()`` re-ask the user: neither is a retry.
    """
    if loop.type == "for_statement":
        left, right = loop.child_by_field_name("left"), loop.child_by_field_name("right")
        if left is None or right is None or right.type != "call":
            return None
        if syntax.last_name(syntax.callee(right)) not in {"range", "count"}:
            return None
        variable = node_text(left).lower()
        if variable != "_" and not any(word in variable for word in _ATTEMPT_WORDS):
            return None
    elif loop.type != "while_statement":
        return None
    if any(syntax.callee(n) == "input" for n in syntax.of_type(loop, "call")):
        return None  # an interactive prompt re-asks the user; it is not a retry
    for node in loop_body_nodes(loop):
        if node.type == "try_statement" and _retries(node):
            return node
    return None


def success_path(statement: tree_sitter.Node) -> list[tree_sitter.Node]:
    """A try statement's body and else clause: what runs when no exception is raised."""
    return [c for c in statement.named_children if c.type in {"block", "else_clause"}]


def _retries(statement: tree_sitter.Node) -> bool:
    if not any(exits(part) for part in success_path(statement)):
        return False
    for clause in statement.named_children:
        if clause.type != "except_clause" or not catches_transient(clause) or translates(clause):
            continue
        block = handler_block(clause)
        statements = [s for s in block.named_children if s.type != "comment"] if block else []
        if statements and statements[-1].type not in EXIT_TYPES:
            return True
    return False


def retry_bound(loop: tree_sitter.Node, statement: tree_sitter.Node) -> tree_sitter.Node | None:
    """What ends retry loop ``loop`` other than success: a ``for``/``while`` condition, a
    counter (``attempts += 1``), or any break / return / raise / sys.exit outside the try's
    success path
    (in a handler, or an ``if attempts > N: raise`` elsewhere in the loop). None when nothing
    does: the loop retries forever."""
    condition = loop.child_by_field_name("condition")
    if loop.type != "while_statement" or (
        condition is not None and node_text(condition) not in {"True", "1"}
    ):
        return loop
    success = {n.id for part in success_path(statement) for n in own_nodes(part)}
    success |= {part.id for part in success_path(statement)}
    for node in loop_body_nodes(loop):
        if node.type == "augmented_assignment":
            return node
        if node.type in EXIT_TYPES and node.id not in success:
            return node
        if node.type == "call" and syntax.callee(node) in _EXIT_CALLS:
            return node
    return None
