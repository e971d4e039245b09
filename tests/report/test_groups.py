"""One entry per distinct issue in the readable formats: every place listed, the problem,
scenario and fix written once; JSON keeps one result per place."""

from __future__ import annotations

import json
import re

from vibe_audit.report import RENDERERS
from vibe_audit.report.groups import group_findings
from vibe_audit.schemas import Report

MAX_LINES_PER_ISSUE = 45  # the issue's target is ~40; the longest fix text sets the bound


def _issue_blocks(markdown: str) -> dict[str, list[str]]:
    """'F4' -> the lines of its block, from its ### heading to the next heading."""
    blocks: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in markdown.splitlines():
        heading = re.match(r"### (F\d+) \[SEVERITY", line)
        if heading:
            current = blocks.setdefault(heading.group(1), [])
        elif line.startswith("## "):
            current = None
        if current is not None:
            current.append(line)
    return blocks


def test_markdown_lists_each_issue_once_with_every_place(fixed_report: Report) -> None:
    markdown = RENDERERS["md"](fixed_report)
    groups = group_findings(fixed_report.findings)
    repeated = [g for g in groups if len(g.findings) > 1]
    assert repeated, "the example app has repeated sites of one pattern"
    blocks = _issue_blocks(markdown)
    assert sorted(blocks) == sorted(g.lead.id for g in groups)
    for g in repeated:
        block = "\n".join(blocks[g.lead.id])
        assert f"({len(g.findings)} places)" in block
        for member in g.findings:  # every place, with its own line
            assert f"- {member.id} {member.location.path}:{member.location.start_line}" in block
        assert block.count("**The Fix:**") == 1
        assert block.count(g.lead.problem.splitlines()[0]) == 1
    for member in (m for g in repeated for m in g.findings[1:]):
        assert f"### {member.id} " not in markdown  # no block of its own
    # the summary table comes first, one row per issue
    table = markdown.split("## Findings", 1)[1].split("### ", 1)[0]
    assert sum(1 for line in table.splitlines() if re.match(r"\| F\d+ \|", line)) == len(groups)


def test_each_issue_fits_the_line_budget(fixed_report: Report) -> None:
    blocks = _issue_blocks(RENDERERS["md"](fixed_report))
    longest = max(blocks.items(), key=lambda item: len(item[1]))
    assert len(longest[1]) <= MAX_LINES_PER_ISSUE, longest[0]


def test_html_groups_with_collapsible_details(fixed_report: Report) -> None:
    html = RENDERERS["html"](fixed_report)
    groups = group_findings(fixed_report.findings)
    assert html.count('<div class="finding ') == len(groups)
    assert html.count("<details><summary>Problem, scenario, fix and evidence") == len(groups)
    for finding in fixed_report.findings:  # every place is still addressable by its id
        assert f'<li id="{finding.id}">' in html


def test_json_keeps_one_result_per_place(fixed_report: Report) -> None:
    data = json.loads(RENDERERS["json"](fixed_report))
    assert len(data["findings"]) == len(fixed_report.findings)
    assert len(data["findings"]) > len(group_findings(fixed_report.findings))
