"""Providers behind one small contract, looked up by the model spec's prefix."""

from vibe_audit.agent.providers.base import (
    ModelProvider,
    ModelReply,
    ProviderResult,
    ProviderSettings,
    StaticAuditor,
    is_model,
)
from vibe_audit.agent.providers.registry import get_provider, register

__all__ = [
    "ModelProvider",
    "ModelReply",
    "ProviderResult",
    "ProviderSettings",
    "StaticAuditor",
    "get_provider",
    "is_model",
    "register",
]
