"""Run the planned jobs through a provider's batch API (``--batch``).

OpenAI Batch and Anthropic Message Batches take the same requests as a live run, answer
within a day and bill about half the list price. The flow:

1. answers already in the response cache are used, as in a live run;
2. batches this cache recorded as submitted and not yet collected (a run that stopped or
   was killed while waiting) are resumed, never submitted again;
3. the rest is submitted; each batch id is written to the cache the moment the provider
   returns it;
4. batches are polled with a growing interval until they end (or ``--batch-wait`` passes:
   exit 5, the same command resumes them);
5. each answer is read and cached exactly like a live answer (finding by finding). An
   answer nothing of which can be used gets the live runner's one repair call; an answer
   cut off at the output limit is split live (never sent again unchanged); an empty answer
   on flagged code is asked once more live; a request the batch failed, expired or
   cancelled is sent again live. So the findings merge exactly as in a live run.

``--max-cost`` covers batches: each request reserves its worst case at the batch price
before it is submitted (resumed batches are counted first: they are already running).
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace

from vibe_audit.agent.answers import AnswerError
from vibe_audit.agent.cache import ResponseCache
from vibe_audit.agent.planner import CachePrice, Price
from vibe_audit.agent.providers.base import BatchProvider, ModelReply
from vibe_audit.agent.runner import (
    TRUNCATED,
    Budget,
    Progress,
    Runner,
    RunnerSettings,
    RunResult,
    Split,
    Tally,
    answer_of,
    cached_answer,
    empty_reason,
    remember,
    schema_for,
    was_truncated,
)
from vibe_audit.errors import BatchPending, ProviderError, ProviderHTTPError
from vibe_audit.prompts import get_audit
from vibe_audit.schemas import Job, JobOutcome, Plan
from vibe_audit.schemas.answer import ChunkAnswer

BATCH_DISCOUNT = 0.5  # OpenAI Batch and Anthropic Message Batches: 50% of the list price
MAX_REQUESTS = 10_000  # per batch (OpenAI allows 50,000, Anthropic 100,000)
MAX_BYTES = 100_000_000  # per batch (OpenAI: 200 MB input file, Anthropic: 256 MB)


@dataclass(frozen=True)
class BatchSettings:
    poll_s: float = 30.0  # first wait between polls; grows by half each time
    poll_max_s: float = 600.0
    wait_s: float = 25 * 3600.0  # both providers end a batch within 24 hours


def custom_id(key: str) -> str:
    """A request's id inside a batch: from its cache key (Anthropic: [a-zA-Z0-9_-]{1,64})."""
    return "va-" + key[:48]


def at_batch_price(plan: Plan) -> Plan:
    """The plan with every job's worst-case cost at the batch price (for --dry-run)."""
    jobs = [j.model_copy(update={"cost_usd": j.cost_usd * BATCH_DISCOUNT}) for j in plan.jobs]
    audits = [
        a.model_copy(update={"cost_usd": round(a.cost_usd * BATCH_DISCOUNT, 6)})
        for a in plan.audits
    ]
    return plan.model_copy(update={"jobs": jobs, "audits": audits})


def _half(price: Price | None) -> Price | None:
    return None if price is None else (price[0] * BATCH_DISCOUNT, price[1] * BATCH_DISCOUNT)


@dataclass
class _Batch:
    batch_id: str
    keys: list[str]


