"""A row marked completed and committed before the file it promises is written.

What it finds:
    A Python function that sets a status / state column to a finished value
    (``'completed'``, ``'done'``, ``'finished'``, ``'success'``, ``'ready'`` ...), by SQL
    (``UPDATE ... SET status = 'done'``, or ``SET status = ?`` with the value among the
    parameters) or on an ORM object (``job.status = "completed"``), commits it (a
    ``.commit()`` after it, or the end of a ``with conn:`` / ``engine.begin()`` block), and
    only then writes a file: ``open(path, "w")``, ``Path.write_text`` / ``write_bytes``,
    ``json.dump`` / ``pickle.dump``, ``shutil.copy*`` / ``shutil.move``, ``os.replace`` /
    ``os.rename``, ``DataFrame.to_csv`` / ``to_parquet``, ``savefig``, or a call of a
    module-level function of the repository that does one of these. Only the order
    "commit the finished status, then write" in one call counts (not a write in another
    branch of an ``if``).

Why it matters:
    Between the commit and the end of the write the database already says the item is
    finished while its file does not exist or is half-written. A crash, a full disk or an
    exception in that window leaves the state permanently inconsistent: readers serve a
    missing or truncated file, and nothing re-runs the item because its status says done.

Example:
    conn.execute("UPDATE exports SET status = 'completed' WHERE id = ?", (export_id,))
    conn.commit()
    Path(out_path).write_text(report)

Use instead:
    tmp = Path(out_path).with_suffix(".tmp")
    tmp.write_text(report)
    os.replace(tmp, out_path)                   # the file is complete first
    with conn:                                  # then the status that promises it
        conn.execute("UPDATE exports SET status = 'completed' WHERE id = ?", (export_id,))
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import tree_sitter

from vibe_audit.chunker.parsing import node_text
from vibe_audit.rules import pytxn_util as tx
from vibe_audit.rules import syntax
from vibe_audit.rules.base import Hit, Rule, RuleMeta, node_hit
from vibe_audit.rules.context import FileContext, RepoContext, resolved_call
from vibe_audit.schemas import Confidence, Severity

META = RuleMeta(
    id="status-done-committed-before-file-written",
    title="Finished status committed before the file it promises is written",
    severity=Severity.HIGH,
    confidence=Confidence.MEDIUM,
    categories={"checkpoint": "Consistency", "guardrails": "Transactions"},
    checklist=["checkpoint.6B"],
    problem=(
        "{function}() commits `{status}` ({commit}) before it writes the file "
        "(`{write}`, line {write_line}): for a while, and for good after a failure, the "
        "database says finished while the file is missing or incomplete."
    ),
    scenario=(
        "The process is killed, the disk fills up or the write raises after the commit: "
        "the row stays '{value}', readers look for the file and find nothing or a "
        "truncated one, and nothing re-runs the item because its status says it is done."
    ),
    impact=(
        "Items reported finished whose output is missing or corrupt, with no automatic "
        "recovery; the inconsistency is found only when someone opens the file."
    ),
    how_to_verify=(
        "Raise right after the commit in {function}() (or make the file write fail), then "
        "query the row: it is '{value}' and the file does not exist."
    ),
    fix=(
        "Write the file first (to a temporary name, then os.replace it into place), and "
        "only then commit the finished status; on startup, reconcile rows marked finished "
        "whose file is missing."
    ),
    trade_off=(
        "A crash after the write and before the commit leaves a finished file with an "
        "unfinished row: harmless if the item is re-run and overwrites it."
    ),
    effort_hours=(0.25, 1.0),
    experimental=True,
)

_DONE = r"(completed?|done|finished|success|succeeded|successful|ready|processed|exported)"
_SQL_DONE = re.compile(r"\bSET\b.*?\b\w*(status|state)\s*=\s*'" + _DONE + r"'", re.I | re.S)
_SQL_PARAM_STATUS = re.compile(r"\bSET\b.*?\b\w*(status|state)\s*=\s*(\?|:\w+|%s)", re.I | re.S)
_DONE_VALUE = re.compile(r"^" + _DONE + r"$", re.I)
_FILE_CALLS = frozenset(
    {"json.dump", "pickle.dump", "shutil.copy", "shutil.copy2", "shutil.copyfile",
     "shutil.move", "shutil.copytree", "os.replace", "os.rename", "yaml.dump",
     "yaml.safe_dump", "np.save", "numpy.save", "torch.save", "plt.savefig"}
)  # fmt: skip
_FILE_METHODS = frozenset({"write_text", "write_bytes", "to_csv", "to_parquet", "savefig"})
_WRITE_MODE = re.compile(r"^[rbt+]*[wxa][rbt+]*$")


def check_repo(repo: RepoContext) -> Iterator[Hit]:
    writers: set[str] | None = None
    for ctx in tx.database_files(repo):
        if not re.search(_DONE, ctx.source.text, re.I):
            continue
        for function in syntax.functions(ctx.root):
            if not _done_marks(ctx, function):
                continue
            if writers is None:
                writers = _file_writing_functions(repo)
            hit = _check_function(ctx, function, writers)
            if hit is not None:
                yield hit


def _file_writing_functions(repo: RepoContext) -> set[str]:
    """Module-level functions of the repository that write a file in their own body."""
    names = set()
    for ctx in repo.in_language("python"):
        for function in syntax.functions(ctx.root):
            parent = function.parent
            if parent is not None and parent.type == "decorated_definition":
                parent = parent.parent
            if parent is None or parent.type != "module":
                continue
            if any(_writes_file(c) for c in syntax.body_nodes(function, "call")):
                names.add(syntax.function_name(function))
    return names


def _check_function(ctx: FileContext, function: tree_sitter.Node, writers: set[str]) -> Hit | None:
    marks = _done_marks(ctx, function)
    commit_calls = tx.commits(function)
    blocks = tx.transaction_blocks(function)
    writes = [
        c
        for c in syntax.body_nodes(function, "call")
        if _writes_file(c) or resolved_call(syntax.callee(c), ctx) in writers
    ]
    for mark, value in marks:
        for write in writes:
            if write.start_byte < mark.end_byte or tx.exclusive(mark, write):
                continue
            commit = _committed_between(mark, write, commit_calls, blocks)
            if commit is None:
                continue
            return node_hit(
                ctx,
                mark,
                until=write,
                named_by=function,
                details={
                    "function": syntax.function_name(function),
                    "status": " ".join(node_text(mark).split())[:70],
                    "value": value,
                    "commit": commit,
                    "write": " ".join(node_text(write).split())[:60],
                    "write_line": str(syntax.line(write)),
                },
            )
    return None


def _done_marks(ctx: FileContext, function: tree_sitter.Node) -> list[tuple[tree_sitter.Node, str]]:
    """Nodes that set a status to a finished value, with the value."""
    marks: list[tuple[tree_sitter.Node, str]] = []
    for stmt in tx.statements(function, tx.constants_of(ctx, function)):
        if stmt.verb != "UPDATE":
            continue
        match = _SQL_DONE.search(stmt.sql)
        if match:
            marks.append((stmt.call, match.group(2)))
            continue
        if _SQL_PARAM_STATUS.search(stmt.sql):
            for arg in syntax.positional_args(stmt.call)[1:]:
                for node in syntax.walk(arg):
                    value = syntax.string_value(node) if node.type == "string" else None
                    if value and _DONE_VALUE.match(value):
                        marks.append((stmt.call, value))
    for assignment in syntax.body_nodes(function, "assignment"):
        left, right = (
            assignment.child_by_field_name("left"),
            assignment.child_by_field_name("right"),
        )
        if left is None or right is None or left.type != "attribute":
            continue
        attribute = syntax.last_name(node_text(left)).lower()
        value = syntax.string_value(right) if right.type == "string" else None
        if right.type == "attribute":  # JobStatus.COMPLETED
            value = syntax.last_name(node_text(right))
        if re.search(r"(status|state)$", attribute) and value and _DONE_VALUE.match(value):
            marks.append((assignment, value.lower()))
    marks.sort(key=lambda m: m[0].start_byte)
    return marks


def _writes_file(call: tree_sitter.Node) -> bool:
    name = syntax.callee(call)
    short = syntax.last_name(name)
    if name in _FILE_CALLS or short in _FILE_METHODS:
        return True
    args = syntax.positional_args(call)
    if name in {"open", "io.open", "aiofiles.open", "gzip.open"}:
        mode = syntax.keyword_value(call, "mode") or (args[1] if len(args) > 1 else None)
    elif short == "open" and "." in name:  # Path(...).open("w")
        mode = syntax.keyword_value(call, "mode") or (args[0] if args else None)
    else:
        return False
    text = syntax.string_value(mode) if mode is not None else None
    return bool(text and _WRITE_MODE.match(text))


def _committed_between(
    mark: tree_sitter.Node,
    write: tree_sitter.Node,
    commit_calls: list[tree_sitter.Node],
    blocks: list[tree_sitter.Node],
) -> str | None:
    for commit in commit_calls:
        between = mark.end_byte <= commit.start_byte and commit.end_byte <= write.start_byte
        if between and not (tx.exclusive(commit, mark) or tx.exclusive(commit, write)):
            return f"`{node_text(commit)[:40]}` at line {syntax.line(commit)}"
    for block in blocks:
        if (
            tx.inside(mark, block)
            and not tx.inside(write, block)
            and block.end_byte <= write.start_byte
        ):
            return f"the `with` block of line {syntax.line(block)} commits on exit"
    return None


RULE = Rule(meta=META, doc=__doc__ or "", check_repo=check_repo)
