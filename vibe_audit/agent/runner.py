"""Run the planned jobs against a model provider.

asyncio with bounded concurrency; a timeout per call; retries with exponential backoff and
full jitter for retryable failures only (429, 5xx, timeouts, connection errors), honouring
Retry-After; one repair call when an answer is not valid JSON, breaks the schema or was cut
off, with the problem shown to the model; every answer cached the moment it arrives; a
budget that reserves each call's maximum cost before sending it, so spend never passes
--max-cost. A job that still fails is reported as failed, never dropped.
"""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from vibe_audit.agent.answers import AnswerError, parse_answer
from vibe_audit.agent.cache import ResponseCache
from vibe_audit.agent.planner import CachePrice, Price
from vibe_audit.agent.providers.base import ModelProvider, ModelReply
from vibe_audit.errors import ProviderError, ProviderTimeout
from vibe_audit.prompts import get_audit
from vibe_audit.schemas import Job, JobOutcome
from vibe_audit.schemas.answer import ChunkAnswer, answer_json_schema
from vibe_audit.schemas.audit_spec import AuditSpec

Status = str
Progress = Callable[[JobOutcome], None]
Sleep = Callable[[float], Awaitable[None]]


@dataclass(frozen=True)
class RunnerSettings:
    concurrency: int = 8
    timeout_s: float = 60.0
    max_attempts: int = 4  # per call, counting the first
    backoff_base_s: float = 1.0
    backoff_max_s: float = 30.0
    max_cost_usd: float | None = None


@dataclass
class Budget:
    """Spend so far plus what in-flight calls might still cost; never above ``limit``."""

    limit: float | None
    spent: float = 0.0
    reserved: float = 0.0

    def reserve(self, amount: float) -> bool:
        if self.limit is not None and self.spent + self.reserved + amount > self.limit + 1e-12:
            return False
        self.reserved += amount
        return True

    def settle(self, reserved: float, actual: float) -> None:
        self.reserved -= reserved
        self.spent += actual


@dataclass
class RunResult:
    outcomes: list[JobOutcome]
    answers: dict[str, ChunkAnswer]  # job id -> valid answer
    events: Counter[str] = field(default_factory=Counter)
    spent_usd: float = 0.0
    saved_usd: float = 0.0  # by the provider's prompt cache


class _JobFailed(Exception):
    def __init__(self, reason: str, timed_out: bool) -> None:
        super().__init__(reason)
        self.timed_out = timed_out


class Tally:
    """Attempts, tokens and cost of one job so far."""

    def __init__(self, job: Job) -> None:
        self.job = job
        self.attempts = self.tokens_in = self.tokens_out = self.tokens_cached = 0
        self.cost = 0.0

    def add(self, reply: ModelReply, cost: float) -> None:
        self.tokens_in += reply.tokens_in
        self.tokens_out += reply.tokens_out
        self.tokens_cached += reply.tokens_cached
        self.cost += cost

    def outcome(self, status: Status, reason: str = "", batch_id: str | None = None) -> JobOutcome:
        job = self.job
        return JobOutcome.model_validate(
            {
                "job_id": job.id,
                "audit": job.audit,
                "path": job.path,
                "lines": job.lines,
                "status": status,
                "attempts": self.attempts,
                "reason": reason,
                "tokens_in": self.tokens_in,
                "tokens_out": self.tokens_out,
                "tokens_cached": self.tokens_cached,
                "cost_usd": round(self.cost, 6),
                "batch_id": batch_id,
            }
        )


@cache
def schema_for(audit: str) -> dict[str, Any]:
    """The answer schema of an audit, built once (pydantic schema generation is not free)."""
    return answer_json_schema(get_audit(audit))  # type: ignore[arg-type]


async def cached_answer(cache: ResponseCache, job: Job) -> ChunkAnswer | None:
    """The job's cached answer, if there is a valid one (a stale or damaged entry: None)."""
    hit = await cache.get(job.cache_key)
    if hit is None:
        return None
    try:
        return parse_answer(hit[0], get_audit(job.audit))
    except AnswerError:
        return None


def answer_of(reply: ModelReply, spec: AuditSpec) -> ChunkAnswer:
    """The reply's answer; AnswerError when it was cut off or breaks the schema."""
    if reply.truncated:
        raise AnswerError("truncated", "the answer was cut off at the output limit")
    return parse_answer(reply.text, spec)


async def remember(
    cache: ResponseCache, provider: ModelProvider, key: str, reply: ModelReply, job: Job | None
) -> None:
    """Cache a reply the moment it arrives (``job`` None: an answer no job of this run asked
    for, kept without a template version)."""
    await cache.put(
        key,
        provider.name,
        provider.model,
        job.request.template_version if job is not None else "",
        reply.text,
        reply.tokens_in,
        reply.tokens_out,
    )


