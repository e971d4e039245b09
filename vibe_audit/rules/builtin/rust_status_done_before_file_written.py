"""A row marked completed in the database before the file it promises is written (Rust).

What it finds:
    A Rust function that sets a status / state column to a finished value
    (``'completed'``, ``'done'``, ``'finished'``, ``'ready'`` ...) with rusqlite
    (``conn.execute("UPDATE ... SET status = 'done' ...", ..)``) or sqlx
    (``sqlx::query("UPDATE ... SET status = ?").bind("completed")...execute(..)``), and
    only afterwards, in the same call, writes a file (``std::fs::write``,
    ``File::create``, ``fs::rename``, ``fs::copy``, or their ``tokio::fs`` versions). Not
    matched: the update and the write in different branches, or an update made through a
    transaction whose ``commit()`` comes after the write.

Why it matters:
    The update commits the moment it runs. If the process dies, the disk fills or the
    write returns an error between the two, the database says "completed" for output
    that does not exist or is cut short. Readers trust the status and serve the missing
    file, and nothing retries the job because it is marked done.

Example:
    conn.execute("UPDATE exports SET status = 'completed' WHERE id = ?1", [id])?;
    std::fs::write(&out_path, &bytes)?;

Use instead:
    std::fs::write(&tmp_path, &bytes)?;
    std::fs::rename(&tmp_path, &out_path)?;
    conn.execute("UPDATE exports SET status = 'completed' WHERE id = ?1", [id])?;
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import tree_sitter

from vibe_audit.chunker.parsing import node_text
from vibe_audit.rules import ports_util as pu
from vibe_audit.rules import rust, syntax
from vibe_audit.rules.base import Hit, Rule, RuleMeta, node_hit
from vibe_audit.rules.context import FileContext
from vibe_audit.schemas import Confidence, Severity

META = RuleMeta(
    id="rust-status-done-before-file-written",
    title="Status set to completed before the file it promises is written",
    severity=Severity.HIGH,
    confidence=Confidence.MEDIUM,
    categories={"checkpoint": "Consistency", "guardrails": "Transactions"},
    checklist=["checkpoint.6B"],
    problem=(
        "{function}() marks the row {status} and only then writes a file (`{write}`, line "
        "{write_line}): the database reports the work finished before its output exists."
    ),
    scenario=(
        "The process stops, the disk fills or the write fails after the status update: "
        "the row stays {status} while the file is missing or partial, and nothing retries "
        "it."
    ),
    impact=(
        "Readers serve or consume output that does not exist or is truncated; the job is "
        "never redone because the database says it is finished."
    ),
    how_to_verify=(
        "Make the file write fail (a read-only directory) and run {function}(): the row "
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
    languages=["rust"],
    experimental=True,
)

_WRITE_PATHS = re.compile(
    r"(^|::)(fs::(write|rename|copy|hard_link)|File::create(_new)?|OpenOptions::new)$"
)


def check_file(ctx: FileContext) -> Iterator[Hit]:
    text = ctx.source.text
    if syntax.is_test_path(ctx.source.path) or not re.search(pu.DONE_WORDS, text, re.I):
        return
    if "UPDATE" not in text.upper() or not re.search(r"fs::|File::create|OpenOptions", text):
        return
    constants = rust.string_constants(ctx.root)
    uses = rust.use_paths(ctx.root)
    transactions = list(pu.rust_transactions(ctx.root))
    for function in rust.rust_functions(ctx.root):
        if rust.is_rust_test(function, ctx.source.path):
            continue
        calls = [n for n in rust.rust_body_nodes(function) if n.type == "call_expression"]
        updates = [(c, s) for c in calls if (s := _sets_done(c, constants))]
        if not updates:
            continue
        writes = [c for c in calls if _WRITE_PATHS.search(rust.call_path(c, uses))]
        hit = _first(ctx, function, updates, writes, transactions)
        if hit is not None:
            yield hit


def _first(
    ctx: FileContext,
    function: tree_sitter.Node,
    updates: list[tuple[tree_sitter.Node, str]],
    writes: list[tree_sitter.Node],
    transactions: list[pu.RustTransaction],
) -> Hit | None:
    for update, status in updates:
        chain = pu.rust_sql_chain(update)
        for write in writes:
            if write.start_byte < chain.end_byte or pu.exclusive(update, write):
                continue
            if any(
                t.function == function
                and pu.between(update, t.begin, t.commit)
                and t.commit.start_byte > write.start_byte
                for t in transactions
            ):
                continue  # committed only after the write
            return node_hit(
                ctx,
                update,
                until=write,
                named_by=update,
                details={
                    "function": rust.rust_function_name(function),
                    "status": f"'{status}'",
                    "write": node_text(write.child_by_field_name("function") or write) + "(..)",
                    "write_line": str(syntax.line(write)),
                },
            )
    return None


def _sets_done(call: tree_sitter.Node, constants: dict[str, str]) -> str | None:
    sql = pu.rust_sql_of(call, constants)
    if not sql or rust.method_name(call) in {"prepare", "prepare_cached"}:
        return None
    match = pu.SQL_SETS_DONE.search(sql)
    if match:
        return match.group(2).lower()
    if pu.SQL_SETS_STATUS_PARAM.search(sql):
        for node in [call, *syntax.walk(pu.rust_sql_chain(call))]:
            value = rust.rust_string(node)
            if value is not None and pu.DONE_VALUE.match(value):
                return value.lower()
        for tree in syntax.of_type(call, "token_tree"):
            for literal in re.findall(r'"(\w+)"', node_text(tree)):
                if pu.DONE_VALUE.match(str(literal)):
                    return str(literal).lower()
    return None


RULE = Rule(meta=META, doc=__doc__ or "", check_file=check_file)
