"""Load the audit templates (audits/<id>.md: TOML front matter + Markdown body).

A template's version is the sha256 of its file (first 12 hex digits): it is recorded in every
report and goes into cache keys, so editing a template invalidates cached answers.
"""

from __future__ import annotations

import hashlib
import tomllib
from functools import cache
from importlib import resources

from vibe_audit.errors import UnknownPromptError
from vibe_audit.schemas.audit_spec import AuditSpec
from vibe_audit.schemas.models import AUDIT_IDS, AuditId


@cache
def load_audits() -> dict[AuditId, AuditSpec]:
    """Every audit, in the documents' order. Raises if a template is invalid: the template
    files present are the audits (AUDIT_IDS is read from the same folder)."""
    folder = resources.files("vibe_audit.prompts") / "audits"
    audits: dict[AuditId, AuditSpec] = {}
    for audit_id in AUDIT_IDS:
        raw = (folder / f"{audit_id}.md").read_text(encoding="utf-8")
        audits[audit_id] = spec = parse_template(raw)
        if spec.id != audit_id:
            raise ValueError(f"audits/{audit_id}.md: its front matter says id = {spec.id!r}")
    orders = [spec.order for spec in audits.values()]
    if len(set(orders)) != len(orders):
        raise ValueError(f"audit templates share an `order` value: {orders}")
    return audits


def parse_template(raw: str) -> AuditSpec:
    """An AuditSpec from a template file's text: ``+++`` TOML front matter, then the body."""
    marker = "+++\n"
    if not raw.startswith(marker) or f"\n{marker}" not in raw[len(marker) :]:
        raise ValueError("a template starts with +++ front matter closed by a +++ line")
    front, body = raw[len(marker) :].split(f"\n{marker}", 1)
    data = tomllib.loads(front)
    version = hashlib.sha256(raw.encode("utf-8")).hexdigest()[:12]
    return AuditSpec.model_validate({**data, "body": body.strip() + "\n", "version": version})


def get_audit(audit_id: AuditId) -> AuditSpec:
    return load_audits()[audit_id]


def resolve_prompt_ids(spec: str) -> list[AuditId]:
    """Turn a --prompt value ('all', 'sqlite', 'sqlite,checkpoint') into audit ids."""
    names = [part.strip() for part in spec.split(",") if part.strip()]
    if not names:
        raise UnknownPromptError("--prompt is empty; use one of: all, " + ", ".join(AUDIT_IDS))
    if names == ["all"]:
        return list(AUDIT_IDS)
    resolved: list[AuditId] = []
    for name in names:
        match = next((a for a in AUDIT_IDS if a == name), None)
        if match is None:
            raise UnknownPromptError(
                f"unknown prompt id '{name}'; choose from: all, {', '.join(AUDIT_IDS)}"
            )
        if match not in resolved:
            resolved.append(match)
    return resolved
