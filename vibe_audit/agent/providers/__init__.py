"""Providers behind one small contract, looked up by the model spec's prefix."""

from vibe_audit.agent.providers.base import Provider, ProviderResult, get_provider

__all__ = ["Provider", "ProviderResult", "get_provider"]
