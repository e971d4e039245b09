"""The wild-model test double (``wild-oracle-test-double``): never a model.

It is the perfect oracle double of vibe_audit/agent/providers/doubles.py (it answers each
request with the labeled defects of the eval corpora visible in it) with ONE fault that real
models and lax OpenAI-compatible servers show, injected in a set share of its answers
(``rate``) with a fixed ``seed`` (issue 20). Which answers are hit is decided from the
request alone (its audit and the files and lines it shows), so a run is reproducible and
independent of the order requests are sent in.

Faults (``FAULTS``), one at a time; "applicable" answers are those that can carry the fault
(a finding to damage, hints to restate, several files to cut):

    extra_key           one finding carries an unknown key ("cwe")
    empty_items         one finding has checklist_items: []
    lowercase_severity  one finding's severity is lowercase ("high")
    unknown_category    one finding's category is not one of the audit's
    fenced              the JSON inside a ```json fence, after a prose sentence, or both
    truncated           the answer cut mid-JSON and flagged as cut off (ModelReply.truncated;
                        over HTTP, finish_reason "length"); only an answer to a request
                        showing several files is cut: the answer to a request showing one
                        file fits the output budget
    evidence            every finding's quote re-spaced (one space between all tokens), with
                        ' and " swapped, or one word changed (lines of 3+ words)
    location            every finding's lines 1-3 off (either the range alone, or the range
                        and its evidence line numbers; the quoted text stays right)
    rule_duplicate      each static-rule hint of the request restated as a finding (the
                        rule's title, category and checklist items, quoting the hint's line)
    empty_answer        no finding although the request shows labeled defects; only the
                        first answer to a request (asked again, it answers)
    shuffled            the answer arrives late (it yields to the event loop 20-200 times
                        before returning, no clock): answers arrive out of request order

The habits (all but ``empty_answer``) persist: asked again the same request (a repair call
with the problem shown), the double answers with the same fault, as the issue measured
("repairs included"). A truncated request is cut again unless it is split.

Use it in process (``wild-oracle-test-double:<fault>:<rate>:<seed>:<labels.json>``, registered
on import) or behind the fake OpenAI-compatible HTTP server (``WildModelServer``), where the
real openai provider parses it.
"""

from __future__ import annotations

import asyncio
import json
import random
import re
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from tests.fakes.servers import FakeModelServer
from vibe_audit.agent.providers.base import ModelReply, ProviderSettings
from vibe_audit.agent.providers.doubles import (
    Script,
    ScriptedProvider,
    code_files,
    oracle_script,
    request_path,
)
from vibe_audit.agent.providers.registry import register
from vibe_audit.errors import UserError
from vibe_audit.prompts import get_audit
from vibe_audit.schemas import AuditId, RenderedRequest

NAME = "wild-oracle-test-double"
SEED = 20
RATE = 0.3
FAULTS: dict[str, str] = {
    "extra_key": "an unknown extra key in a finding",
    "empty_items": "an empty checklist_items list",
    "lowercase_severity": "a lowercase severity",
    "unknown_category": "an unknown category",
    "fenced": "JSON in a ```json fence / after a prose prefix",
    "truncated": "a truncated answer (cut mid-JSON, flagged by the provider)",
    "evidence": "evidence re-spaced, quote marks swapped, or one word changed",
    "location": "locations 1-3 lines off",
    "rule_duplicate": "a finding duplicating a rule finding (the request's hints)",
    "empty_answer": "an empty answer where defects are shown",
    "shuffled": "answers arriving in shuffled order",
}
CLEAN = "none"  # the oracle with no fault
UNKNOWN_CATEGORIES = ("Race Condition", "Data Integrity", "Concurrency Bug", "Error Handling")
_WORDS = re.compile(r"\b[A-Za-z_][A-Za-z_0-9]{2,}\b")
_TOKENS = re.compile(r"\w+|[^\w\s]")
_HINT_RULE = re.compile(r"\b([a-z0-9]+(?:-[a-z0-9]+)+) at line (\d+)")
_BEGIN = re.compile(r"^BEGIN (VIBE-AUDIT-DATA-\w+)$", re.M)
_AUDIT = re.compile(r"^Audit: (\w+) ", re.M)


@dataclass(frozen=True)
class WildReply:
    """One answer of the double: its text, whether the provider reports it cut off, and how
    many times it yields to the event loop before arriving (``shuffled``)."""

    text: str
    truncated: bool = False
    yields: int = 0


@dataclass(frozen=True)
class Injection:
    """One damaged answer: the request it answered and what was done."""

    key: str
    detail: str


@dataclass(frozen=True)
class RuleDuplicate:
    """A finding the double added that restates a static-rule hint."""

    path: str
    line: int
    rule_id: str
    title: str


