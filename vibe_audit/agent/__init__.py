"""Route chunks to audits, plan and run jobs against a provider."""

from vibe_audit.agent.run import ModelOptions, run_audit

__all__ = ["ModelOptions", "run_audit"]
