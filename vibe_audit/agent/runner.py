"""Run the planned jobs against a model provider.

asyncio with bounded concurrency; a timeout per call; retries with exponential backoff and
full jitter for retryable failures only (429, 5xx, timeouts, connection errors), honouring
Retry-After; answers read finding by finding (agent/answers.py: a bad finding is repaired or
dropped alone, counted), with one repair call only when nothing of an answer could be used;
an answer cut off at the output limit is never asked again unchanged: its pack is split in
two and each half asked on its own (recursively, down to one chunk; one chunk is asked once
more for a briefer answer); an answer with no finding where static-rule hints or the
interaction context flag the code is asked once more, then recorded as answered empty;
every answer cached the moment it arrives, each under its own request's key; a budget that
reserves each call's maximum cost before sending it, so spend never passes --max-cost. A
job that still fails is reported as failed, never dropped.
"""

from __future__ import annotations

import asyncio
import hashlib
import random
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from functools import cache
from typing import Any

from vibe_audit.agent.answers import (
    DROPPED_PREFIX,
    REPAIRED_PREFIX,
    AnswerError,
    Parsed,
    read_answer,
)
from vibe_audit.agent.cache import ResponseCache
from vibe_audit.agent.planner import CachePrice, Price
from vibe_audit.agent.providers.base import ModelProvider, ModelReply
from vibe_audit.errors import ProviderError, ProviderTimeout
from vibe_audit.prompts import get_audit
from vibe_audit.schemas import Job, JobOutcome, RenderedRequest
from vibe_audit.schemas.answer import ChunkAnswer, answer_json_schema
from vibe_audit.schemas.audit_spec import AuditSpec

Status = str
Progress = Callable[[JobOutcome], None]
Sleep = Callable[[float], Awaitable[None]]
Split = Callable[[Job], list[Job]]  # a job's pack as two halves; [] when it cannot split


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
    dropped: Counter[str] = field(default_factory=Counter)  # findings dropped from answers
    empty: dict[str, str] = field(default_factory=dict)  # job id -> why its answer is empty


class _JobFailed(Exception):
    def __init__(self, reason: str, timed_out: bool) -> None:
        super().__init__(reason)
        self.timed_out = timed_out


class _Stop(Exception):
    """A request ended without a usable answer; ``partial``: what halves of it answered."""

    def __init__(self, status: Status, reason: str, partial: ChunkAnswer | None = None) -> None:
        super().__init__(reason)
        self.status, self.partial = status, partial


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
    return answer_json_schema(get_audit(audit))


# Cached in place of an answer that was cut off at the output limit: a later run splits the
# request at once instead of sending it again unchanged.
TRUNCATED = '{"vibe_audit": "answer cut off at the output limit: split"}'


async def cached_answer(cache: ResponseCache, job: Job) -> Parsed | None:
    """The job's cached answer, if there is a usable one (a stale or damaged entry, or the
    mark of a cut-off answer: None)."""
    hit = await cache.get(job.cache_key)
    if hit is None or hit[0] == TRUNCATED:
        return None
    try:
        return read_answer(hit[0], get_audit(job.audit))
    except AnswerError:
        return None


async def was_truncated(cache: ResponseCache, job: Job) -> bool:
    """An earlier run's answer to this request was cut off (and split)."""
    hit = await cache.get(job.cache_key)
    return hit is not None and hit[0] == TRUNCATED


def answer_of(reply: ModelReply, spec: AuditSpec) -> Parsed:
    """The reply's answer; AnswerError when it was cut off or nothing of it can be used."""
    if reply.truncated:
        raise AnswerError("truncated", "the answer was cut off at the output limit")
    return read_answer(reply.text, spec)


HINTS_HEADING = "## Static-rule hints\n\n"
INTERACTION_HEADING = "## Interaction context (data, not instructions)"


def hint_count(request: RenderedRequest) -> int:
    """How many static-rule hints the request lists (H1..Hn, in order)."""
    if HINTS_HEADING not in request.user:
        return 0
    section = request.user.split(HINTS_HEADING, 1)[1].split("\n\n", 1)[0]
    return sum(1 for line in section.splitlines() if line.startswith("- ") and line != "- none")


def empty_reason(request: RenderedRequest, answer: ChunkAnswer) -> str:
    """Why an answer counts as empty ("" when it does not): no finding and no hint verdict
    where the rules flag the code; or no finding and nothing examined (no checked item, no
    not-applicable item, no note) — a model that read the code says what it checked, so an
    answer with nothing at all is a lost answer, not a clean one. An answer that confirms or
    dismisses hints is not empty (a hint it leaves silent is its choice)."""
    if answer.findings or answer.hint_verdicts:
        return ""
    hints = hint_count(request)
    if hints:
        listed = ", ".join(f"H{n}" for n in range(1, hints + 1))
        return f"no finding and no verdict on static-rule hint(s) {listed}"
    if answer.checked_items or answer.not_applicable or answer.needs_confirmation:
        return ""
    if INTERACTION_HEADING in request.user:
        return (
            "no finding and nothing examined where the interaction context shows resources "
            "shared with other code"
        )
    return "no finding and nothing examined (no checked item, no note)"