@dataclass
class WildOracle:
    """The oracle double's answers with one fault injected (see the module docstring)."""

    labels: list[dict[str, Any]]
    fault: str
    rate: float = RATE
    seed: int = SEED
    answers: int = 0
    applicable: set[str] = field(default_factory=set)  # request keys that could be hit
    injections: list[Injection] = field(default_factory=list)
    rule_duplicates: list[RuleDuplicate] = field(default_factory=list)
    calls: Counter[str] = field(default_factory=Counter)
    arrivals: list[str] = field(default_factory=list)  # request keys, in the order answered
    sent: list[str] = field(default_factory=list)  # request keys, in the order asked

    def __post_init__(self) -> None:
        if self.fault != CLEAN and self.fault not in FAULTS:
            raise UserError(f"{NAME}: unknown fault '{self.fault}'; one of {sorted(FAULTS)}")
        self._oracle: Script = oracle_script(self.labels)

    def _rng(self, *parts: object) -> random.Random:
        return random.Random(":".join(str(p) for p in (self.seed, self.fault, *parts)))

    def _hit(self, key: str) -> bool:
        self.applicable.add(key)
        return self._rng(key).random() < self.rate

    def answer(self, request: RenderedRequest, repair: tuple[str, str] | None) -> WildReply:
        key = request_key(request)
        first = self.calls[key] == 0
        self.calls[key] += 1
        self.answers += 1
        self.sent.append(key)
        data: dict[str, Any] = json.loads(self._oracle(request, repair))
        text = json.dumps(data)
        if self.fault == CLEAN:
            return WildReply(text)
        findings: list[dict[str, Any]] = data["findings"]
        rng = self._rng(key, "how")
        fault = self.fault
        if fault in ("extra_key", "empty_items", "lowercase_severity", "unknown_category"):
            if not findings or not self._hit(key):
                return WildReply(text)
            n = rng.randrange(len(findings))
            finding = findings[n]
            if fault == "extra_key":
                finding["cwe"] = "CWE-362"
            elif fault == "empty_items":
                finding["checklist_items"] = []
            elif fault == "lowercase_severity":
                finding["severity"] = finding["severity"].lower()
            else:
                known = set(get_audit(request.audit).categories)
                finding["category"] = next(c for c in UNKNOWN_CATEGORIES if c not in known)
            return self._damaged(key, f"finding {n}: {fault}", WildReply(json.dumps(data)))
        if fault == "fenced":
            if not self._hit(key):
                return WildReply(text)
            how = rng.choice(("fence", "prose", "both"))
            if how in ("fence", "both"):
                text = f"```json\n{json.dumps(data, indent=2)}\n```"
            if how in ("prose", "both"):
                text = f"Here is my audit of the code as JSON.\n\n{text}"
            return self._damaged(key, how, WildReply(text))
        if fault == "truncated":
            if len(code_files(request)) < 2 or not self._hit(key):
                return WildReply(text)
            cut = text[: max(1, int(len(text) * rng.uniform(0.4, 0.8)))]
            return self._damaged(key, f"cut at {len(cut)}/{len(text)}", WildReply(cut, True))
        if fault == "evidence":
            if not findings or not self._hit(key):
                return WildReply(text)
            reworded = ",".join(_reword(f, rng) for f in findings)
            return self._damaged(key, reworded, WildReply(json.dumps(data)))
        if fault == "location":
            if not findings or not self._hit(key):
                return WildReply(text)
            shifted = ",".join(_shift(f, rng) for f in findings)
            return self._damaged(key, shifted, WildReply(json.dumps(data)))
        if fault == "rule_duplicate":
            extra = self._restated_hints(request)
            if not extra or not self._hit(key):
                return WildReply(text)
            for finding in extra:
                self.rule_duplicates.append(
                    RuleDuplicate(
                        finding["path"], finding["start_line"], finding["rule"], finding["title"]
                    )
                )
                del finding["rule"]
            data["findings"] = findings + extra
            return self._damaged(key, f"{len(extra)} hint(s) restated", WildReply(json.dumps(data)))
        if fault == "empty_answer":
            if not findings or not first or not self._hit(key):
                return WildReply(text)
            empty = dict(
                data,
                findings=[],
                checked_items=[],
                needs_confirmation=[],
                hint_verdicts=[],
                not_applicable=[],
            )
            detail = f"{len(findings)} finding(s) withheld"
            return self._damaged(key, detail, WildReply(json.dumps(empty)))
        assert fault == "shuffled"
        if not self._hit(key):
            return WildReply(text)
        yields = rng.randint(20, 200)
        return self._damaged(key, f"{yields} yields", WildReply(text, yields=yields))

    def _damaged(self, key: str, detail: str, reply: WildReply) -> WildReply:
        self.injections.append(Injection(key, detail))
        return reply

    def _restated_hints(self, request: RenderedRequest) -> list[dict[str, Any]]:
        """A finding for each static-rule hint of the request, as a model restating it."""
        files = code_files(request)
        default = request_path(request)
        spec = get_audit(request.audit)
        out = []
        for hint in hint_lines(request):
            match = _HINT_RULE.search(hint)
            if match is None:
                continue
            rule_id, line = match.group(1), int(match.group(2))
            path = next((p for p in files if f"{p}:" in hint), default)
            text = files.get(path, {}).get(line)
            meta = rule_meta(rule_id)
            if text is None or meta is None:
                continue
            items = [i for i in meta["checklist"] if i.startswith(f"{request.audit}.")]
            out.append(
                {
                    "checklist_items": items or [spec.checklist[0].id],
                    "severity": meta["severity"],
                    "category": meta["categories"].get(request.audit) or spec.categories[0],
                    "title": meta["title"],
                    "path": path,
                    "start_line": line,
                    "end_line": line,
                    "symbol": None,
                    "problem": meta["problem"],
                    "scenario": "restated from the static-rule hint",
                    "impact": "restated from the static-rule hint",
                    "confidence": "High",
                    "how_to_verify": "see the rule",
                    "fix": "see the rule",
                    "trade_off": "none",
                    "evidence": [{"line": line, "text": text}],
                    "rule": rule_id,
                }
            )
        return out


