"""A row marked completed in the database before the file it promises is written (JS/TS).

What it finds:
    A JavaScript / TypeScript function that sets a status / state column to a finished
    value (``'completed'``, ``'done'``, ``'finished'``, ``'ready'`` ...), either in SQL
    (``UPDATE ... SET status = 'done'``, or ``SET status = ?`` with such a literal among
    the arguments, run directly or through a prepared statement) or through a query
    builder / ORM (``.update({ status: "completed" })``, ``.set({ status: "done" })``),
    and only afterwards, in the same call, writes a file with Node's fs module
    (``writeFile``, ``appendFile``, ``rename``, ``copyFile``, ``createWriteStream``) or
    ``Bun.write``. Not matched: the write and the update in different branches, or an
    update inside an explicit transaction whose COMMIT comes after the write.

Why it matters:
    The update commits on its own (autocommit) the moment it runs. If the process dies,
    the disk fills or the write throws between the two, the database says "completed"
    for output that does not exist or is cut short. Readers trust the status, serve or
    consume the missing file, and nothing retries the job because it is marked done.

Example:
    db.prepare("UPDATE exports SET status = 'completed' WHERE id = ?").run(id);
    await fs.promises.writeFile(outPath, data);

Use instead:
    await fs.promises.writeFile(tmpPath, data);
    await fs.promises.rename(tmpPath, outPath);
    db.prepare("UPDATE exports SET status = 'completed' WHERE id = ?").run(id);
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import tree_sitter

from vibe_audit.chunker.parsing import node_text
from vibe_audit.rules import js, syntax
from vibe_audit.rules import ports_util as pu
from vibe_audit.rules.base import Hit, Rule, RuleMeta, node_hit
from vibe_audit.rules.context import FileContext
from vibe_audit.schemas import Confidence, Severity

META = RuleMeta(
    id="js-status-done-before-file-written",
    title="Status set to completed before the file it promises is written",
    severity=Severity.HIGH,
    confidence=Confidence.MEDIUM,
    categories={"checkpoint": "Consistency", "guardrails": "Transactions"},
    checklist=["checkpoint.6B"],
    problem=(
        "{function} marks the row {status} ({update}) and only then writes a file "
        "(`{write}`, line {write_line}): the database reports the work finished before its "
        "output exists."
    ),
    scenario=(
        "The process stops, the disk fills or the write throws after the status update: "
        "the row stays {status} while the file is missing or partial, and nothing retries "
        "it."
    ),
    impact=(
        "Readers serve or consume output that does not exist or is truncated; the job is "
        "never redone because the database says it is finished."
    ),
    how_to_verify=(
        "Make the file write throw (a read-only directory) and run {function}: the row "
        "is marked {status} with no file."
    ),
    fix=(
        "Write the file first (to a temporary name, then rename into place), and set the "
        "finished status as the last step; on restart, re-run rows not yet finished."
    ),
    trade_off=(
        "A crash between the file and the status update leaves a finished file with an "
        "unfinished row: the re-run must overwrite it (idempotent output)."
    ),
    effort_hours=(0.25, 1.0),
    languages=js.JS_LANGUAGES,
    experimental=True,
)

_WRITES = frozenset(
    {"writeFile", "writeFileSync", "appendFile", "appendFileSync", "rename", "renameSync",
     "copyFile", "copyFileSync", "createWriteStream", "outputFile", "outputFileSync",
     "writeJson", "writeJSON", "writeJsonSync", "move", "moveSync", "cp", "cpSync"}
)  # fmt: skip
_ORM_UPDATE = re.compile(r"\.(update|updateOne|updateMany|set|findByIdAndUpdate|upsert)$")
_STATUS_KEY = re.compile(r"^\w*(status|state)$", re.I)


def check_file(ctx: FileContext) -> Iterator[Hit]:
    text = ctx.source.text
    if syntax.is_test_path(ctx.source.path) or not re.search(pu.DONE_WORDS, text, re.I):
        return
    bindings = js.fs_bindings(ctx.root)
    if not (bindings[0] or bindings[1]) and "Bun.write" not in text:
        return
    constants = pu.js_constants(ctx.root)
    prepared = pu.js_prepared(ctx.root, constants)
    regions = [r for r in pu.js_transaction_regions(ctx.root, constants) if r.kind == "explicit"]
    for function in syntax.of_type(ctx.root, *js.JS_FUNCTION_TYPES):
        calls = js.own_nodes(function, "call_expression")
        updates = [(c, s) for c in calls if (s := _sets_done(c, constants, prepared))]
        if not updates:
            continue
        writes = [c for c in calls if _writes_file(c, bindings)]
        hit = _first(ctx, function, updates, writes, regions)
        if hit is not None:
            yield hit


def _first(
    ctx: FileContext,
    function: tree_sitter.Node,
    updates: list[tuple[tree_sitter.Node, str]],
    writes: list[tree_sitter.Node],
    regions: list[pu.JsRegion],
) -> Hit | None:
    for update, status in updates:
        for write in writes:
            if write.start_byte < update.end_byte or pu.exclusive(update, write):
                continue
            if any(
                pu.js_in_region(update, r) and r.end.start_byte > write.start_byte for r in regions
            ):
                continue  # committed only after the write
            name = js.js_function_name(function)
            return node_hit(
                ctx,
                update,
                until=write,
                named_by=update,
                details={
                    "function": f"{name}()" if name != "<anonymous>" else "This function",
                    "status": f"'{status}'",
                    "update": node_text(update).split("\n")[0][:80],
                    "write": js.js_callee(write) + "(...)",
                    "write_line": str(syntax.line(write)),
                },
            )
    return None


def _sets_done(
    call: tree_sitter.Node, constants: dict[str, str], prepared: dict[str, str]
) -> str | None:
    """The finished status value the call stores, else None."""
    sql = pu.js_call_sql(call, constants, prepared)
    if sql is not None:
        match = pu.SQL_SETS_DONE.search(sql)
        if match:
            return match.group(2).lower()
        if pu.SQL_SETS_STATUS_PARAM.search(sql):
            for arg in js.js_arguments(call):
                for node in [arg, *syntax.walk(arg)]:
                    value = js.js_string(node) if node.type == "string" else None
                    if value is not None and pu.DONE_VALUE.match(value):
                        return value.lower()
        return None
    if not _ORM_UPDATE.search(js.js_callee(call)):
        return None
    for arg in js.js_arguments(call):
        for pair in syntax.of_type(arg, "pair") if arg.type != "pair" else [arg]:
            key = pair.child_by_field_name("key")
            stored = pair.child_by_field_name("value")
            if key is None or stored is None:
                continue
            if not _STATUS_KEY.match(node_text(key).strip("'\"")):
                continue
            literal = js.js_string(stored)
            if literal is None and stored.type == "member_expression":
                literal = node_text(stored).rsplit(".", 1)[-1]  # JobStatus.COMPLETED
            if literal is not None and pu.DONE_VALUE.match(literal):
                return literal.lower()
    return None


def _writes_file(call: tree_sitter.Node, bindings: tuple[set[str], set[str]]) -> bool:
    callee = js.js_callee(call)
    if callee == "Bun.write":
        return True
    if not js.is_fs_call(call, bindings):
        return False
    return callee.rsplit(".", 1)[-1] in _WRITES


RULE = Rule(meta=META, doc=__doc__ or "", check_file=check_file)
