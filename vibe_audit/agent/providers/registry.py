"""Which module makes the provider of a model spec: an explicit table, imported on demand.

A model spec is "<prefix>:<rest>" (or a bare prefix): ``openai:gpt-4.1-mini``,
``anthropic:claude-sonnet-4-6``, ``openai-compat:http://host:8000/v1#model``, ``static``.
A new provider is its own module plus one row here. Tests add their scripted doubles with
``register`` (named as test doubles).
"""

from __future__ import annotations

import importlib

from vibe_audit.agent.providers.base import Provider, ProviderFactory, ProviderSettings
from vibe_audit.errors import UserError

_HERE = "vibe_audit.agent.providers"
PROVIDERS: dict[str, tuple[str, str]] = {
    "static": (f"{_HERE}.static", "StaticProvider"),
    "openai": (f"{_HERE}.openai_chat", "make_openai"),
    "ollama": (f"{_HERE}.openai_chat", "make_ollama"),
    "openai-compat": (f"{_HERE}.openai_chat", "make_compat"),
    "anthropic": (f"{_HERE}.anthropic_messages", "make_anthropic"),
    "oracle-test-double": (f"{_HERE}.doubles", "make_oracle"),
    "noisy-oracle-test-double": (f"{_HERE}.doubles", "make_noisy_oracle"),
}
_REGISTERED: dict[str, ProviderFactory] = {}


def register(prefix: str, factory: ProviderFactory) -> None:
    """Add a provider at run time (tests register their scripted doubles this way)."""
    _REGISTERED[prefix] = factory


def factory_for(prefix: str) -> ProviderFactory | None:
    if prefix in _REGISTERED:
        return _REGISTERED[prefix]
    row = PROVIDERS.get(prefix)
    if row is None:
        return None
    module, name = row
    factory: ProviderFactory = getattr(importlib.import_module(module), name)
    return factory


def get_provider(spec: str, settings: ProviderSettings | None = None) -> Provider:
    """A provider for a model spec such as 'static' or 'openai:gpt-4.1-mini'."""
    prefix, _, rest = spec.partition(":")
    factory = factory_for(prefix)
    if factory is None:
        known = sorted({*PROVIDERS, *_REGISTERED})
        raise UserError(f"unknown model '{spec}'; model specs start with: {', '.join(known)}")
    return factory(rest, settings or ProviderSettings(spec=spec))