def request_key(request: RenderedRequest) -> str:
    """The audit and the lines of each file a request shows (order-independent)."""
    files = code_files(request)
    shown = ";".join(
        f"{path}:{min(lines)}-{max(lines)}" for path, lines in sorted(files.items()) if lines
    )
    return f"{request.audit}|{shown}"


def hint_lines(request: RenderedRequest) -> list[str]:
    """The lines under '## Static-rule hints' in the request."""
    if "## Static-rule hints" not in request.user:
        return []
    section = request.user.split("## Static-rule hints", 1)[1].split("\n## ", 1)[0]
    return [line[2:] for line in section.splitlines() if line.startswith("- ") and line != "- none"]


@cache
def _rules() -> dict[str, dict[str, Any]]:
    from vibe_audit.rules.engine import load_rules

    return {rid: rule.meta.model_dump(mode="json") for rid, rule in load_rules().items()}


def rule_meta(rule_id: str) -> dict[str, Any] | None:
    return _rules().get(rule_id)


def _reword(finding: dict[str, Any], rng: random.Random) -> str:
    """Damage every evidence quote of the finding; returns how."""
    hows = []
    for evidence in finding["evidence"]:
        text: str = evidence["text"]
        ways = []
        if len(_TOKENS.findall(text)) > 1 and " ".join(_TOKENS.findall(text)) != text.strip():
            ways.append("respaced")
        if "'" in text or '"' in text:
            ways.append("quotes")
        if len(_WORDS.findall(text)) >= 3:
            ways.append("word")
        if not ways:
            hows.append("unchanged")
            continue
        how = rng.choice(ways)
        if how == "respaced":
            evidence["text"] = " ".join(_TOKENS.findall(text))
        elif how == "quotes":
            evidence["text"] = text.translate({ord("'"): '"', ord('"'): "'"})
        else:
            words = list(_WORDS.finditer(text))
            word = rng.choice(words)
            other = "value" if word.group(0) != "value" else "item"
            evidence["text"] = text[: word.start()] + other + text[word.end() :]
        hows.append(how)
    return "+".join(hows)


def _shift(finding: dict[str, Any], rng: random.Random) -> str:
    """Move the finding 1-3 lines (never before line 1); returns how."""
    offset = rng.choice((-3, -2, -1, 1, 2, 3))
    if finding["start_line"] + offset < 1:
        offset = -offset
    finding["start_line"] += offset
    finding["end_line"] += offset
    if rng.random() < 0.5:
        return f"range{offset:+d}"
    for evidence in finding["evidence"]:
        evidence["line"] += offset
    return f"range+evidence{offset:+d}"


class WildProvider(ScriptedProvider):
    """The double as an in-process provider: the wild oracle's text, its truncation flag, and
    its late arrival (yields to the event loop, no clock)."""

    name = NAME

    def __init__(self, wild: WildOracle, model: str) -> None:
        super().__init__(lambda request, repair: wild.answer(request, repair).text, model)
        self.wild = wild

    @property
    def description(self) -> str:
        what = FAULTS.get(self.wild.fault, "no fault")
        return f"the wild-model test double (not a model): the oracle with {what}"

    async def complete(
        self, request: RenderedRequest, schema: dict[str, Any], repair: tuple[str, str] | None
    ) -> ModelReply:
        self.calls += 1
        reply = self.wild.answer(request, repair)
        for _ in range(reply.yields):
            await asyncio.sleep(0)
        self.wild.arrivals.append(request_key(request))
        return ModelReply(
            text=reply.text,
            tokens_in=len(request.user) // 4,
            tokens_out=len(reply.text) // 4,
            truncated=reply.truncated,
        )


