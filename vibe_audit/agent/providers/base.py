"""The provider contract and registry.

Two kinds of provider sit behind a model spec:

- the rule engine (``static``): audits the whole tree at once, no network;
- model providers: ``complete(request, schema)`` sends one rendered request and returns the
  model's JSON answer. That is the whole contract (plus ``aclose``); retries, budgets and
  caching live in the runner, not here. SDK exceptions are translated into
  vibe_audit.errors.ProviderError at this boundary.

The registry maps a spec's prefix to a factory; there is no if/elif chain to grow.
"""

from __future__ import annotations

import email.utils
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeGuard

from vibe_audit.errors import (
    ProviderConnectionError,
    ProviderError,
    ProviderHTTPError,
    ProviderTimeout,
)
from vibe_audit.rules.context import RepoContext
from vibe_audit.schemas import Assumption, AuditId, Finding, RenderedRequest


@dataclass
class ProviderResult:
    """What the rule engine returns for a whole tree."""

    findings: list[Finding]
    assumptions: dict[AuditId, list[Assumption]]
    checked_items: set[str] = field(default_factory=set)
    model_reviewed: bool = False


class StaticAuditor(Protocol):
    name: str
    model: str | None

    @property
    def description(self) -> str: ...

    def audit(self, repo: RepoContext, audits: list[AuditId]) -> ProviderResult: ...


@dataclass
class ModelReply:
    """One answer. ``text`` is what the model wrote (kept for the repair prompt)."""

    text: str
    tokens_in: int
    tokens_out: int
    truncated: bool = False  # the model hit its output limit
    tokens_cached: int = 0  # of tokens_in, read from the provider's prompt cache
    tokens_cache_written: int = 0  # of tokens_in, written to it (Anthropic bills a premium)


class ModelProvider(Protocol):
    name: str
    model: str
    local: bool  # a self-hosted server: no per-token price

    @property
    def description(self) -> str: ...

    async def complete(
        self, request: RenderedRequest, schema: dict[str, Any], repair: tuple[str, str] | None
    ) -> ModelReply:
        """Send ``request``; ``repair`` is (previous answer, what was wrong with it)."""

    async def aclose(self) -> None: ...


@dataclass(frozen=True)
class BatchStatus:
    """Where a provider's batch is: its own state name, whether it has ended (completed,
    failed, expired or cancelled: its results can be read), and requests done of total."""

    state: str
    ended: bool
    done: int = 0
    total: int = 0


class BatchProvider(ModelProvider, Protocol):
    """A model provider with a batch API (OpenAI Batch, Anthropic Message Batches): the
    same requests as ``complete``, submitted together, answered within a day at about half
    the price. agent/batch.py drives it."""

    def batch_line(
        self, custom_id: str, request: RenderedRequest, schema: dict[str, Any]
    ) -> dict[str, Any]:
        """One request of a batch, in the provider's format."""

    async def batch_submit(self, lines: list[dict[str, Any]]) -> str:
        """Submit the requests; returns the batch id."""

    async def batch_status(self, batch_id: str) -> BatchStatus: ...

    async def batch_results(self, batch_id: str) -> dict[str, ModelReply | ProviderError]:
        """Each answered request's reply (or its error) by custom id."""


@dataclass(frozen=True)
class ProviderSettings:
    """Everything a provider needs, already resolved from flags, config and environment."""

    spec: str
    api_key: str | None = None
    base_url: str | None = None
    timeout_s: float = 60.0
    max_output_tokens: int = 4096
    plan_only: bool = False  # --dry-run: nothing is sent, so no API key is needed


Provider = StaticAuditor | ModelProvider
ProviderFactory = Callable[[str, ProviderSettings], Provider]


def is_model(provider: Provider) -> TypeGuard[ModelProvider]:
    return hasattr(provider, "complete")


def has_batch_api(provider: Provider) -> TypeGuard[BatchProvider]:
    """A capability the provider declares (``supports_batch``): OpenAI itself and Anthropic
    have batch APIs; ollama, vLLM and llama.cpp do not."""
    return is_model(provider) and bool(getattr(provider, "supports_batch", False))


def retry_after_seconds(
    headers: Mapping[str, str] | None, now: float | None = None
) -> float | None:
    """Seconds to wait from Retry-After (seconds or HTTP date) or retry-after-ms headers."""
    if not headers:
        return None
    lowered = {k.lower(): v for k, v in headers.items()}
    if "retry-after-ms" in lowered:
        try:
            return max(0.0, float(lowered["retry-after-ms"]) / 1000)
        except ValueError:
            pass
    value = lowered.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        parsed = email.utils.parsedate_to_datetime(value) if value else None
        if parsed is None:
            return None
        return max(0.0, parsed.timestamp() - (now if now is not None else time.time()))


def translate_sdk_error(sdk: Any, exc: Exception, timeout_s: float) -> ProviderError:
    """The one boundary where an official SDK's exception becomes ours.

    ``sdk`` is the openai or anthropic module: both generate the same exception tree
    (APITimeoutError < APIConnectionError; APIStatusError with status_code and response).
    """
    if isinstance(exc, sdk.APITimeoutError):
        return ProviderTimeout(f"no answer within {timeout_s:g} s")
    if isinstance(exc, sdk.APIConnectionError):
        return ProviderConnectionError(f"connection failed: {exc}")
    if isinstance(exc, sdk.APIStatusError):
        headers = dict(exc.response.headers) if exc.response is not None else None
        return ProviderHTTPError(exc.status_code, str(exc.message), retry_after_seconds(headers))
    return ProviderError(f"{type(exc).__name__}: {exc}")
