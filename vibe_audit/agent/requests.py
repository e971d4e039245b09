"""Turn chunks into model requests: route each chunk to its audits, attach rule hints, render."""

from __future__ import annotations

from vibe_audit.agent.router import applies
from vibe_audit.prompts import get_audit
from vibe_audit.prompts.render import hint_id, render_request
from vibe_audit.schemas import AuditId, Chunk, Finding, RenderedRequest


def hint_findings(chunk: Chunk, findings: list[Finding], audit: AuditId) -> list[Finding]:
    """Static-rule findings of ``audit`` located inside ``chunk``: the chunk's hints."""
    return [
        f
        for f in findings
        if audit in f.audits
        and f.location.path == chunk.path
        and chunk.start_line <= f.location.start_line <= chunk.end_line
    ]


def hints_for(chunk: Chunk, findings: list[Finding], audit: AuditId) -> list[str]:
    """Static-rule findings of ``audit`` located inside ``chunk``, as one-line hints."""
    return [
        f"{f.rule_id} at line {f.location.start_line}: {f.title}"
        for f in hint_findings(chunk, findings, audit)
    ]


def hint_ids(chunks: list[Chunk], findings: list[Finding], audit: AuditId) -> dict[str, str]:
    """Each hint id of a request for ``chunks`` (H1, H2... in the order it lists them) ->
    the fingerprint of its rule finding: how the answer's hint_verdicts find their finding."""
    hinted = [f for chunk in chunks for f in hint_findings(chunk, findings, audit)]
    return {hint_id(n): f.fingerprint for n, f in enumerate(hinted, start=1)}


def build_requests(
    chunks: list[Chunk],
    audits: list[AuditId],
    rule_findings: list[Finding],
    repo_context: str | None = None,
) -> tuple[list[RenderedRequest], dict[AuditId, int]]:
    """Requests for every (audit, applicable chunk), and the count skipped per audit.

    ``repo_context`` (the context pack) is built once and shared by every request.
    """
    requests: list[RenderedRequest] = []
    skipped: dict[AuditId, int] = {}
    for audit in audits:
        spec = get_audit(audit)
        for chunk in chunks:
            hints = hints_for(chunk, rule_findings, audit)
            if applies(spec, chunk, rule_hit=bool(hints)):
                requests.append(render_request(spec, chunk, hints, repo_context))
            else:
                skipped[audit] = skipped.get(audit, 0) + 1
    return requests, skipped
