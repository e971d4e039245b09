"""Verify a rule's patch before it is offered.

A patch is offered only when the lines it replaces or writes were read as they are on disk
(no secret redacted, nothing undecodable replaced there: a patch built from that text would
overwrite it) and, applied to the file:
- nothing outside its edits changed (every other line is where the edits move it, as it was);
- the file still parses (no new tree-sitter error or missing node);
- what the replaced lines guaranteed is still there (``Patch.keeps``: the file's encoding=,
  an exclusive-create mode, a permission);
- the rule no longer fires at the finding's place (the rule re-run on the repository with
  the file replaced).
Otherwise the patch stays on the finding with ``reason`` saying which check failed, and
``vibe-audit fix`` does not apply it.
"""

from __future__ import annotations

from collections.abc import Iterator

import tree_sitter

from vibe_audit.chunker.parsing import parse
from vibe_audit.chunker.secrets import REDACTED_MARK
from vibe_audit.index import indexed
from vibe_audit.rules.base import Rule
from vibe_audit.rules.context import RepoContext
from vibe_audit.rules.engine import run_rules
from vibe_audit.rules.patching import apply_edits, moved_line, new_lines
from vibe_audit.schemas import Finding, Patch

# Verifying that the rule no longer fires re-indexes the whole repository once per patch
# (about the time of the run's own indexing): `vibe-audit run` makes none of these passes
# (its patches are proposed, checked to apply and parse), the review bot at most this many,
# `vibe-audit fix` one per patch it may print.
MAX_REPO_VERIFICATIONS = 25


def verify(
    patch: Patch, finding: Finding, rule: Rule, repo: RepoContext, *, rerun: bool = True
) -> Patch:
    """``patch`` marked verified, or with the reason it is not offered. Without ``rerun``
    only the checks that need no second pass over the repository are made (it applies,
    nothing else changes, it parses, the kept text is kept): the patch is then proposed,
    not verified, and ``vibe-audit fix`` verifies it in full before printing it."""
    reason = _failure(patch, finding, rule, repo, rerun=rerun)
    return patch.model_copy(update={"verified": rerun and reason is None, "reason": reason})


def _failure(
    patch: Patch, finding: Finding, rule: Rule, repo: RepoContext, *, rerun: bool
) -> str | None:
    path = finding.location.path
    if any(edit.path != path for edit in patch.edits):
        return "the patch edits another file than the finding's"
    ctx = next((c for c in repo.files if c.source.path == path), None)
    if ctx is None:
        return "the finding's file was not parsed"
    # The rules read the file with its secrets redacted (line for line) and undecodable
    # bytes replaced: a patch whose lines hold either would write that over the file.
    rewritten = [line for e in patch.edits for line in ctx.lines[e.start_line - 1 : e.end_line]]
    rewritten += [e.text for e in patch.edits]
    if any(REDACTED_MARK in text or "\ufffd" in text for text in rewritten):
        return (
            "its lines hold text the audit redacted (a secret) or could not decode: the patch, "
            "built from what the audit read, would overwrite it"
        )
    old = ctx.source.text
    try:
        new = apply_edits(old, patch.edits)
    except ValueError as exc:
        return f"the patch does not apply: {exc}"
    if new == old:
        return "the patch changes nothing"
    moved = _moved_elsewhere(old, new, patch)
    if moved is not None:
        return f"the patch changes line {moved}, outside its edits"
    before = _errors(ctx.root)
    after = _errors(parse(ctx.source.language, new).root_node)
    if after > before:
        return "the patched file does not parse"
    replaced = "".join("\n".join(ctx.lines[e.start_line - 1 : e.end_line]) for e in patch.edits)
    added = "".join(e.text for e in patch.edits)
    lost = [kept for kept in patch.keeps if kept in replaced and kept not in added]
    if lost:
        return f"the patch drops {lost[0]!r} from the lines it replaces"
    if not rerun:
        return None
    sources = [c.source for c in repo.files] + list(repo.other_sources)
    patched = [s.model_copy(update={"text": new}) if s.path == path else s for s in sources]
    again = run_rules(indexed(patched), list(finding.audits), [rule])
    spots = [*new_lines(patch.edits), _moved(patch, finding)]
    still = [
        f
        for f in again
        if f.location.path == path
        and any(f.location.start_line <= b and a <= f.location.end_line for a, b in spots)
    ]
    if still:
        return (
            f"{rule.meta.id} still fires on the patched code (line {still[0].location.start_line})"
        )
    return None


def _moved(patch: Patch, finding: Finding) -> tuple[int, int]:
    start = moved_line(patch.edits, finding.location.start_line)
    return start, start + (finding.location.end_line - finding.location.start_line)


def _moved_elsewhere(old: str, new: str, patch: Patch) -> int | None:
    """The first original line outside every edit that is not found, unchanged, where the
    edits move it in the patched file (None: nothing outside the edits changed)."""
    before, after = old.splitlines(), new.splitlines()
    inside = {n for e in patch.edits for n in range(e.start_line, e.end_line + 1)}
    for number, text in enumerate(before, start=1):
        if number in inside:
            continue
        at = moved_line(patch.edits, number)
        if not 0 < at <= len(after) or after[at - 1] != text:
            return number
    return None


def _errors(root: tree_sitter.Node) -> int:
    return sum(1 for node in _walk(root) if node.is_error or node.is_missing)


def _walk(node: tree_sitter.Node) -> Iterator[tree_sitter.Node]:
    yield node
    for child in node.children:
        yield from _walk(child)