CREATED: list[WildProvider] = []  # every provider the factory made, for inspection


def _factory(rest: str, _settings: ProviderSettings) -> WildProvider:
    try:
        fault, rate, seed, labels_path = rest.split(":", 3)
        labels = json.loads(Path(labels_path).read_text(encoding="utf-8"))
        wild = WildOracle(labels, fault, float(rate), int(seed))
    except (OSError, ValueError) as exc:
        raise UserError(
            f"{NAME}: expected <fault>:<rate>:<seed>:<labels.json>, got '{rest}': {exc}"
        ) from exc
    # One model whatever its fault: a report names the model, not the fault (in description)
    provider = WildProvider(wild, model=f"wild-oracle:{Path(labels_path).name}")
    CREATED.append(provider)
    return provider


register(NAME, _factory)


def spec_prefix(fault: str, rate: float = RATE, seed: int = SEED) -> str:
    """The model spec without its labels file (the eval suite appends ``:<labels.json>``)."""
    return f"{NAME}:{fault}:{rate:g}:{seed}"


@contextmanager
def eval_doubles(
    faults: list[str], rate: float = RATE, seed: int = SEED
) -> Iterator[dict[str, str]]:
    """Make ``wild:<fault>`` a test double the eval suite knows (it maps a double's name to
    its spec and appends each corpus's labels file), for the duration of the block."""
    from vibe_audit.evals import suite

    names = {fault: f"wild:{fault}" for fault in faults}
    saved = dict(suite.DOUBLES)
    suite.DOUBLES.update({names[f]: spec_prefix(f, rate, seed) for f in faults})
    try:
        yield names
    finally:
        suite.DOUBLES.clear()
        suite.DOUBLES.update(saved)


class WildModelServer(FakeModelServer):
    """The fake OpenAI-compatible server (tests/fakes/servers.py) answering as the wild
    double: the real openai provider sends the request and parses the answer; a truncated
    answer comes with finish_reason "length". ``shuffled`` is not served (no clock here)."""

    def __init__(
        self, labels: list[dict[str, Any]], fault: str, rate: float = RATE, seed: int = SEED
    ) -> None:
        if fault == "shuffled":
            raise UserError("WildModelServer: 'shuffled' needs the in-process double")
        super().__init__()
        self.wild = WildOracle(labels, fault, rate, seed)

    def reply_payload(self, body: dict[str, Any], anthropic: bool, fault: str) -> tuple[Any, str]:
        if anthropic:
            raise UserError("WildModelServer speaks the OpenAI Chat Completions format only")
        messages = body.get("messages", [])
        system = next((m["content"] for m in messages if m.get("role") == "system"), "")
        users = [str(m["content"]) for m in messages if m.get("role") == "user"]
        assistant = [str(m["content"]) for m in messages if m.get("role") == "assistant"]
        user = users[0] if users else ""
        token, audit = _BEGIN.search(user), _AUDIT.search(user)
        if token is None or audit is None:
            raise UserError("WildModelServer: a request without code")
        request = RenderedRequest(
            audit=_audit_id(audit.group(1)),
            template_version="",
            chunk_id="",
            system=str(system),
            user=user,
            data_token=token.group(1),
        )
        repair = (assistant[0], users[1]) if assistant and len(users) > 1 else None
        with self.lock:  # the double's counters are not thread-safe
            reply = self.wild.answer(request, repair)
            self.wild.arrivals.append(request_key(request))
        usage_in, usage_out = len(json.dumps(body)) // 4, len(reply.text) // 4
        payload = {
            "id": "chatcmpl-wild", "object": "chat.completion", "created": 0,
            "model": body.get("model"),
            "choices": [{"index": 0, "message": {"role": "assistant", "content": reply.text},
                         "finish_reason": "length" if reply.truncated else "stop"}],
            "usage": {"prompt_tokens": usage_in, "completion_tokens": usage_out,
                      "total_tokens": usage_in + usage_out},
        }  # fmt: skip
        return payload, user


def _audit_id(name: str) -> AuditId:
    from vibe_audit.schemas import AUDIT_IDS

    for audit in AUDIT_IDS:
        if audit == name:
            return audit
    raise UserError(f"WildModelServer: unknown audit '{name}'")
