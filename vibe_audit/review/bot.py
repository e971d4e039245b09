"""The review: audit what a change touched, split findings, post one GitHub review.

- Findings on changed lines are "introduced or touched by this change": they become inline
  comments (a ```suggestion block when the finding has a verified patch replacing lines the
  change touched).
- Findings elsewhere in changed files are "pre-existing nearby": listed in the summary only.
  A finding on an unchanged line never becomes an inline comment.
- Idempotent: each inline comment carries a hidden marker with the finding's fingerprint
  and is never posted twice; the summary comment carries its own marker and is edited in
  place, only when its text changed. Re-running on the same head posts nothing.
- The review's SARIF gives every result a ``baselineState`` from the diff and the base
  revision, so a viewer can show only what the change brought (``baseline_states``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vibe_audit.chunker.languages import language_for
from vibe_audit.chunker.slicer import slice_file
from vibe_audit.report.sarif import BaselineState, render_sarif
from vibe_audit.review.diff import Ranges, base_revision, old_paths, text_at, touches
from vibe_audit.review.github import GitHub
from vibe_audit.schemas import AuditId, Finding, Report, SourceFile

SUMMARY_MARKER = "<!-- vibe-audit:summary -->"
FINDING_MARKER = "<!-- vibe-audit:finding:{} -->"
_MARKER_PREFIX = "<!-- vibe-audit:finding:"


@dataclass
class Review:
    report: Report
    changed: Ranges
    introduced: list[Finding] = field(default_factory=list)
    nearby: list[Finding] = field(default_factory=list)


def split(report: Report, changed: Ranges) -> Review:
    review = Review(report=report, changed=changed)
    for finding in report.findings:
        loc = finding.location
        if loc.path not in changed:
            continue
        if touches(changed[loc.path], loc.start_line, loc.end_line):
            review.introduced.append(finding)
        else:
            review.nearby.append(finding)
    return review


def baseline_states(
    review: Review, base_texts: Mapping[str, str | None]
) -> dict[str, BaselineState]:
    """Each finding's fingerprint -> what the change did to it, for the SARIF ``baselineState``.

    - ``unchanged``: on lines the change did not touch (there before, as it was).
    - ``updated``: on lines the change touched, but the same defect was already at the base:
      the base version of the file (``base_texts``, by new path; None for a new file) has the
      finding's evidence line in the same symbol, the parts its fingerprint hashes (the
      path and the rule followed through a rename).
    - ``new``: on lines the change touched, and not at the base.
    """
    touched = {id(f) for f in review.introduced}
    states: dict[str, BaselineState] = {}
    for finding in review.report.findings:
        if id(finding) not in touched:
            state: BaselineState = "unchanged"
        elif _at_base(finding, base_texts.get(finding.location.path)):
            state = "updated"
        else:
            state = "new"
        # One fingerprint, one defect: if two findings share it, the most changed state wins.
        before = states.get(finding.fingerprint, state)
        states[finding.fingerprint] = max(before, state, key=_CHANGED.index)
    return states


_CHANGED: list[BaselineState] = ["unchanged", "updated", "new"]


def _normal(line: str) -> str:
    return " ".join(line.split())


def _at_base(finding: Finding, text: str | None) -> bool:
    """The finding's evidence line is in the base text, inside the same symbol."""
    if text is None or not finding.evidence:
        return False
    evidence = _normal(finding.evidence[0].text)
    lines = text.splitlines()
    spans = [(1, len(lines))]
    symbol = finding.location.symbol
    spec = language_for(finding.location.path)
    if symbol and spec is not None and spec.grammar is not None:
        source = SourceFile(path=finding.location.path, language=spec.name, text=text, sha256="")
        spans = [(c.start_line, c.end_line) for c in slice_file(source) if c.symbol == symbol]
    return any(_normal(line) == evidence for a, b in spans for line in lines[a - 1 : b])


def review_sarif(
    review: Review, root: Path, *, base: str | None, head: str | None, staged: bool
) -> str:
    """The review's SARIF: the report's results, each with its ``baselineState``."""
    revision = base_revision(root, base=base, head=head, staged=staged)
    renamed = old_paths(root, base=base, head=head, staged=staged)
    paths = {f.location.path for f in review.introduced}
    texts = {p: text_at(root, revision, renamed.get(p, p)) for p in paths}
    return render_sarif(review.report, baseline=baseline_states(review, texts))


def _comment_line(finding: Finding, ranges: list[tuple[int, int]]) -> int:
    """The first changed line inside the finding: inline comments go on changed lines only."""
    loc = finding.location
    return next(n for n in range(loc.start_line, loc.end_line + 1) if touches(ranges, n, n))


