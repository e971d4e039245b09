"""Every exception caught and silently discarded.

What it finds:
    ``except:``, ``except Exception:`` or ``except BaseException:`` whose body is only
    ``pass``, ``...`` or ``continue``: no logging, no re-raise, no fallback value. Handlers
    around SQL writes are sqlite-swallowed-db-error's finding, not this rule's; best-effort
    cleanup (a try whose body only closes, removes or kills something, or any handler in a
    close() / __exit__ / __del__ method) is not flagged.

Why it matters:
    The handler hides every failure the block can have, including the ones nobody
    anticipated (a typo raising NameError, a dependency returning garbage, a full disk).
    The code carries on as if the work was done, and the first sign of trouble is missing
    or corrupt data much later, with nothing in the logs to trace it back.

Example:
    try:
        notify_webhook(order_id)
    except Exception:
        pass

Use instead:
    try:
        notify_webhook(order_id)
    except requests.RequestException:
        log.warning("webhook for %s failed", order_id, exc_info=True)
"""

from __future__ import annotations

from collections.abc import Iterator

import tree_sitter

from vibe_audit.chunker.parsing import node_text
from vibe_audit.rules import pyflow, syntax
from vibe_audit.rules.base import Hit, Rule, RuleMeta, node_hit
from vibe_audit.rules.builtin.sqlite_swallowed_db_error import runs_sql
from vibe_audit.rules.context import FileContext
from vibe_audit.schemas import Confidence, Severity

META = RuleMeta(
    id="broad-except-pass",
    title="Every exception silently swallowed",
    severity=Severity.MEDIUM,
    confidence=Confidence.HIGH,
    categories={"reliability": "Error Handling"},
    checklist=["reliability.7.1", "reliability.2.1", "reliability.obs.1"],
    problem=(
        "`except {caught}:` with only `{body}` discards every error raised by the try block "
        "(starting at `{first}`), expected or not, without a trace."
    ),
    scenario=(
        "The block fails for a reason nobody planned for (dependency down, bad data, a bug): "
        "execution continues as if it succeeded, and the missing result surfaces later "
        "somewhere else with no log line pointing here."
    ),
    impact=(
        "Silent partial failures: lost work, inconsistent state, and hours of debugging "
        "because the original exception was thrown away."
    ),
    how_to_verify=(
        "Make the try block raise (e.g. patch the called function to raise RuntimeError) "
        "and run the path: it completes normally and nothing is logged."
    ),
    fix=(
        "Catch only the exceptions this block expects, and log them (log.warning(..., "
        "exc_info=True)); let anything else propagate. If ignoring is really intended, "
        "use contextlib.suppress(SpecificError) and say why in a comment."
    ),
    trade_off=(
        "Narrow handlers let unexpected errors crash the operation: that is the point, but "
        "make sure the caller (worker loop, request handler) logs and isolates them."
    ),
    effort_hours=(0.1, 0.5),
    experimental=True,  # below the precision gate on real code: benchmarks/precision.py
)

_CLEANUP = frozenset(
    {"close", "aclose", "unlink", "remove", "rmdir", "rmtree", "removedirs", "kill",
     "terminate", "shutdown", "cancel", "release", "disconnect", "stop", "join", "cleanup",
     "dispose", "rollback", "delete", "wait", "flush", "unregister", "__exit__", "__del__"}
)  # fmt: skip


def check_file(ctx: FileContext) -> Iterator[Hit]:
    if "except" not in ctx.source.text:
        return
    for clause in pyflow.statements(ctx.root, "except_clause"):
        caught = pyflow.caught(clause)
        if caught not in pyflow.BROAD_EXCEPTIONS or not pyflow.is_silent(clause):
            continue
        statement = clause.parent
        body = statement.child_by_field_name("body") if statement is not None else None
        if body is None or runs_sql(body) or _cleanup_only(body) or _in_cleanup(clause):
            continue  # SQL writes: sqlite-swallowed-db-error reports this handler
        first = next((s for s in body.named_children if s.type != "comment"), body)
        handler = pyflow.handler_block(clause)
        yield node_hit(
            ctx,
            clause,
            details={
                "caught": caught or "(bare)",
                "body": node_text(handler).strip() if handler is not None else "pass",
                "first": node_text(first).split("\n")[0].strip(),
            },
        )


def _in_cleanup(clause: tree_sitter.Node) -> bool:
    """Inside a close() / __del__ / __exit__ style method: teardown must not raise."""
    function = pyflow.enclosing_function(clause)
    return function is not None and syntax.function_name(function).strip("_") in _CLEANUP | {
        "exit",
        "aexit",
        "del",
        "teardown",
        "tearDown",
    }


def _cleanup_only(body: tree_sitter.Node) -> bool:
    """Best-effort cleanup: every statement calls a close/remove/kill style method."""
    statements = [s for s in body.named_children if s.type != "comment"]
    for statement in statements:
        call = statement.named_children[0] if statement.named_child_count else None
        if call is not None and call.type == "await":
            call = call.named_children[0] if call.named_child_count else None
        if statement.type != "expression_statement" or call is None or call.type != "call":
            return False
        if syntax.last_name(syntax.callee(call)) not in _CLEANUP:
            return False
    return bool(statements)


RULE = Rule(meta=META, doc=__doc__ or "", check_file=check_file)
