"""Load the audit definitions (audits/<id>.toml) shipped inside the package."""

from __future__ import annotations

import tomllib
from functools import cache
from importlib import resources

from vibe_audit.errors import UnknownPromptError
from vibe_audit.schemas.audit_spec import AuditSpec
from vibe_audit.schemas.models import AUDIT_IDS, AuditId


@cache
def load_audits() -> dict[AuditId, AuditSpec]:
    """Every audit, in the documents' order. Raises if a data file is missing or invalid."""
    folder = resources.files("vibe_audit.prompts") / "audits"
    audits: dict[AuditId, AuditSpec] = {}
    for audit_id in AUDIT_IDS:
        data = tomllib.loads((folder / f"{audit_id}.toml").read_text(encoding="utf-8"))
        audits[audit_id] = AuditSpec.model_validate(data)
    return audits


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