class Runner:
    def __init__(
        self,
        provider: ModelProvider,
        price: Price | None,
        settings: RunnerSettings,
        cache: ResponseCache | None = None,
        progress: Progress | None = None,
        sleep: Sleep = asyncio.sleep,
        jitter: Callable[[], float] = random.random,
        cache_price: CachePrice = (None, None),
    ) -> None:
        self.provider, self.price, self.settings = provider, price, settings
        self.cache_price = cache_price
        self.saved = 0.0
        self.cache, self.progress, self.sleep, self.jitter = cache, progress, sleep, jitter
        self.budget = Budget(settings.max_cost_usd)
        self.events: Counter[str] = Counter()
        self.repairs: dict[str, tuple[str, str]] = {}

    async def run(
        self, jobs: list[Job], repairs: dict[str, tuple[str, str]] | None = None
    ) -> RunResult:
        """Answer ``jobs``. ``repairs`` maps a job id to an answer already rejected (from a
        batch) and why: that job's first call is the repair call."""
        self.repairs = repairs or {}
        semaphore = asyncio.Semaphore(self.settings.concurrency)
        answers: dict[str, ChunkAnswer] = {}

        async def one(job: Job) -> JobOutcome:
            async with semaphore:
                outcome, answer = await self._job(job)
            if answer is not None:
                answers[job.id] = answer
            if self.progress is not None:
                self.progress(outcome)
            return outcome

        outcomes = await asyncio.gather(*(one(job) for job in jobs))
        return RunResult(
            list(outcomes), answers, self.events, round(self.budget.spent, 6), round(self.saved, 6)
        )

    def cost(self, reply: ModelReply) -> float:
        """Input read from the prompt cache at the cached price, input written to it at the
        write price, where the model has them; the rest at the list price."""
        if self.price is None:
            return 0.0
        full, out = self.price
        read_price, write_price = self.cache_price
        read, written = reply.tokens_cached, reply.tokens_cache_written
        plain = max(reply.tokens_in - read - written, 0)
        usd = plain * full + reply.tokens_out * out
        usd += read * (full if read_price is None else read_price)
        usd += written * (full if write_price is None else write_price)
        return usd / 1_000_000

    def saving(self, reply: ModelReply) -> float:
        """What the prompt cache saved on one reply, against the list input price."""
        if self.price is None or self.cache_price[0] is None:
            return 0.0
        return reply.tokens_cached * (self.price[0] - self.cache_price[0]) / 1_000_000

    async def _job(self, job: Job) -> tuple[JobOutcome, ChunkAnswer | None]:
        spec = get_audit(job.audit)
        done = Tally(job)
        if self.cache is not None:
            cached = await cached_answer(self.cache, job)
            if cached is not None:
                return done.outcome("cached"), cached
        schema = schema_for(job.audit)
        repair: tuple[str, str] | None = self.repairs.get(job.id)
        for round_ in range(2):  # the answer, and at most one repair
            if not self.budget.reserve(job.cost_usd):
                reason = "--max-cost reached before this request could be sent"
                return done.outcome("skipped (budget)" if round_ == 0 else "failed", reason), None
            try:
                reply = await self._call(job, schema, repair, done)
            except _JobFailed as exc:
                # A timed-out call may still be billed: count its reservation as spent.
                self.budget.settle(job.cost_usd, job.cost_usd if exc.timed_out else 0.0)
                return done.outcome("failed", str(exc)), None
            actual = self.cost(reply)
            self.budget.settle(job.cost_usd, actual)
            self.saved += self.saving(reply)
            done.add(reply, actual)
            try:
                answer = answer_of(reply, spec)
            except AnswerError as problem:
                if repair is not None:
                    self.events[f"failed after repair: {problem.kind}"] += 1
                    return done.outcome("failed", f"answer rejected twice: {problem}"), None
                self.events[f"repair: {problem.kind}"] += 1
                repair = (reply.text, str(problem))
                continue
            if self.cache is not None:
                await remember(self.cache, self.provider, job.cache_key, reply, job)
            return done.outcome("answered"), answer
        raise AssertionError("unreachable: the loop returns")

    async def _call(
        self, job: Job, schema: dict[str, Any], repair: tuple[str, str] | None, done: Tally
    ) -> ModelReply:
        """One call, retried on retryable failures; counts attempts in ``done``."""
        last: ProviderError | None = None
        for attempt in range(1, self.settings.max_attempts + 1):
            done.attempts += 1
            try:
                # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a cancellation
                # (Ctrl-C) that lands as the call completes. The SDK's own timeout fires first.
                async with asyncio.timeout(self.settings.timeout_s + 5):
                    return await self.provider.complete(job.request, schema, repair)
            except TimeoutError:
                last = ProviderTimeout(f"no answer within {self.settings.timeout_s:g} s")
            except ProviderError as exc:
                last = exc
            if not last.retryable or attempt == self.settings.max_attempts:
                break
            self.events[f"retry: {last.kind}"] += 1
            await self.sleep(self.delay(attempt, last.retry_after))
        assert last is not None
        reason = str(last) if str(last).startswith(last.kind) else f"{last.kind}: {last}"
        raise _JobFailed(reason, timed_out=isinstance(last, ProviderTimeout))

    def delay(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(retry_after, self.settings.backoff_max_s * 4)
        ceiling = min(
            self.settings.backoff_max_s, self.settings.backoff_base_s * 2 ** (attempt - 1)
        )
        return float(ceiling * self.jitter())  # full jitter