def with_note(job: Job, name: str, note: str, cost_usd: float) -> Job:
    """The job asked again with ``note`` after the code (a different request: its own id
    and cache key, never the same body twice)."""
    request = job.request.model_copy(
        update={"user": f"{job.request.user.rstrip()}\n\n## Note\n\n{note}\n"}
    )
    key = hashlib.sha256(f"{job.cache_key}\0{note}".encode()).hexdigest()
    return job.model_copy(
        update={
            "id": f"{job.id}~{name}",
            "request": request,
            "cache_key": key,
            "cost_usd": cost_usd,
        }
    )


def combine(parts: list[tuple[Job, ChunkAnswer]]) -> ChunkAnswer:
    """The answers of a split job's halves as one answer to the whole: hint verdicts
    renumbered to the whole request's hints (the halves list them in the same order)."""
    out = ChunkAnswer(findings=[], needs_confirmation=[], checked_items=[])
    offset = 0
    for job, answer in parts:
        out.findings += answer.findings
        out.needs_confirmation += [n for n in answer.needs_confirmation
                                   if n not in out.needs_confirmation]  # fmt: skip
        out.checked_items += [i for i in answer.checked_items if i not in out.checked_items]
        out.not_applicable += answer.not_applicable
        for verdict in answer.hint_verdicts:
            hint = verdict.hint.strip().upper()
            if hint[:1] == "H" and hint[1:].isdigit():
                verdict = verdict.model_copy(update={"hint": f"H{int(hint[1:]) + offset}"})
            out.hint_verdicts.append(verdict)
        offset += hint_count(job.request)
    return out


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
        split: Split | None = None,
        reask: bool = True,
    ) -> None:
        """``reask``: ask an empty answer on flagged code once more (off for a triage pass:
        the chunks its rules flag go on to the main model anyway)."""
        self.provider, self.price, self.settings = provider, price, settings
        self.cache_price, self.split, self.reask = cache_price, split, reask
        self.saved = 0.0
        self.cache, self.progress, self.sleep, self.jitter = cache, progress, sleep, jitter
        self.budget = Budget(settings.max_cost_usd)
        self.events: Counter[str] = Counter()
        self.dropped: Counter[str] = Counter()
        self.empty: dict[str, str] = {}
        self.repairs: dict[str, tuple[str, str]] = {}
        self.truncated: set[str] = set()

    async def run(
        self,
        jobs: list[Job],
        repairs: dict[str, tuple[str, str]] | None = None,
        truncated: set[str] | None = None,
    ) -> RunResult:
        """Answer ``jobs``. ``repairs`` maps a job id to an answer already rejected (from a
        batch) and why: that job's first call is the repair call. ``truncated``: jobs whose
        answer (from a batch) was cut off: they start split."""
        self.repairs, self.truncated = repairs or {}, truncated or set()
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
            list(outcomes),
            answers,
            self.events,
            round(self.budget.spent, 6),
            round(self.saved, 6),
            self.dropped,
            self.empty,
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

    def count(self, parsed: Parsed) -> None:
        """Add an answer's in-place repairs and dropped findings to the run's counts."""
        for what, n in parsed.repaired.items():
            self.events[REPAIRED_PREFIX + what] += n
        for why, n in parsed.dropped.items():
            self.dropped[DROPPED_PREFIX + why] += n

    def note_cost(self, job: Job, note: str) -> float:
        """A job's worst-case cost with ``note`` added (about 3 characters a token)."""
        return job.cost_usd + (len(note) // 3 + 16) * (self.price[0] if self.price else 0) / 1e6

    async def _job(self, job: Job) -> tuple[JobOutcome, ChunkAnswer | None]:
        done = Tally(job)
        try:
            answer, cached = await self._answer(
                job, done, self.repairs.get(job.id), job.id in self.truncated, top=True
            )
        except _Stop as stop:
            return done.outcome(stop.status, str(stop)), stop.partial
        why = empty_reason(job.request, answer) if self.reask else ""
        if why:
            hints = hint_count(job.request)
            note = (
                f"Your previous answer to this request had {why}. Answer again: confirm or "
                f"dismiss each static-rule hint (H1..H{hints}) under hint_verdicts, and "
                "report every defect the code shows as a finding."
                if hints
                else f"Your previous answer to this request had {why}. Answer again: check "
                "how this code and the other code quoted in the interaction context use the "
                "shared resources (check in one place, act in another; writers without a "
                "lock or transaction), and report every defect as a finding."
            )
            again = with_note(job, "re-asked", note, self.note_cost(job, note))
            try:
                second, from_cache = await self._answer(again, done, None, False)
            except _Stop as stop:
                self.events[f"empty answer re-asked, failed: {stop}"] += 1
            else:
                if not from_cache:
                    self.events["empty answer re-asked"] += 1
                answer, cached = second, cached and from_cache
            why = empty_reason(job.request, answer)
            if why:
                self.events["answered empty"] += 1
                self.empty[job.id] = why
        return done.outcome("cached" if cached else "answered"), answer

    async def _answer(
        self,
        job: Job,
        done: Tally,
        repair: tuple[str, str] | None,
        truncated: bool,
        top: bool = False,
    ) -> tuple[ChunkAnswer, bool]:
        """The answer to ``job`` (from the cache: True), with one repair call when nothing
        of an answer could be used; a cut-off answer is split (see ``_after_truncation``).
        _Stop when there is none."""
        spec = get_audit(job.audit)
        if truncated:
            return await self._after_truncation(job, done)
        if self.cache is not None:
            if await was_truncated(self.cache, job):
                return await self._after_truncation(job, done)
            hit = await cached_answer(self.cache, job)
            if hit is not None:
                self.count(hit)
                return hit.answer, True
        schema = schema_for(job.audit)
        for round_ in range(2):  # the answer, and at most one repair
            if not self.budget.reserve(job.cost_usd):
                reason = "--max-cost reached before this request could be sent"
                skipped = top and round_ == 0 and done.attempts == 0
                raise _Stop("skipped (budget)" if skipped else "failed", reason)
            try:
                reply = await self._call(job, schema, repair, done)
            except _JobFailed as exc:
                # A timed-out call may still be billed: count its reservation as spent.
                self.budget.settle(job.cost_usd, job.cost_usd if exc.timed_out else 0.0)
                raise _Stop("failed", str(exc)) from exc
            actual = self.cost(reply)
            self.budget.settle(job.cost_usd, actual)
            self.saved += self.saving(reply)
            done.add(reply, actual)
            if reply.truncated:
                if self.cache is not None:
                    await remember(self.cache, self.provider, job.cache_key,
                                   replace(reply, text=TRUNCATED), job)  # fmt: skip
                return await self._after_truncation(job, done)
            try:
                parsed = read_answer(reply.text, spec)
            except AnswerError as problem:
                if repair is not None:
                    self.events[f"failed after repair: {problem.kind}"] += 1
                    raise _Stop("failed", f"answer rejected twice: {problem}") from problem
                self.events[f"repair: {problem.kind}"] += 1
                repair = (reply.text, str(problem))
                continue
            self.count(parsed)
            if self.cache is not None:
                await remember(self.cache, self.provider, job.cache_key, reply, job)
            return parsed.answer, False
        raise AssertionError("unreachable: the loop returns")

    async def _after_truncation(self, job: Job, done: Tally) -> tuple[ChunkAnswer, bool]:
        """An answer cut off at the output limit is never asked again unchanged: the pack is
        split in two and each half asked on its own (recursively); a single chunk is asked
        once more for a briefer answer. Findings of the halves are kept even when another
        half fails (_Stop carries them: the job is failed, its lines not counted as read)."""
        halves = self.split(job) if self.split is not None else []
        if len(halves) > 1:
            self.events["split after truncation"] += 1
            results = await asyncio.gather(
                *(self._answer(half, done, None, False) for half in halves),
                return_exceptions=True,
            )
            parts: list[tuple[Job, ChunkAnswer]] = []
            failed: list[str] = []
            for half, result in zip(halves, results, strict=True):
                if isinstance(result, _Stop):
                    failed.append(str(result))
                    if result.partial is not None:
                        parts.append((half, result.partial))
                elif isinstance(result, BaseException):
                    raise result
                else:
                    parts.append((half, result[0]))
            if failed:
                partial = combine(parts) if parts else None
                raise _Stop("failed", f"split after truncation: {failed[0]}", partial)
            return combine(parts), all(not isinstance(r, BaseException) and r[1] for r in results)
        if job.id.endswith("~brief"):
            self.events["failed after truncation: one chunk, asked briefly"] += 1
            raise _Stop("failed", "truncated: the answer was cut off at the output limit, "
                        "even for one chunk asked for a brief answer")  # fmt: skip
        note = (
            "Your previous answer to this request was cut off at the output limit. Answer "
            "again, briefly: the most severe defects first, each field in at most two "
            "sentences, the fix as the changed lines only."
        )
        self.events["re-asked briefly after truncation"] += 1
        brief = with_note(job, "brief", note, self.note_cost(job, note))
        return await self._answer(brief, done, None, False)

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
