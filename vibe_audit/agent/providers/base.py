"""The provider contract and registry.

A provider turns the audited files into findings and the environment assumptions for each
selected audit. The registry maps a model spec's prefix ("static", later "openai",
"anthropic", ...) to a factory; there is no if/elif chain to grow.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from vibe_audit.errors import UserError
from vibe_audit.rules.context import RepoContext
from vibe_audit.schemas import Assumption, AuditId, Finding


@dataclass
class ProviderResult:
    findings: list[Finding]
    assumptions: dict[AuditId, list[Assumption]]
    checked_items: set[str] = field(default_factory=set)
    model_reviewed: bool = False
    tokens_in: int = 0
    tokens_out: int = 0
    cost_usd: float = 0.0


class Provider(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def model(self) -> str | None:
        """The model id, or None for providers that use no model."""

    @property
    def description(self) -> str: ...

    def audit(self, repo: RepoContext, audits: list[AuditId]) -> ProviderResult: ...


ProviderFactory = Callable[[str], Provider]
_REGISTRY: dict[str, ProviderFactory] = {}


def register(prefix: str, factory: ProviderFactory) -> None:
    _REGISTRY[prefix] = factory


def get_provider(spec: str) -> Provider:
    """A provider for a model spec such as 'static' or 'openai:gpt-4.1-mini'."""
    # Imported for its registration side effect; providers register themselves.
    from vibe_audit.agent.providers import static  # noqa: F401

    prefix, _, rest = spec.partition(":")
    factory = _REGISTRY.get(prefix)
    if factory is None:
        raise UserError(
            f"unknown model '{spec}'; available: {', '.join(sorted(_REGISTRY))} "
            "(model providers are not built yet)"
        )
    return factory(rest)
