"""The fix step: rules' mechanical patches, verified before they are offered.

A rule with a fixer (``Rule.fix``) attaches a ``Patch`` to each of its findings; this step
verifies each one (vibe_audit.fixes.verify) so that a report says which findings have a fix
and whether it is safe, and ``vibe-audit fix`` prints or applies only verified ones.
"""

from __future__ import annotations

from vibe_audit.fixes.verify import MAX_REPO_VERIFICATIONS, verify
from vibe_audit.rules.context import RepoContext
from vibe_audit.rules.engine import load_rules
from vibe_audit.rules.patching import apply_edits
from vibe_audit.schemas import Finding, LineEdit, PatchSafety

__all__ = ["MAX_REPO_VERIFICATIONS", "patched_files", "verify", "verify_patches"]


def verify_patches(
    findings: list[Finding], repo: RepoContext, limit: int = MAX_REPO_VERIFICATIONS
) -> list[Finding]:
    """``findings`` with every rule patch checked: the first ``limit`` verified in full (the
    rule re-run on the patched repository), the others only checked to apply, change nothing
    else, parse and keep what they must (proposed, not verified)."""
    rules = load_rules()
    checked = 0
    result: list[Finding] = []
    for finding in findings:
        patch, rule = finding.patch, rules.get(finding.rule_id or "")
        if patch is None or rule is None:
            result.append(finding)
            continue
        patch = verify(patch, finding, rule, repo, rerun=checked < limit)
        checked += 1
        result.append(finding.model_copy(update={"patch": patch}))
    return result


def patched_files(
    findings: list[Finding], texts: dict[str, str], *, unsafe: bool = False
) -> tuple[dict[str, str], list[tuple[Finding, str]]]:
    """The new text of every file the offered patches change ({path: text}), and the
    findings whose offered patch was left out, with why (unsafe without ``unsafe``, or its
    edits overlap another patch's in the same file)."""
    by_path: dict[str, list[Finding]] = {}
    left_out: list[tuple[Finding, str]] = []
    for finding in findings:
        patch = finding.patch
        if patch is None or not patch.offered:
            continue
        if patch.safety is PatchSafety.UNSAFE and not unsafe:
            left_out.append((finding, "unsafe (needs review): pass --unsafe to include it"))
            continue
        by_path.setdefault(finding.location.path, []).append(finding)
    result: dict[str, str] = {}
    for path, group in sorted(by_path.items()):
        taken: list[LineEdit] = []
        for finding in group:
            assert finding.patch is not None
            # The same edit in two patches (an import both need) is made once.
            edits = [e for e in finding.patch.edits if e not in taken]
            try:
                apply_edits(texts[path], [*taken, *edits])
            except ValueError:
                left_out.append((finding, "its lines overlap another patch in the file"))
                continue
            taken += edits
        if taken:
            result[path] = apply_edits(texts[path], taken)
    return result, left_out
