"""The five audits as data files, and their loader."""

from vibe_audit.prompts.catalog import get_audit, load_audits, resolve_prompt_ids

__all__ = ["get_audit", "load_audits", "resolve_prompt_ids"]