class BatchRunner:
    def __init__(
        self,
        provider: BatchProvider,
        price: Price | None,
        settings: RunnerSettings,
        batch: BatchSettings,
        cache: ResponseCache,
        say: Callable[[str], None] = lambda _m: None,
        progress: Progress | None = None,
        cache_price: CachePrice = (None, None),
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
        split: Split | None = None,
    ) -> None:
        self.provider, self.price, self.settings, self.batch = provider, price, settings, batch
        self.cache, self.say, self.progress, self.cache_price = cache, say, progress, cache_price
        self.sleep, self.clock = sleep, clock
        # Prices a batch reply at the batch price (prompt-cache prices halved alike).
        self.pricer = Runner(
            provider,
            _half(price),
            settings,
            cache_price=(
                None if cache_price[0] is None else cache_price[0] * BATCH_DISCOUNT,
                None if cache_price[1] is None else cache_price[1] * BATCH_DISCOUNT,
            ),
        )
        self.budget = Budget(settings.max_cost_usd)
        self.events: Counter[str] = Counter()
        self.split = split
        self.truncated: set[str] = set()  # job ids whose batch answer was cut off
        self.reask: list[Job] = []  # answered empty on flagged code: asked again live

    async def run(self, jobs: list[Job]) -> RunResult:
        outcomes: dict[str, JobOutcome] = {}
        answers: dict[str, ChunkAnswer] = {}
        todo: dict[str, list[Job]] = {}  # cache key -> jobs asking it (the same request)
        for job in jobs:
            cached = await cached_answer(self.cache, job)
            if cached is None and await was_truncated(self.cache, job):
                self.reask.append(job)  # cut off before: the live runner splits it at once
            elif cached is not None and empty_reason(job.request, cached.answer):
                self.reask.append(job)  # the live runner reads it from the cache, asks again
            elif cached is not None:
                self.pricer.count(cached)
                answers[job.id] = cached.answer
                self._done(outcomes, _outcome(job, "cached"))
            else:
                todo.setdefault(job.cache_key, []).append(job)
        reserved: dict[str, float] = {}
        batches = await self._resume(todo, reserved)
        covered = {key for b in batches for key in b.keys}
        fresh: list[str] = []
        for key, asking in todo.items():
            if key in covered:
                continue
            cost = asking[0].cost_usd * BATCH_DISCOUNT
            if not self.budget.reserve(cost):
                for job in asking:
                    reason = "--max-cost reached before this request could be submitted"
                    self._done(outcomes, _outcome(job, "skipped (budget)", reason=reason))
                continue
            reserved[key] = cost
            fresh.append(key)
        batches += await self._submit(fresh, todo)
        live, repairs = await self._collect(batches, todo, reserved, outcomes, answers)
        live += self.reask
        spent, saved = self.budget.spent, self.pricer.saved
        events, dropped, empty = self.events, self.pricer.dropped, dict(self.pricer.empty)
        events.update(self.pricer.events)
        if live:
            self.events["batch: sent again live"] += len(live)
            self.say(f"batch: {len(live)} request(s) sent again live (failed or rejected)")
            left = None if self.budget.limit is None else max(self.budget.limit - spent, 0.0)
            runner = Runner(
                self.provider,
                self.price,
                replace(self.settings, max_cost_usd=left),
                cache=self.cache,
                progress=self.progress,
                cache_price=self.cache_price,
                split=self.split,
            )
            result = await runner.run(live, repairs, self.truncated)
            for outcome in result.outcomes:
                outcomes[outcome.job_id] = outcome
            answers.update(result.answers)
            events.update(result.events)
            dropped.update(result.dropped)
            empty.update(result.empty)
            spent, saved = spent + result.spent_usd, saved + result.saved_usd
        ordered = [outcomes[job.id] for job in jobs]
        return RunResult(ordered, answers, events, round(spent, 6), round(saved, 6), dropped, empty)

    def _done(self, outcomes: dict[str, JobOutcome], outcome: JobOutcome) -> None:
        outcomes[outcome.job_id] = outcome
        if self.progress is not None:
            self.progress(outcome)

    async def _resume(self, todo: dict[str, list[Job]], reserved: dict[str, float]) -> list[_Batch]:
        """Batches an earlier run submitted for any of these requests and did not collect.
        Their cost is reserved first, over the limit if need be: they are already running."""
        out = []
        for pending in await self.cache.pending_batches(self.provider.name, self.provider.model):
            wanted = [k for k in pending.keys if k in todo]
            if not wanted:
                if all([await self.cache.get(k) is not None for k in pending.keys]):
                    # Collected by a run killed before it could mark the batch ended.
                    await self.cache.end_batch(pending.batch_id, "collected")
                continue
            for key in wanted:
                reserved[key] = todo[key][0].cost_usd * BATCH_DISCOUNT
                self.budget.reserved += reserved[key]
            age = (time.time() - pending.submitted_at) / 60
            self.say(
                f"batch {pending.batch_id}: resuming ({len(pending.keys)} request(s), "
                f"submitted {age:.0f} min ago)"
            )
            self.events["batch: resumed"] += 1
            out.append(_Batch(pending.batch_id, pending.keys))
        return out

    async def _submit(self, keys: list[str], todo: dict[str, list[Job]]) -> list[_Batch]:
        out: list[_Batch] = []
        lines: list[dict[str, object]] = []
        group: list[str] = []
        size = 0
        for key in keys:
            job = todo[key][0]
            line = self.provider.batch_line(custom_id(key), job.request, schema_for(job.audit))
            weight = len(job.request.system) + len(job.request.user) + 2048
            if group and (len(group) >= MAX_REQUESTS or size + weight > MAX_BYTES):
                out.append(await self._submit_one(lines, group))
                lines, group, size = [], [], 0
            lines.append(line)
            group.append(key)
            size += weight
        if group:
            out.append(await self._submit_one(lines, group))
        return out

    async def _submit_one(self, lines: list[dict[str, object]], keys: list[str]) -> _Batch:
        """Submit one batch; 429, 5xx and connection failures are retried with backoff (the
        provider did not create the batch), anything else stops the run."""
        attempt = 0
        while True:
            attempt += 1
            try:
                batch_id = await self.provider.batch_submit(lines)
                break
            except ProviderError as exc:
                if not exc.retryable or attempt >= self.settings.max_attempts:
                    raise
                self.events[f"batch: submit retried ({exc.kind})"] += 1
                await self.sleep(self.pricer.delay(attempt, exc.retry_after))
        await self.cache.add_batch(batch_id, self.provider.name, self.provider.model, keys)
        self.events["batch: submitted"] += 1
        self.say(
            f"batch {batch_id}: {len(keys)} request(s) submitted to {self.provider.description};"
            " if this run stops, the same command resumes it"
        )
        return _Batch(batch_id, keys)

    async def _collect(
        self,
        batches: list[_Batch],
        todo: dict[str, list[Job]],
        reserved: dict[str, float],
        outcomes: dict[str, JobOutcome],
        answers: dict[str, ChunkAnswer],
    ) -> tuple[list[Job], dict[str, tuple[str, str]]]:
        """Poll until every batch ended; cache and validate each answer. Returns the jobs to
        send again live, and the repairs (rejected answer, why) some of them start with."""
        live: list[Job] = []
        repairs: dict[str, tuple[str, str]] = {}
        waiting = list(batches)
        started = self.clock()
        delay = self.batch.poll_s
        while waiting:
            still: list[_Batch] = []
            for batch in waiting:
                try:
                    status = await self.provider.batch_status(batch.batch_id)
                except ProviderError as exc:
                    if exc.retryable:
                        self.events["batch: poll retried"] += 1
                        still.append(batch)
                        continue
                    if not (isinstance(exc, ProviderHTTPError) and exc.status_code == 404):
                        raise  # e.g. a revoked key: the batch stays pending for the next run
                    # Gone: its requests are sent again live.
                    self.say(f"batch {batch.batch_id}: not found ({exc}); sending it live")
                    await self.cache.end_batch(batch.batch_id, f"lost: {exc}")
                    live += self._settle_lost(batch, todo, reserved)
                    continue
                if not status.ended:
                    self.say(
                        f"batch {batch.batch_id}: {status.state}, {status.done}/{status.total} done"
                    )
                    still.append(batch)
                    continue
                try:
                    replies = await self.provider.batch_results(batch.batch_id)
                except ProviderError as exc:
                    if not exc.retryable:
                        raise
                    self.events["batch: results download retried"] += 1
                    still.append(batch)
                    continue
                more_live, more_repairs = await self._take(batch, replies, todo, reserved,
                                                           outcomes, answers)  # fmt: skip
                live += more_live
                repairs.update(more_repairs)
                await self.cache.end_batch(batch.batch_id, status.state)
                self.say(f"batch {batch.batch_id}: {status.state}, answers collected")
            waiting = still
            if not waiting:
                break
            if self.clock() - started + delay > self.batch.wait_s:
                ids = ", ".join(b.batch_id for b in waiting)
                raise BatchPending(
                    f"{len(waiting)} batch(es) still running after --batch-wait "
                    f"{self.batch.wait_s:g} s ({ids}); every answer received is cached: run "
                    "the same command again to collect the rest"
                )
            await self.sleep(delay)
            delay = min(delay * 1.5, self.batch.poll_max_s)
        return live, repairs

    def _settle_lost(
        self, batch: _Batch, todo: dict[str, list[Job]], reserved: dict[str, float]
    ) -> list[Job]:
        live = []
        for key in batch.keys:
            if key in reserved:
                self.budget.settle(reserved.pop(key), 0.0)
                live += todo[key]
        return live

    async def _take(
        self,
        batch: _Batch,
        replies: dict[str, ModelReply | ProviderError],
        todo: dict[str, list[Job]],
        reserved: dict[str, float],
        outcomes: dict[str, JobOutcome],
        answers: dict[str, ChunkAnswer],
    ) -> tuple[list[Job], dict[str, tuple[str, str]]]:
        live: list[Job] = []
        repairs: dict[str, tuple[str, str]] = {}
        for key in batch.keys:
            reply = replies.get(custom_id(key))
            asking = todo.get(key, [])
            cost = self.pricer.cost(reply) if isinstance(reply, ModelReply) else 0.0
            if key in reserved:
                self.budget.settle(reserved.pop(key), cost)
            # else: a resumed batch's answer this run did not ask for (cached already, or for
            # code that changed since): not this run's spend.
            if not isinstance(reply, ModelReply):
                if asking:
                    self.events[f"batch: request {'errored' if reply else 'not answered'}"] += 1
                    live += asking
                continue
            if asking:
                self.pricer.saved += self.pricer.saving(reply)
            else:  # paid for by an earlier run: kept, so a later run need not pay again
                if await self.cache.get(key) is None:
                    await remember(self.cache, self.provider, key, reply, None)
                continue
            job = asking[0]
            try:
                parsed = answer_of(reply, get_audit(job.audit))
            except AnswerError as problem:
                live += asking
                if problem.kind == "truncated":  # split live: never sent again unchanged
                    self.truncated.update(j.id for j in asking)
                    await remember(self.cache, self.provider, key,
                                   replace(reply, text=TRUNCATED), job)  # fmt: skip
                    continue
                self.events[f"repair: {problem.kind}"] += 1
                repairs.update({j.id: (reply.text, str(problem)) for j in asking})
                continue
            await remember(self.cache, self.provider, key, reply, job)
            if empty_reason(job.request, parsed.answer):
                live += asking  # the live runner reads it from the cache and asks again
                continue
            self.pricer.count(parsed)
            for i, same in enumerate(asking):
                answers[same.id] = parsed.answer
                paid = reply if i == 0 else None
                self._done(outcomes, _outcome(same, "answered", paid, cost, batch.batch_id))
        return live, repairs


def _outcome(
    job: Job,
    status: str,
    reply: ModelReply | None = None,
    cost: float = 0.0,
    batch_id: str | None = None,
    reason: str = "",
) -> JobOutcome:
    """A batch job's outcome: one attempt when a reply was paid for, none otherwise."""
    tally = Tally(job)
    if reply is not None:
        tally.attempts = 1
        tally.add(reply, cost)
    return tally.outcome(status, reason, batch_id)
