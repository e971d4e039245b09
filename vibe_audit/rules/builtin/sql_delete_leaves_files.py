"""Row deleted while the files the repository stores under its id stay on disk.

What it finds:
    A repository-level rule for Python. A function runs ``DELETE FROM <table> ...`` (a
    literal SQL statement) for a table whose rows own files: elsewhere the repository
    builds a file or directory path from that table's id (``f"{root}/{document_id}"``,
    ``os.path.join(root, str(document.id))``, ``root / document_uuid``) in a function that
    writes or creates it (``open(.., "w")``, ``write_text``, ``mkdir``, ``makedirs``,
    ``shutil.copy``, ``.save(``). Reported when the deleting function removes no file
    (``shutil.rmtree``, ``os.remove``, ``unlink``, a ``*cleanup*`` / ``delete_*file*``
    helper) and no function anywhere in the repository removes a path built from that id
    (a cleanup that a caller or a job runs). The id is matched by the table's name:
    ``documents`` -> ``document_id`` / ``document.id`` / ``document_uuid``. Experimental: the
    link from table to files is by name only.

Why it matters:
    Each deleted item leaves its files behind: uploads, checkpoints, rendered pages,
    thumbnails. Nothing references them any more, so nothing ever deletes them: the disk
    fills with orphans over months, backups grow, and a later item that reuses the id
    (or a directory listing) can pick up stale files.

Example:
    def delete_document(db, document_id):
        db.execute("DELETE FROM documents WHERE id = ?", (document_id,))
        db.commit()                    # DATA_DIR / document_id stays on disk

Use instead:
    def delete_document(db, document_id):
        db.execute("DELETE FROM documents WHERE id = ?", (document_id,))
        db.commit()
        shutil.rmtree(DATA_DIR / str(document_id), ignore_errors=True)
        # or record the id in a deletions table and let a sweeper remove the files
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import tree_sitter

from vibe_audit.chunker.parsing import node_text
from vibe_audit.rules import sql, syntax
from vibe_audit.rules.base import Hit, Rule, RuleMeta, node_hit
from vibe_audit.rules.context import FileContext, RepoContext
from vibe_audit.schemas import Confidence, Severity

META = RuleMeta(
    id="sql-delete-leaves-files",
    title="Row deleted while the files stored under its id stay on disk",
    severity=Severity.MEDIUM,
    confidence=Confidence.LOW,
    categories={"checkpoint": "Orphans"},
    checklist=["checkpoint.4A"],
    problem=(
        "{function}() deletes rows of {table} ({call}), but the files the code stores "
        "under a row's id ({builder}) are not removed, here or anywhere else in the code."
    ),
    scenario=(
        "Items of {table} are deleted over months: every delete leaves its files at the "
        "path {builder} built, and nothing refers to them any more, so nothing removes them."
    ),
    impact=(
        "Disk usage grows with every deletion until the volume fills; backups carry the "
        "orphans, and a reused id can pick up stale files."
    ),
    how_to_verify=(
        "Create an item of {table} so that its files are written, delete it through "
        "{function}(), and list the directory: its files are still there."
    ),
    fix=(
        "Remove the item's files when the row is deleted (after the commit: "
        "`shutil.rmtree(path, ignore_errors=True)`), or record deleted ids and let a "
        "sweeper job remove files whose row no longer exists."
    ),
    trade_off=(
        "A crash between the commit and the file removal still leaves an orphan: a "
        "periodic sweep catches those."
    ),
    effort_hours=(0.5, 2.0),
    experimental=True,
)

_CREATES = re.compile(
    r"""open\([^)]*['"][wax]b?\+?['"]|\.write_text\(|\.write_bytes\(|\.mkdir\(|makedirs\(|"""
    r"""shutil\.(copy\w*|move)\(|\.save\(|\.touch\(""",
)
_PATHISH = re.compile(r"""os\.path\.join\(|Path\(|\s/\s|\bf['"]""")
_REMOVES = re.compile(
    r"rmtree\(|os\.remove\(|os\.unlink\(|\.unlink\(|\.rmdir\(|send2trash|"
    r"\b\w*(cleanup|clean_up|purge|delete_\w*files?|remove_\w*(files?|dirs?|directory))\w*\(",
    re.I,
)


def _singulars(table: str) -> set[str]:
    names = {table}
    if table.endswith("ies"):
        names.add(table[:-3] + "y")
    elif table.endswith("es"):
        names |= {table[:-2], table[:-1]}
    elif table.endswith("s"):
        names.add(table[:-1])
    return {n for n in names if len(n) > 2}


def _id_pattern(table: str) -> re.Pattern[str]:
    names = "|".join(sorted(re.escape(n) for n in _singulars(table)))
    return re.compile(rf"\b(?:{names})(?:_id|_uuid|_pk|\.id|\.uuid|\.pk)\b", re.I)


def check_repo(repo: RepoContext) -> Iterator[Hit]:
    files = [c for c in repo.in_language("python") if not syntax.is_test_path(c.source.path)]
    deletes = []
    for ctx in files:
        if "delete" not in ctx.source.text.lower():
            continue
        for function in syntax.functions(ctx.root):
            for found in sql.sql_calls(function):
                if found.verb == "DELETE" and found.table:
                    deletes.append((ctx, function, found))
    if not deletes:
        return
    functions = [(c, f, node_text(f)) for c in files for f in syntax.functions(c.root)]
    reported: set[int] = set()
    for ctx, function, found in deletes:
        if id(function) in reported or _REMOVES.search(node_text(function)):
            continue
        pattern = _id_pattern(found.table)
        builder = _builder(functions, pattern)
        if builder is None:
            continue
        if any(_REMOVES.search(text) and pattern.search(text) for _c, _f, text in functions):
            continue  # some code removes those files: a caller or a job can run it
        reported.add(id(function))
        yield node_hit(
            ctx,
            found.call,
            details={
                "function": syntax.function_name(function),
                "table": found.table,
                "call": node_text(found.call).split("\n")[0][:100],
                "builder": builder,
            },
        )


def _builder(
    functions: list[tuple[FileContext, tree_sitter.Node, str]], pattern: re.Pattern[str]
) -> str | None:
    """'<path>:<line> (<text>)' of a line that builds a path from the id in a function that
    writes or creates files, or None."""
    for ctx, function, text in functions:
        if not _CREATES.search(text) or not pattern.search(text):
            continue
        for offset, line in enumerate(text.split("\n")):
            if pattern.search(line) and _PATHISH.search(line):
                number = syntax.line(function) + offset
                return f"{ctx.source.path}:{number} `{line.strip()[:80]}`"
    return None


RULE = Rule(meta=META, doc=__doc__ or "", check_repo=check_repo)
