"""`vibe-audit fix`: the rules' verified patches, as a unified diff or applied.

Exit codes: 0 the diff was printed or the patches applied (also when there is nothing to
fix); 2 a usage mistake (unknown rule or prompt, --diff with --apply, missing path); 3 a
patched file could not be written (the files already written stay patched and are listed).
"""

from __future__ import annotations

import difflib
import os
import shutil
import tempfile
from pathlib import Path
from typing import Annotated

import typer

from vibe_audit.agent import run_audit
from vibe_audit.commands.options import (
    DEFAULT_MAX_FILE_BYTES,
    Exclude,
    Include,
    IncludeTests,
    MaxFileBytes,
    Prompt,
    Quiet,
)
from vibe_audit.commands.run import say_line
from vibe_audit.errors import OutputWriteError, UserError
from vibe_audit.fixes import patched_files
from vibe_audit.prompts import resolve_prompt_ids
from vibe_audit.rules.engine import load_rules
from vibe_audit.schemas import Finding, PatchSafety, Report, RunRequest

# `fix` verifies every patch it may print (a run verifies at most 25).
FIX_VERIFICATIONS = 10_000


def fix(
    path: Annotated[Path, typer.Argument(help="Repository, directory or file to fix.")] = Path("."),
    prompt: Prompt = "all",
    rule: Annotated[
        list[str] | None,
        typer.Option("--rule", help="Only this rule's findings (repeat; `vibe-audit rules list`)."),
    ] = None,
    diff: Annotated[
        bool, typer.Option("--diff", help="Print the patches as a unified diff (the default).")
    ] = False,
    apply: Annotated[
        bool, typer.Option("--apply", help="Write the patched files (keeping each file's mode).")
    ] = False,
    unsafe: Annotated[
        bool,
        typer.Option(
            "--unsafe",
            help="Include patches that need review (an atomic-write helper, a transaction, a "
            "guard), not only the safe ones (a timeout argument, a PRAGMA in the factory).",
        ),
    ] = False,
    include: Include = None,
    exclude: Exclude = None,
    max_file_bytes: MaxFileBytes = DEFAULT_MAX_FILE_BYTES,
    include_tests: IncludeTests = False,
    quiet: Quiet = False,
) -> None:
    """Print (or apply) the verified patches of the built-in rules' findings: safe ones
    unless --unsafe; exit 0 printed or applied, 2 usage mistake, 3 a file not written."""
    if diff and apply:
        raise UserError("--diff and --apply: choose one (--diff is the default)")
    rules = load_rules()
    unknown = [r for r in rule or [] if r not in rules]
    if unknown:
        raise UserError(f"unknown rule '{unknown[0]}'; `vibe-audit rules list` shows them")
    experimental = any(rules[r].meta.experimental for r in rule or [])
    request = RunRequest(
        target=str(path),
        audits=resolve_prompt_ids(prompt),
        model="static",
        max_file_bytes=max_file_bytes,
        include=include or [],
        exclude=exclude or [],
        include_tests=include_tests,
        rules="experimental" if experimental else "stable",
    )
    say = (lambda _m: None) if quiet else say_line
    report = run_audit(request, say=say, patch_limit=FIX_VERIFICATIONS)
    assert isinstance(report, Report)
    chosen = [f for f in report.findings if not rule or f.rule_id in rule]
    root = Path(report.stats.root)
    texts = {
        f.location.path: (root / f.location.path).read_text(encoding="utf-8")
        for f in chosen
        if f.patch is not None and f.patch.offered
    }
    changed, left_out = patched_files(chosen, texts, unsafe=unsafe)
    if apply:
        _apply(root, changed, texts)
    else:
        for name, new in changed.items():
            typer.echo("".join(_diff(name, texts[name], new)), nl=False)
    if not quiet:
        for line in _summary(chosen, changed, left_out, applied=apply):
            say_line(line)


def _diff(name: str, old: str, new: str) -> list[str]:
    lines = difflib.unified_diff(
        old.splitlines(keepends=True), new.splitlines(keepends=True), f"a/{name}", f"b/{name}"
    )
    return [line if line.endswith("\n") else line + "\n\\ No newline at end of file\n"
            for line in lines]  # fmt: skip


def _apply(root: Path, changed: dict[str, str], texts: dict[str, str]) -> None:
    """Write each patched file in place of the old one (temp file, fsync, rename), keeping
    its mode; refuse a file that changed on disk since it was read."""
    written: list[str] = []
    for name, new in changed.items():
        target = root / name
        try:
            if target.read_text(encoding="utf-8") != texts[name]:
                raise OSError(f"{name} changed on disk while it was being fixed")
            _replace(target, new)
        except OSError as exc:
            done = f"; already patched: {', '.join(written)}" if written else ""
            raise OutputWriteError(f"could not write {name}: {exc}{done}") from exc
        written.append(name)


def _replace(target: Path, text: str) -> None:
    handle, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        shutil.copymode(target, tmp)  # a 0600 or executable file keeps its mode
        os.replace(tmp, target)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _summary(
    findings: list[Finding],
    changed: dict[str, str],
    left_out: list[tuple[Finding, str]],
    *,
    applied: bool,
) -> list[str]:
    offered = [f for f in findings if f.patch is not None and f.patch.offered]
    left = {id(f) for f, _ in left_out}
    used = [f for f in offered if id(f) not in left]
    safe = sum(1 for f in used if f.patch is not None and f.patch.safety is PatchSafety.SAFE)
    verb = "applied" if applied else "printed"
    lines = [
        f"{verb} {len(used)} patch(es) ({safe} safe, {len(used) - safe} needing review) "
        f"to {len(changed)} file(s); {len(findings)} finding(s), "
        f"{sum(1 for f in findings if f.patch is None)} without a mechanical fix"
    ]
    lines += [f"left out: {_where(f)}: {why}" for f, why in left_out]
    lines += [
        f"not offered: {_where(f)}: {f.patch.reason}"
        for f in findings
        if f.patch is not None and not f.patch.offered
    ]
    return lines


def _where(finding: Finding) -> str:
    return f"{finding.location.path}:{finding.location.start_line} {finding.rule_id}"
