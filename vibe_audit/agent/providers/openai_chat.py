"""OpenAI Chat Completions, and OpenAI-compatible servers (ollama, vLLM, llama.cpp, LM Studio).

Specs: ``openai:<model>``, ``ollama:<model>`` (http://localhost:11434/v1 unless --base-url),
``openai-compat:<base-url>#<model>``. The answer is forced with a strict JSON-schema response
format; a server that rejects json_schema (HTTP 400 naming it) is asked again in JSON mode,
where the schema, which the server no longer sees, is stated in prose at the end of the
system message (generated from the same schema). The runner validates the answer either way.
"""

from __future__ import annotations

import hashlib
import json
import os
from typing import Any, Final

from vibe_audit.agent.providers.base import (
    BatchStatus,
    ModelReply,
    ProviderSettings,
    translate_sdk_error,
)
from vibe_audit.errors import (
    MissingDependencyError,
    ProviderError,
    ProviderHTTPError,
    UserError,
)
from vibe_audit.schemas import RenderedRequest
from vibe_audit.schemas.answer import schema_prose

OLLAMA_URL = "http://localhost:11434/v1"
CHAT_URL: Final = "/v1/chat/completions"
_UNSUPPORTED_STRICT = ("minLength", "maxLength", "minimum", "maximum", "minItems", "maxItems",
                       "pattern", "format", "default")  # fmt: skip


def strict_schema(schema: Any) -> Any:
    """The schema without keywords strict structured outputs reject (validated afterwards)."""
    if isinstance(schema, dict):
        return {k: strict_schema(v) for k, v in schema.items() if k not in _UNSUPPORTED_STRICT}
    if isinstance(schema, list):
        return [strict_schema(v) for v in schema]
    return schema


class OpenAIChatProvider:
    def __init__(self, name: str, model: str, settings: ProviderSettings, local: bool) -> None:
        try:
            import openai
        except ImportError as exc:
            raise MissingDependencyError(
                "the openai package is not installed: pip install 'vibe-audit[models]'"
            ) from exc
        if not model:
            raise UserError(f"model spec '{settings.spec}' names no model")
        self.name, self.model, self.local = name, model, local
        self.supports_batch = name == "openai"  # the Batch API is OpenAI's own, not a server's
        self._settings = settings
        self._openai = openai
        self._json_schema_ok = True
        self._strict: dict[int, Any] = {}
        self._prose: dict[int, str] = {}
        self._client = openai.AsyncOpenAI(
            api_key=settings.api_key or "not-needed",
            base_url=settings.base_url,
            max_retries=0,  # the runner retries, with its own backoff and budget
            timeout=settings.timeout_s,
        )

    @property
    def description(self) -> str:
        where = f" at {self._client.base_url}" if self.local or self._settings.base_url else ""
        return f"{self.name} model {self.model}{where}"

    async def complete(
        self, request: RenderedRequest, schema: dict[str, Any], repair: tuple[str, str] | None
    ) -> ModelReply:
        messages: list[dict[str, str]] = [
            {"role": "system", "content": request.system},
            {"role": "user", "content": request.user},
        ]
        if repair is not None:
            previous, problem = repair
            messages += [
                {"role": "assistant", "content": previous},
                {"role": "user", "content": f"That answer was rejected: {problem}. "
                 "Answer again with one JSON object that follows the schema exactly."},
            ]  # fmt: skip
        key = prompt_cache_key(request)
        try:
            return await self._send(messages, schema, key)
        except self._openai.BadRequestError as exc:
            if self._json_schema_ok and _rejects_json_schema(exc):
                self._json_schema_ok = False  # e.g. an older llama.cpp: JSON mode from now on
                return await self._send(messages, schema, key)
            raise self._translate(exc) from exc
        except self._openai.OpenAIError as exc:
            raise self._translate(exc) from exc

    async def _send(
        self, messages: list[dict[str, str]], schema: dict[str, Any], cache_key: str
    ) -> ModelReply:
        body = self._body(messages, schema, cache_key)
        arguments: dict[str, Any] = {
            k: v for k, v in body.items() if k not in ("response_format", "prompt_cache_key")
        }
        # Sent as is: the SDK would otherwise walk the whole schema on every request.
        arguments["extra_body"] = {"response_format": body["response_format"]}
        if "prompt_cache_key" in body:
            arguments["prompt_cache_key"] = body["prompt_cache_key"]
        return self._reply(await self._client.chat.completions.create(**arguments))

    def _body(
        self, messages: list[dict[str, str]], schema: dict[str, Any], cache_key: str
    ) -> dict[str, Any]:
        """The Chat Completions request body, the same live and in a batch."""
        response_format: dict[str, Any] = {"type": "json_object"}
        if not self._json_schema_ok:  # JSON mode: the model must be told the schema
            if id(schema) not in self._prose:
                self._prose[id(schema)] = schema_prose(schema)
            system = f"{messages[0]['content'].rstrip()}\n\n{self._prose[id(schema)]}"
            messages = [{**messages[0], "content": system}, *messages[1:]]
        else:
            if id(schema) not in self._strict:  # the runner passes one schema object per audit
                self._strict[id(schema)] = strict_schema(schema)
            strict = {"name": "chunk_answer", "strict": True, "schema": self._strict[id(schema)]}
            response_format = {"type": "json_schema", "json_schema": strict}
        body: dict[str, Any] = {
            "model": self.model,
            "messages": messages,
            "temperature": 0,
            "max_tokens": self._settings.max_output_tokens,
            "response_format": response_format,
        }
        if self.name == "openai" and cache_key:
            # OpenAI caches long prompt prefixes by itself; the key routes requests that
            # share the prefix to the same cache (other servers may reject the field).
            body["prompt_cache_key"] = cache_key
        return body

    @staticmethod
    def _reply(response: Any) -> ModelReply:
        choice = response.choices[0]
        usage = response.usage
        details = getattr(usage, "prompt_tokens_details", None) if usage else None
        return ModelReply(
            text=choice.message.content or "",
            tokens_in=usage.prompt_tokens if usage else 0,
            tokens_out=usage.completion_tokens if usage else 0,
            truncated=choice.finish_reason == "length",
            tokens_cached=(getattr(details, "cached_tokens", None) or 0) if details else 0,
        )

    # The OpenAI Batch API (agent/batch.py): a JSONL file of Chat Completions bodies.

    def batch_line(
        self, custom_id: str, request: RenderedRequest, schema: dict[str, Any]
    ) -> dict[str, Any]:
        messages = [
            {"role": "system", "content": request.system},
            {"role": "user", "content": request.user},
        ]
        body = self._body(messages, schema, prompt_cache_key(request))
        return {"custom_id": custom_id, "method": "POST", "url": CHAT_URL, "body": body}

    async def batch_submit(self, lines: list[dict[str, Any]]) -> str:
        data = "".join(json.dumps(line) + "\n" for line in lines).encode("utf-8")
        try:
            uploaded = await self._client.files.create(
                file=("vibe-audit-batch.jsonl", data, "application/jsonl"), purpose="batch"
            )
            batch = await self._client.batches.create(
                input_file_id=uploaded.id,
                endpoint=CHAT_URL,
                completion_window="24h",
                metadata={"tool": "vibe-audit"},
            )
        except self._openai.OpenAIError as exc:
            raise self._translate(exc) from exc
        return str(batch.id)

    async def batch_status(self, batch_id: str) -> BatchStatus:
        try:
            batch = await self._client.batches.retrieve(batch_id)
        except self._openai.OpenAIError as exc:
            raise self._translate(exc) from exc
        counts = batch.request_counts
        return BatchStatus(
            state=batch.status,
            ended=batch.status in ("completed", "failed", "expired", "cancelled"),
            done=(counts.completed + counts.failed) if counts else 0,
            total=counts.total if counts else 0,
        )

    async def batch_results(self, batch_id: str) -> dict[str, ModelReply | ProviderError]:
        """Answers by custom id; a request missing from both files (an expired or failed
        batch) is absent, and the batch runner sends it again live."""
        try:
            batch = await self._client.batches.retrieve(batch_id)
            texts = [
                (await self._client.files.content(file_id)).text
                for file_id in (batch.output_file_id, batch.error_file_id)
                if file_id
            ]
        except self._openai.OpenAIError as exc:
            raise self._translate(exc) from exc
        from openai.types.chat import ChatCompletion

        out: dict[str, ModelReply | ProviderError] = {}
        for text in texts:
            for raw in text.splitlines():
                if not raw.strip():
                    continue
                line = json.loads(raw)
                response = line.get("response") or {}
                status = int(response.get("status_code") or 0)
                if status == 200 and not line.get("error"):
                    out[line["custom_id"]] = self._reply(
                        ChatCompletion.model_validate(response.get("body"))
                    )
                else:
                    error = line.get("error") or (response.get("body") or {}).get("error") or {}
                    message = str(error.get("message", error)) if isinstance(error, dict) else error
                    out[line["custom_id"]] = ProviderHTTPError(status or 500, str(message))
        return out

    def _translate(self, exc: Exception) -> ProviderError:
        return translate_sdk_error(self._openai, exc, self._settings.timeout_s)

    async def aclose(self) -> None:
        await self._client.close()


