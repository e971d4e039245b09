"""Test doubles, named as such. Their answers are scripted, never a model's.

- ``scripted-test-double``: answers each request with a function's output (tests).
- ``oracle-test-double:<labels.json>``: answers from labels (the eval suite's upper bound):
  for every label inside the request's code (any of its files) it reports that finding,
  quoting the line, over the label's lines. Like a perfect model, it answers every
  static-rule hint of the request: a hint on a labeled defect of the request's audit is
  confirmed (and that defect not reported again as a finding), any other is dismissed.
  A cross-file label (its ``places`` span more than one file: a check in one file, the
  unguarded write in another) is answered only when EVERY place is visible in the request:
  in its code, or quoted (``path:line | ...``) in its interaction context. It is reported
  at a place inside the request's code. So the oracle finds cross-file defects only with
  interaction context on, which is what the eval's ablation measures.
- ``noisy-oracle-test-double:<labels.json>``: the oracle's answer plus the noise models
  produce: each finding repeated under another title, a copy pointing 6 lines off but
  quoting the right line, a finding in a file that does not exist, one in a real file the
  request did not show, and one quoting code that is not there. Measures what verification
  and de-duplication recover.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from vibe_audit.agent.providers.base import ModelReply, ProviderSettings
from vibe_audit.errors import UserError
from vibe_audit.prompts import get_audit
from vibe_audit.schemas import RenderedRequest

Script = Callable[[RenderedRequest, tuple[str, str] | None], str]
_CODE_LINE = re.compile(r"^\s*(\d+) \| (.*)$")
_CONTEXT_LINE = re.compile(r"^\s+(\S+):(\d+) \| ", re.M)


def code_files(request: RenderedRequest) -> dict[str, dict[int, str]]:
    """Path -> line number -> text of the code inside the request's data fence (a pack of
    several files starts each with a ``FILE <token> <path>`` line)."""
    inside = request.user.split(f"BEGIN {request.data_token}\n", 1)[1]
    inside = inside.split(f"\nEND {request.data_token}", 1)[0]
    marker = f"FILE {request.data_token} "
    files: dict[str, dict[int, str]] = {}
    lines = files.setdefault(request_path(request), {})
    for line in inside.splitlines():
        if line.startswith(marker):
            lines = files.setdefault(line[len(marker) :], {})
            continue
        match = _CODE_LINE.match(line)
        if match:
            lines[int(match.group(1))] = match.group(2)
    return files


def code_lines(request: RenderedRequest) -> dict[int, str]:
    """Line number -> text of the code of the request's first file."""
    return next(iter(code_files(request).values()))


def context_lines(request: RenderedRequest) -> set[tuple[str, int]]:
    """(path, line) of every line the request's interaction context quotes."""
    begin = f"BEGIN CONTEXT {request.data_token}\n"
    if begin not in request.user:
        return set()
    inside = request.user.split(begin, 1)[1].split(f"\nEND CONTEXT {request.data_token}", 1)[0]
    return {(m.group(1), int(m.group(2))) for m in _CONTEXT_LINE.finditer(inside)}


def request_path(request: RenderedRequest) -> str:
    match = re.search(r"^- File: (.+) \(\w+\)$", request.user, re.M)
    return match.group(1) if match else ""


