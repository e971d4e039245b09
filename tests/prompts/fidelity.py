"""Enumerate the requirements of an audit document and find each one in its template.

A requirement is one of:

- ``item``: a lettered sub-section (``### A) ...`` under ``## 1) ...``), a numbered
  sub-section (``#### 1.1 ...``) or a checklist line (``[ ] ...``, ``- [ ] ...``, a
  ``PRAGMA ...;`` line of a configuration checklist). Found when the template has a checklist
  item with its id (the lettered / numbered / checklist ones) or its text (``- [ ]`` lines).
- ``bullet``: a list line (bullet or numbered, at any depth) under an ``item`` heading.
  Found in that item's own text, detail or sources.
- ``listed``: a list line of one of the document's other requirement sections (context,
  targets, environment, output format, scoring criteria, instructions, ...). Found anywhere
  in the template: the rendered system message, the front matter lists, or an item's
  ``sources``.

Text is compared normalised (case, markdown emphasis and code marks, arrows, whitespace, list
markers). A bullet written ``**Label**: text`` is also found when an item's ``sources`` names
its label: that is the explicit link a generalised item keeps to its source.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from vibe_audit.prompts.render import render_system
from vibe_audit.schemas.audit_spec import AuditSpec, ChecklistItem

# Sections whose list lines are requirements, by heading text (emoji and numbering removed).
# Not here: the report-structure sections (Include, Final Section, severities, rubric bands:
# tested in tests/prompts/test_templates.py or rendered by the report) and the "Also
# include" testing strategy, verification commands, monitoring and tooling, which the
# template keeps in testing_strategy / verification_commands / monitoring, written per stack
# with placeholders (no verbatim text to find); KEY_PHRASES checks what must survive there.
LISTED_SECTIONS: dict[str, tuple[str, ...]] = {
    "concurrency": (
        "Context",
        "Concurrency Test Target",
        "Environment & Assumptions (you must do this first)",
        "Audit Requirements",
        "Output Format (Mandatory)",
    ),
    "checkpoint": (
        "Context",
        "Pipeline Stages (15 total)",
        "Integrity Requirements",
        "Environment & Assumptions (you must do this first)",
        "Audit Requirements",
        "Output Format (Mandatory)",
    ),
    "sqlite": (
        "Context",
        "Concurrency Target",
        "How to Provide Code",
        "Environment & Assumptions (you must do this first)",
        "Audit Requirements",
        "Output Format (Mandatory)",
    ),
    "reliability": (
        "Context",
        "Output Format",
        "Reliability Score Rubric",
        "Testing Strategy for Fixes",
        "Instructions for the Auditor",
    ),
    "guardrails": (
        "Critical Issues Identified",
        "Implemented Guardrails",
        "Monitoring Metrics",
        "Future Enhancements",
        "Success Criteria",
        "Support and Escalation",
    ),
}
# Lines of a listed section that are not requirements: placeholders of the output template.
# A line ending in ":" introduces its sub-list (the sub-list lines are the requirements);
# the effort estimate is a report section (AuditSection.fix_now_effort).
_NOT_REQUIREMENTS = re.compile(
    r"^(\[.*\]|Location:.*|Risk Category:.*|.*:$|Estimated time to implement all Fix Now.*)$"
)
_CHECKLIST_IDS = {
    "SQLite-Specific Checklist": "sqlite_checklist",
    "Checkpoint File Checklist": "checkpoint_checklist",
    "SQLite Configuration Checklist": "pragma",
}


@dataclass(frozen=True)
class Requirement:
    kind: str  # item | bullet | listed
    key: str  # item id, or "<section> / <line>"
    text: str
    item: str | None = None  # the item id a bullet belongs to
    label: str | None = None  # the **Label** of a "**Label**: text" bullet


def normalise(text: str) -> str:
    text = text.replace("→", "->").replace("\u2013", "-").replace("\u2014", "-")
    text = re.sub(r"[*`]", "", text.lower())
    text = re.sub(r"^\s*(?:[-+]|\d+[.)])\s+", "", text)
    text = re.sub(r"\s+", " ", text)
    return text.strip().rstrip(".:;,")


def _heading_title(raw: str) -> str:
    title = re.sub(r"^[^\w(]+", "", raw).strip()  # emoji
    return title


def enumerate_requirements(audit: str, document: str) -> list[Requirement]:
    out: list[Requirement] = []
    headings: dict[int, str] = {}
    section: str | None = None  # "1" of "## 1) ..."
    item: str | None = None  # current item id
    checklist: str | None = None
    counter = 0
    fence = False
    listed = LISTED_SECTIONS[audit]
    for raw in document.splitlines():
        line = raw.rstrip()
        if line.strip().startswith("```"):
            fence = not fence
            continue
        heading = re.match(r"^(#{1,4}) (.+)$", line)
        if heading and not fence:
            level, title = len(heading.group(1)), _heading_title(heading.group(2))
            headings = {k: v for k, v in headings.items() if k < level}
            headings[level] = title
            item = None
            checklist = _CHECKLIST_IDS.get(title) if level == 2 else checklist
            if level == 2 and title not in _CHECKLIST_IDS:
                checklist = None
            if m := re.match(r"^(\d+)\) ", title):
                section = m.group(1) if level == 2 else section
            elif level == 2:
                section = None
            if level == 3 and section and (m := re.match(r"^([A-Z])\) (.+)$", title)):
                item = f"{audit}.{section}{m.group(1)}"
                out.append(Requirement("item", item, m.group(2)))
            if audit == "reliability" and (m := re.match(r"^(\d+\.\d+) (.+)$", title)):
                item = f"{audit}.{m.group(1)}"
                out.append(Requirement("item", item, m.group(2)))
            if level == 2 and title in _CHECKLIST_IDS:
                counter = 0
            continue
        stripped = line.strip()
        if checklist and (m := re.match(r"^\[ \] (.+)$", stripped)):
            counter += 1
            out.append(Requirement("item", f"{audit}.{checklist}.{counter}", m.group(1)))
            continue
        if checklist == "pragma" and (m := re.match(r"^(PRAGMA [^;]+);", stripped)):
            counter += 1
            out.append(Requirement("item", f"{audit}.pragma.{counter}", m.group(1)))
            continue
        if m := re.match(r"^- \[ \] (.+)$", stripped):
            out.append(Requirement("item", f"{audit}: {m.group(1)}", m.group(1)))
            continue
        bullet = re.match(r"^\s*(?:[-*]|\d+[.)])\s+(.+)$", line)
        if not bullet or (fence and not _in(headings, listed)):
            continue
        raw_text = bullet.group(1).strip()
        text = re.sub(r"\s*\[[^\]]*\]$", "", raw_text)  # "Chaos testing: [placeholder]"
        label = m.group(1) if (m := re.match(r"^\*\*([^*]+)\*\*:", text)) else None
        if item is not None and not fence:
            out.append(Requirement("bullet", f"{item} / {text}", text, item=item, label=label))
        elif _in(headings, listed) and not _NOT_REQUIREMENTS.match(raw_text):
            where = " > ".join(headings[k] for k in sorted(headings) if k > 1)
            out.append(Requirement("listed", f"{where} / {text}", text, label=label))
    return out


def _in(headings: dict[int, str], listed: tuple[str, ...]) -> bool:
    return any(title in listed for title in headings.values())


def corpus(spec: AuditSpec) -> str:
    """Everything the template says: the system message, the front matter lists, sources."""
    parts = [render_system(spec), *spec.testing_strategy, *spec.verification_commands]
    parts += [*spec.monitoring, *_sources(spec)]
    # Lines joined with a space: the body wraps its sentences (Markdown soft breaks).
    return " ".join(normalise(line) for part in parts for line in part.splitlines())


def _sources(spec: AuditSpec) -> list[str]:
    return [s for part in (*spec.checklist, *spec.requirements) for s in part.sources]


def _item_text(item: ChecklistItem) -> str:
    lines = [item.text, *item.detail.splitlines(), *item.sources]
    return "\n".join(normalise(line) for line in lines)


def missing(spec: AuditSpec, requirements: list[Requirement]) -> list[Requirement]:
    """The requirements the template does not carry."""
    items = {item.id: item for item in spec.checklist}
    # an item reworded for any codebase keeps the document's wording in its own sources
    texts = {normalise(t) for item in spec.checklist for t in (item.text, *item.sources)}
    sources = {normalise(s) for s in _sources(spec)}
    everything = corpus(spec)
    lost = []
    for req in requirements:
        wanted = normalise(req.text)
        if req.kind == "item":
            found = req.key in items or wanted in texts
        elif req.kind == "bullet":
            own = items.get(req.item or "")
            found = own is not None and (
                wanted in _item_text(own)
                or (req.label is not None and normalise(req.label) in own.sources)
            )
        else:
            found = wanted in everything or (
                req.label is not None and normalise(req.label) in sources
            )
        if not found:
            lost.append(req)
    return lost