def prompt_cache_key(request: RenderedRequest) -> str:
    """Same for every request sharing the system message and the user message's prefix."""
    shared = request.system + "\0" + request.user[: request.shared_prefix]
    return "vibe-audit-" + hashlib.sha256(shared.encode("utf-8")).hexdigest()[:24]


def _rejects_json_schema(exc: Exception) -> bool:
    text = str(exc).lower()
    return "json_schema" in text or "response_format" in text


def make_openai(rest: str, settings: ProviderSettings) -> OpenAIChatProvider:
    key = settings.api_key or os.environ.get("OPENAI_API_KEY")
    if not key and not settings.base_url and not settings.plan_only:
        raise UserError("openai: no API key (--api-key, api_key in config, or OPENAI_API_KEY)")
    resolved = ProviderSettings(**{**settings.__dict__, "api_key": key or "none"})
    return OpenAIChatProvider("openai", rest, resolved, local=False)


def make_ollama(rest: str, settings: ProviderSettings) -> OpenAIChatProvider:
    resolved = ProviderSettings(
        **{
            **settings.__dict__,
            "base_url": settings.base_url or os.environ.get("OLLAMA_BASE_URL", OLLAMA_URL),
        }
    )
    return OpenAIChatProvider("ollama", rest, resolved, local=True)


def make_compat(rest: str, settings: ProviderSettings) -> OpenAIChatProvider:
    base_url, _, model = rest.rpartition("#")
    if not base_url.startswith(("http://", "https://")) or not model:
        raise UserError(
            f"openai-compat spec must be openai-compat:<base-url>#<model>, got '{rest}'"
        )
    resolved = ProviderSettings(**{**settings.__dict__, "base_url": base_url})
    return OpenAIChatProvider("openai-compat", model, resolved, local=True)