class ScriptedProvider:
    """A scripted test double: ``script(request, repair)`` returns the answer text."""

    name = "scripted-test-double"
    local = True

    def __init__(self, script: Script, model: str = "script") -> None:
        self.model = model
        self._script = script
        self.calls = 0

    @property
    def description(self) -> str:
        return "a scripted test double (not a model)"

    async def complete(
        self, request: RenderedRequest, schema: dict[str, Any], repair: tuple[str, str] | None
    ) -> ModelReply:
        self.calls += 1
        text = self._script(request, repair)
        return ModelReply(text=text, tokens_in=len(request.user) // 4, tokens_out=len(text) // 4)

    async def aclose(self) -> None:
        return None


_HINT = re.compile(r"^- (H\d+): (?:(\S+): )?\S+ at line (\d+): ", re.M)


def static_hints(request: RenderedRequest) -> list[tuple[str, str, int]]:
    """(id, path, line) of each static-rule hint the request lists."""
    if "## Static-rule hints\n" not in request.user:
        return []
    section = request.user.split("## Static-rule hints\n", 1)[1].split("\n## ", 1)[0]
    return [
        (m.group(1), m.group(2) or request_path(request), int(m.group(3)))
        for m in _HINT.finditer(section)
    ]


def _places(label: dict[str, Any]) -> list[dict[str, Any]]:
    return label.get("places") or [
        {"path": label["path"], "start": label["line"], "end": label["line"]}
    ]


def _covers(label: dict[str, Any], path: str, line: int) -> bool:
    return any(p["path"] == path and p["start"] <= line <= p["end"] for p in _places(label))


def oracle_script(labels: list[dict[str, Any]]) -> Script:
    """Answers with every label whose path and line fall in the request's code; a cross-file
    label only when all its places are visible (see the module docstring)."""

    def answer(request: RenderedRequest, _repair: tuple[str, str] | None) -> str:
        files = code_files(request)
        quoted = context_lines(request)
        reported: list[tuple[dict[str, Any], dict[str, Any]]] = []
        for label in labels:
            if label["audit"] != request.audit:
                continue
            places = label.get("places") or []
            if len({p["path"] for p in places}) > 1:
                place = _cross_file_place(places, files, quoted)
                if place is not None:
                    path, line = place
                    found = _labelled(dict(label, line=line), path, files[path][line])
                    reported.append((label, found))
            elif label["line"] in files.get(label["path"], {}):
                path = label["path"]
                reported.append((label, _labelled(label, path, files[path][label["line"]])))
        verdicts, confirmed = [], set()
        mine = [label for label in labels if label["audit"] == request.audit]
        for hint, path, line in static_hints(request):
            if not any(_covers(label, path, line) for label in mine):
                reason = "no labeled defect of this audit at this line"
                verdicts.append({"hint": hint, "verdict": "dismissed", "reason": reason})
                continue
            verdicts.append({"hint": hint, "verdict": "confirmed", "reason": "labeled"})
            confirmed |= {n for n, (lab, _) in enumerate(reported) if _covers(lab, path, line)}
        return json.dumps(
            {
                "findings": [f for n, (_, f) in enumerate(reported) if n not in confirmed],
                "needs_confirmation": [],
                # a perfect model examines every item and says so (an answer that lists
                # nothing examined is re-asked as empty)
                "checked_items": [item.id for item in get_audit(request.audit).checklist],
                "hint_verdicts": verdicts,
                "not_applicable": [],
            }
        )

    return answer


def _cross_file_place(
    places: list[dict[str, Any]], files: dict[str, dict[int, str]], quoted: set[tuple[str, int]]
) -> tuple[str, int] | None:
    """The path and first line of a place in the request's code, when every place is
    visible."""

    def in_code(place: dict[str, Any]) -> int | None:
        lines = files.get(place["path"], {})
        return next((n for n in range(place["start"], place["end"] + 1) if n in lines), None)

    def visible(place: dict[str, Any]) -> bool:
        span = range(place["start"], place["end"] + 1)
        return in_code(place) is not None or any((place["path"], n) in quoted for n in span)

    if not all(visible(p) for p in places):
        return None
    return next(((p["path"], n) for p in places if (n := in_code(p)) is not None), None)


def noisy_oracle_script(labels: list[dict[str, Any]]) -> Script:
    """The oracle's findings plus deterministic noise (see the module docstring)."""
    oracle = oracle_script(labels)

    def answer(request: RenderedRequest, repair: tuple[str, str] | None) -> str:
        data = json.loads(oracle(request, repair))
        lines, path = code_lines(request), request_path(request)  # noise in the first file
        noisy: list[dict[str, Any]] = []
        for finding in data["findings"]:
            again = dict(finding, title=f"{finding['title']} (reported again)")
            shifted_line = finding["start_line"] + 6
            shifted = dict(finding, start_line=shifted_line, end_line=shifted_line)
            noisy += [finding, again, shifted]
        same_audit = [lab for lab in labels if lab["audit"] == request.audit]
        if lines and same_audit:
            first = min(lines)
            base = _labelled(same_audit[0], path, lines[first])
            folder = path.rsplit("/", 1)[0] + "/" if "/" in path else ""
            ghost_file = dict(base, path=f"{folder}ghost_module.py")
            ghost_file["title"] = "Invented finding in a file that does not exist"
            ghost_quote = dict(base, title="Invented finding quoting code that is not there")
            ghost_quote["evidence"] = [{"line": first, "text": "db.drop_all_tables(force=True)"}]
            noisy += [ghost_file, ghost_quote]
            files = code_files(request)
            unseen = next((lab for lab in same_audit if lab["path"] not in files), None)
            if unseen is not None:  # a real file of the service that this request did not show
                outside = dict(base, path=unseen["path"], start_line=unseen["line"])
                outside["end_line"] = unseen["line"]
                outside["evidence"] = [{"line": unseen["line"], "text": lines[first]}]
                outside["title"] = "Invented finding in a file the request did not show"
                noisy.append(outside)
        data["findings"] = noisy
        return json.dumps(data)

    return answer


def _labelled(label: dict[str, Any], path: str, text: str) -> dict[str, Any]:
    line = label["line"]
    end = next(
        (p["end"] for p in _places(label) if p["path"] == path and p["start"] <= line <= p["end"]),
        line,
    )
    return {
        "checklist_items": label["checklist_items"],
        "severity": label["severity"],
        "category": label["category"],
        "title": label["title"],
        "path": path,
        "start_line": line,
        "end_line": end,
        "symbol": None,
        "problem": label["title"],
        "scenario": "from labels",
        "impact": "from labels",
        "confidence": "High",
        "how_to_verify": "see the label",
        "fix": label.get("fix", "see the label"),
        "trade_off": "none",
        "evidence": [{"line": line, "text": text}],
    }


def make_oracle(rest: str, _settings: ProviderSettings) -> ScriptedProvider:
    try:
        labels = json.loads(Path(rest).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise UserError(f"oracle-test-double: cannot read labels file '{rest}': {exc}") from exc
    provider = ScriptedProvider(oracle_script(labels), model=f"oracle:{Path(rest).name}")
    provider.name = "oracle-test-double"
    return provider


def make_noisy_oracle(rest: str, _settings: ProviderSettings) -> ScriptedProvider:
    provider = make_oracle(rest, _settings)
    provider._script = noisy_oracle_script(json.loads(Path(rest).read_text(encoding="utf-8")))
    provider.model = f"noisy-oracle:{Path(rest).name}"
    provider.name = "noisy-oracle-test-double"
    return provider
