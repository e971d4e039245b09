"""Pydantic JSON parse guarded by ``except JSONDecodeError``, which it never raises.

What it finds:
    ``Model.model_validate_json(...)``, ``TypeAdapter(...).validate_json(...)``,
    ``Model.parse_raw(...)`` or ``Model.parse_file(...)`` inside a ``try`` whose handlers
    catch ``json.JSONDecodeError`` (or other non-pydantic errors such as ``KeyError`` or
    ``TypeError``) but not ``ValidationError``, ``ValueError``, ``Exception`` or everything.

Why it matters:
    Pydantic parses the JSON itself and reports invalid JSON as a ``ValidationError``
    (error type ``json_invalid``), as it does a missing field or a wrong type; it never raises
    ``json.JSONDecodeError``. The handler the author wrote for a corrupt file is dead code: a
    truncated or outdated file raises ``ValidationError`` past it, and the fallback (recompute,
    use a default, skip the record) never runs.

Example:
    try:
        record = StageRecord.model_validate_json(path.read_text())
    except json.JSONDecodeError:
        return None            # never reached

Use instead:
    try:
        record = StageRecord.model_validate_json(path.read_text())
    except ValidationError:    # invalid JSON and schema mismatches alike
        return None
"""

from __future__ import annotations

from collections.abc import Iterator

import tree_sitter

from vibe_audit.rules import syntax
from vibe_audit.rules.base import Hit, Rule, RuleMeta, node_hit
from vibe_audit.rules.context import FileContext
from vibe_audit.rules.pyflow import caught
from vibe_audit.schemas import Confidence, Severity

META = RuleMeta(
    id="pydantic-parse-wrong-exception",
    title="Pydantic JSON parse guarded by an exception it does not raise",
    severity=Severity.MEDIUM,
    confidence=Confidence.HIGH,
    categories={"checkpoint": "Corruption", "reliability": "Error Handling"},
    checklist=["checkpoint.3C", "checkpoint.3D", "reliability.7.2"],
    problem=(
        "{function}() parses with `{call}` and handles `except {caught}`, but pydantic "
        "reports invalid JSON as well as schema errors as ValidationError, which that handler "
        "does not catch."
    ),
    scenario=(
        "The file or payload {function}() reads is truncated, hand-edited or written by an "
        "older version: `{call}` raises ValidationError, the `except {caught}` fallback is "
        "skipped, and the error propagates to the caller."
    ),
    impact=(
        "The recovery path written for corrupt data never runs; one bad record fails the "
        "operation that reads it on every attempt."
    ),
    how_to_verify=(
        "Feed {function}() truncated JSON: it raises "
        "pydantic_core.ValidationError (type=json_invalid) instead of taking the handler."
    ),
    fix=(
        "Catch `pydantic.ValidationError` (a ValueError subclass) instead of, or besides, "
        "json.JSONDecodeError, and log which file failed."
    ),
    trade_off="None.",
    effort_hours=(0.1, 0.25),
)

_PARSE_JSON = frozenset({"model_validate_json", "parse_raw", "parse_file", "validate_json"})
# Handler names that catch a pydantic ValidationError (a ValueError subclass).
_CATCHES = frozenset(
    {"", "Exception", "BaseException", "ValueError", "ValidationError", "PydanticUserError"}
)


def check_file(ctx: FileContext) -> Iterator[Hit]:
    text = ctx.source.text
    if "JSONDecodeError" not in text or not any(m in text for m in _PARSE_JSON):
        return
    # model_validate_json is pydantic's alone; the other names only where pydantic is used.
    methods = _PARSE_JSON if "pydantic" in ctx.imports else frozenset({"model_validate_json"})
    for statement in syntax.of_type(ctx.root, "try_statement"):
        handlers = [c for c in statement.named_children if c.type == "except_clause"]
        if not handlers or any(_catches_validation_error(c) for c in handlers):
            continue
        decode = [c for c in handlers if "JSONDecodeError" in caught(c)]
        if not decode:
            continue
        body = statement.child_by_field_name("body")
        if body is None:
            continue
        for call in syntax.of_type(body, "call", stop_at=syntax.FUNCTION_TYPES):
            name = syntax.callee(call)
            if syntax.last_name(name) not in methods or "." not in name:
                continue
            function = syntax.enclosing(call, "function_definition")
            yield node_hit(
                ctx,
                call,
                until=decode[0],
                details={
                    "function": syntax.function_name(function) if function else "<module>",
                    "call": syntax.callee(call) + "(...)",
                    "caught": caught(decode[0]),
                },
            )
            break


def _catches_validation_error(clause: tree_sitter.Node) -> bool:
    names = [n.strip("() ") for n in caught(clause).split(",")]
    if not any(names):
        return True  # bare except
    return any(syntax.last_name(n) in _CATCHES for n in names)


RULE = Rule(meta=META, doc=__doc__ or "", check_file=check_file)
