"""Route chunks to audits, plan and run jobs against a provider."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from vibe_audit.agent.model_pass import ModelOptions

if TYPE_CHECKING:
    from vibe_audit.pipeline import run_audit

__all__ = ["ModelOptions", "run_audit"]


def __getattr__(name: str) -> Any:
    """``run_audit``, imported on first use: vibe_audit.pipeline imports this package's
    modules, so importing it here, as the package loads, would be circular."""
    if name == "run_audit":
        from vibe_audit.pipeline import run_audit

        return run_audit
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
