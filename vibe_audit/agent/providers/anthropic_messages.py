"""Anthropic Messages, with a forced tool call whose input schema is the answer schema.

Spec: ``anthropic:<model>``. The answer is the input of the one tool call the model is
forced to make; stop_reason "max_tokens" marks a truncated answer. The system block and the
user message's shared prefix carry ``cache_control`` breakpoints (prompt caching); cache
reads and writes are reported separately.
"""

from __future__ import annotations

import json
import os
from typing import Any

from vibe_audit.agent.providers.base import (
    BatchStatus,
    ModelReply,
    ProviderSettings,
    translate_sdk_error,
)
from vibe_audit.errors import (
    MissingDependencyError,
    ProviderError,
    UserError,
)
from vibe_audit.schemas import RenderedRequest

TOOL = "report_audit"
EPHEMERAL = {"type": "ephemeral"}


def user_blocks(request: RenderedRequest) -> list[dict[str, Any]]:
    """The user message as content blocks: the shared prefix (audit line, repository
    context) marked as a prompt-cache breakpoint, then the chunk-specific rest. With the
    system block (also a breakpoint) the cached prefix is identical for every request of
    one audit in one run."""
    prefix, rest = request.user[: request.shared_prefix], request.user[request.shared_prefix :]
    if not prefix:
        return [{"type": "text", "text": request.user}]
    return [
        {"type": "text", "text": prefix, "cache_control": EPHEMERAL},
        {"type": "text", "text": rest},
    ]


class AnthropicProvider:
    name = "anthropic"
    supports_batch = True  # Message Batches
    local = False

    def __init__(self, model: str, settings: ProviderSettings) -> None:
        try:
            import anthropic
        except ImportError as exc:
            raise MissingDependencyError(
                "the anthropic package is not installed: pip install 'vibe-audit[models]'"
            ) from exc
        if not model:
            raise UserError(f"model spec '{settings.spec}' names no model")
        self.model = model
        self._settings = settings
        self._anthropic = anthropic
        self._client = anthropic.AsyncAnthropic(
            api_key=settings.api_key,
            base_url=settings.base_url,
            max_retries=0,
            timeout=settings.timeout_s,
        )

    @property
    def description(self) -> str:
        return f"anthropic model {self.model}"

    async def complete(
        self, request: RenderedRequest, schema: dict[str, Any], repair: tuple[str, str] | None
    ) -> ModelReply:
        try:
            response = await self._client.messages.create(**self._params(request, schema, repair))
        except self._anthropic.AnthropicError as exc:
            raise self._translate(exc) from exc
        return self._reply(response)

    def _params(
        self, request: RenderedRequest, schema: dict[str, Any], repair: tuple[str, str] | None
    ) -> dict[str, Any]:
        """The Messages request, the same live and in a batch."""
        messages: list[dict[str, Any]] = [{"role": "user", "content": user_blocks(request)}]
        if repair is not None:
            previous, problem = repair
            retry = (
                f"That answer was rejected: {problem}. "
                f"Call {TOOL} again with input that follows its schema exactly."
            )
            messages += [
                {"role": "assistant", "content": f"Previous answer (rejected):\n{previous}"},
                {"role": "user", "content": retry},
            ]
        tool = {
            "name": TOOL,
            "description": "Report this audit's answer for the slice.",
            "input_schema": schema,
        }
        return {
            "model": self.model,
            "max_tokens": self._settings.max_output_tokens,
            "system": [{"type": "text", "text": request.system, "cache_control": EPHEMERAL}],
            "messages": messages,
            "tools": [tool],
            "tool_choice": {"type": "tool", "name": TOOL},
        }

    @staticmethod
    def _reply(response: Any) -> ModelReply:
        blocks = [b for b in response.content if getattr(b, "type", "") == "tool_use"]
        text = json.dumps(getattr(blocks[0], "input", None)) if blocks else ""
        usage = response.usage
        read = getattr(usage, "cache_read_input_tokens", None) or 0
        written = getattr(usage, "cache_creation_input_tokens", None) or 0
        return ModelReply(
            text=text,
            # input_tokens counts only what follows the last cache breakpoint
            tokens_in=usage.input_tokens + read + written,
            tokens_out=usage.output_tokens,
            truncated=response.stop_reason == "max_tokens",
            tokens_cached=read,
            tokens_cache_written=written,
        )

    # Message Batches (agent/batch.py): the same params, submitted together.

    def batch_line(
        self, custom_id: str, request: RenderedRequest, schema: dict[str, Any]
    ) -> dict[str, Any]:
        return {"custom_id": custom_id, "params": self._params(request, schema, None)}

    async def batch_submit(self, lines: list[dict[str, Any]]) -> str:
        try:
            batch = await self._client.messages.batches.create(requests=lines)  # type: ignore[arg-type]
        except self._anthropic.AnthropicError as exc:
            raise self._translate(exc) from exc
        return str(batch.id)

    async def batch_status(self, batch_id: str) -> BatchStatus:
        try:
            batch = await self._client.messages.batches.retrieve(batch_id)
        except self._anthropic.AnthropicError as exc:
            raise self._translate(exc) from exc
        counts = batch.request_counts
        done = counts.succeeded + counts.errored + counts.canceled + counts.expired
        return BatchStatus(
            state=batch.processing_status,
            ended=batch.processing_status == "ended",
            done=done,
            total=done + counts.processing,
        )

    async def batch_results(self, batch_id: str) -> dict[str, ModelReply | ProviderError]:
        out: dict[str, ModelReply | ProviderError] = {}
        try:
            async for item in await self._client.messages.batches.results(batch_id):
                result = item.result
                if result.type == "succeeded":
                    out[item.custom_id] = self._reply(result.message)
                elif result.type == "errored":
                    error = getattr(result.error, "error", None)
                    message = getattr(error, "message", None) or str(result.error)
                    out[item.custom_id] = ProviderError(f"batch request errored: {message}")
                # canceled / expired: absent, sent again live
        except self._anthropic.AnthropicError as exc:
            raise self._translate(exc) from exc
        return out

    def _translate(self, exc: Exception) -> ProviderError:
        return translate_sdk_error(self._anthropic, exc, self._settings.timeout_s)

    async def aclose(self) -> None:
        await self._client.close()


def make_anthropic(rest: str, settings: ProviderSettings) -> AnthropicProvider:
    key = settings.api_key or os.environ.get("ANTHROPIC_API_KEY")
    if not key and not settings.base_url and not settings.plan_only:
        raise UserError(
            "anthropic: no API key (--api-key, api_key in config, or ANTHROPIC_API_KEY)"
        )
    return AnthropicProvider(
        rest, ProviderSettings(**{**settings.__dict__, "api_key": key or "none"})
    )
