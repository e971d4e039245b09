"""Route chunks to audits, plan and run jobs against a provider."""

from vibe_audit.agent.run import run_audit

__all__ = ["run_audit"]