def inline_comment(finding: Finding, changed: Ranges) -> dict[str, Any]:
    line = _comment_line(finding, changed[finding.location.path])
    audits = ", ".join(f"{a}: {c}" for a, c in finding.categories.items())
    body = [
        f"**[{finding.severity.value}] {finding.title}** ({audits})",
        "",
        finding.problem,
        "",
        f"**Impact:** {finding.impact}",
        "",
    ]
    comment: dict[str, Any] = {"path": finding.location.path, "line": line, "side": "RIGHT"}
    suggestion = _suggestion(finding, changed[finding.location.path])
    if suggestion is not None:
        start, end, text = suggestion
        safety = finding.patch.safety.value if finding.patch else "safe"
        body += [f"**Suggested fix** ({safety}, verified):", "```suggestion", text, "```"]
        comment.update(
            line=end, **({"start_line": start, "start_side": "RIGHT"} if start < end else {})
        )
    else:
        body += ["**Fix:**", "```", finding.fix, "```"]
    body += ["", FINDING_MARKER.format(finding.fingerprint)]
    return comment | {"body": "\n".join(body)}


def _suggestion(finding: Finding, ranges: list[tuple[int, int]]) -> tuple[int, int, str] | None:
    """(first line, last line, new text) of a one-click suggestion: the finding's verified
    patch when it is one contiguous replacement of lines this change touched (a rule's patch
    is verified to parse and to clear the finding; model findings carry none)."""
    patch = finding.patch
    if patch is None or not patch.offered or len(patch.edits) != 1:
        return None
    (edit,) = patch.edits
    if edit.end_line < edit.start_line:  # an insertion: no lines of the change to replace
        return None
    if not all(touches(ranges, n, n) for n in range(edit.start_line, edit.end_line + 1)):
        return None
    return edit.start_line, edit.end_line, edit.text.removesuffix("\n")


def summary(review: Review, head: str) -> str:
    report = review.report
    lines = [
        SUMMARY_MARKER,
        "## vibe-audit review",
        "",
        f"Reviewed `{head[:12]}`: {sum(len(r) for r in review.changed.values())} changed "
        f"hunk(s) in {len(review.changed)} file(s); engine: {report.stats.model_note}.",
        "",
        f"**{len(review.introduced)} finding(s) introduced or touched by this change**, "
        f"{len(review.nearby)} pre-existing nearby.",
        "",
    ]
    if review.introduced:
        lines += ["| | Finding | Where |", "|---|---|---|"]
        lines += [
            f"| {f.severity.value} | {f.title} | `{f.location.path}:{f.location.start_line}` |"
            for f in review.introduced
        ]
        lines.append("")
    if review.nearby:
        lines += ["<details><summary>Pre-existing findings in the changed files</summary>", ""]
        lines += [
            f"- {f.severity.value} {f.title} `{f.location.path}:{f.location.start_line}`"
            for f in review.nearby
        ]
        lines += ["", "</details>", ""]
    unreviewed = report.stats.unreviewed_jobs
    if unreviewed:
        lines.append(f"Not reviewed by the model: {len(unreviewed)} request(s) (see the report).")
    missing = len(report.coverage.not_audited()) if report.coverage else 0
    if missing:
        lines.append(
            f"**Not a clean result: {missing} symbol(s) or file(s) of the change were not "
            "audited** (failed or clipped; see the report's coverage table)."
        )
    scores = ", ".join(
        f"{s.audit} {s.score_text}"
        + (f" ({n} symbols not audited)" if (n := _not_audited(report, s.audit)) else "")
        for s in report.sections
    )
    lines.append(f"Scores of the changed code: {scores}.")
    return "\n".join(lines) + "\n"


def _not_audited(report: Report, audit: AuditId) -> int:
    summary = report.coverage.for_audit(audit) if report.coverage else None
    return summary.not_audited if summary else 0


def post(github: GitHub, pr: int, review: Review) -> list[str]:
    """Post what is new; return what was done, one line each."""
    repo = f"/repos/{github.repo}"
    head = github.get(f"{repo}/pulls/{pr}")["head"]["sha"]
    done: list[str] = []
    existing = github.get_all(f"{repo}/pulls/{pr}/comments")
    commented = {
        body.split(_MARKER_PREFIX, 1)[1].split(" ", 1)[0]
        for c in existing
        if _MARKER_PREFIX in (body := c.get("body") or "")
    }
    new = [f for f in review.introduced if f.fingerprint not in commented]
    if new:
        github.post(
            f"{repo}/pulls/{pr}/reviews",
            {
                "commit_id": head,
                "event": "COMMENT",
                "body": f"vibe-audit: {len(new)} new finding(s) on the lines this change touches.",
                "comments": [inline_comment(f, review.changed) for f in new],
            },
        )
        done.append(f"posted a review with {len(new)} inline comment(s)")
    body = summary(review, head)
    comments = github.get_all(f"/repos/{github.repo}/issues/{pr}/comments")
    mine = next((c for c in comments if SUMMARY_MARKER in (c.get("body") or "")), None)
    if mine is None:
        github.post(f"{repo}/issues/{pr}/comments", {"body": body})
        done.append("posted the summary comment")
    elif mine.get("body") != body:
        github.patch(f"{repo}/issues/comments/{mine['id']}", {"body": body})
        done.append("updated the summary comment")
    return done
