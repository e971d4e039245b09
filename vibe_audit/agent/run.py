"""One audit run: discover -> slice -> provider -> verify -> merge -> score -> Report."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from vibe_audit import __version__
from vibe_audit.agent.providers import get_provider
from vibe_audit.chunker import DiscoveryOptions, discover, recount, slice_file, token_counter
from vibe_audit.prompts import get_audit
from vibe_audit.rules.context import build_context
from vibe_audit.rules.engine import rules_for
from vibe_audit.schemas import Report, RunRequest, RunStats
from vibe_audit.schemas.merge import merge, number
from vibe_audit.schemas.score import build_section
from vibe_audit.schemas.suppress import suppress
from vibe_audit.schemas.verify import verify


def run_audit(
    request: RunRequest,
    say: Callable[[str], None] = lambda _msg: None,
    clock: Callable[[], float] = time.perf_counter,
) -> Report:
    """Audit ``request.target``. ``say`` receives one-line progress messages."""
    started = clock()
    provider = get_provider(request.model)
    options = DiscoveryOptions(
        max_bytes=request.max_file_bytes,
        include=tuple(request.include),
        exclude=tuple(request.exclude),
    )
    found = discover(Path(request.target), options)
    say(f"found {len(found.files)} file(s) to audit, skipped {len(found.skipped)}")
    chunks = [chunk for source in found.files for chunk in slice_file(source)]
    recount(chunks)
    repo = build_context(found.files)
    parse_errors = [ctx.source.path for ctx in repo.files if ctx.root.has_error]
    say(f"auditing {len(chunks)} chunk(s) with {provider.description}")
    result = provider.audit(repo, request.audits)
    lines_by_path = {ctx.source.path: ctx.lines for ctx in repo.files}
    verified, dropped = verify(result.findings, lines_by_path)
    kept, suppressed = suppress(merge(verified), lines_by_path, set(request.baseline))
    findings = number(kept)
    sections = [
        build_section(
            get_audit(audit_id),
            findings,
            result.assumptions[audit_id],
            result.checked_items,
            result.model_reviewed,
            files_audited=len(found.files),
        )
        for audit_id in request.audits
    ]
    stats = RunStats(
        root=str(found.root),
        files_discovered=len(found.files) + len(found.skipped),
        files_audited=len(found.files),
        files_skipped=found.skip_counts(),
        skipped=found.skipped,
        discovery="git" if found.source == "git" else "walk",
        secrets_redacted=dict(sorted(found.secrets_redacted.items())),
        chunks=len(chunks),
        parse_errors=parse_errors,
        provider=provider.name,
        model=provider.model,
        model_note=provider.description,
        chunk_tokens=sum(c.tokens for c in chunks),
        tokens_in=result.tokens_in,
        tokens_out=result.tokens_out,
        token_counter=token_counter(),
        cost_usd=result.cost_usd,
        elapsed_s=round(clock() - started, 3),
        rules_run=len(rules_for(request.audits)),
        findings_dropped=dropped,
        suppressed=suppressed,
    )
    return Report(
        tool_version=__version__,
        audits=request.audits,
        prompt_versions={a: get_audit(a).version for a in request.audits},
        sections=sections,
        findings=findings,
        stats=stats,
    )
