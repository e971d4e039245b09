"""Findings and report sections speak in the audited repository's words, not another project's.

Every rule's bad fixture and the example app are audited; no finding text may contain a
word of another project's domain unless the audited files use that word themselves. A
repository with no Python code is never told to run Python.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.conftest import EXAMPLE_APP, repo_from, write_files
from vibe_audit.agent import run_audit
from vibe_audit.prompts.catalog import load_audits
from vibe_audit.rules.base import HIT_PLACEHOLDERS, Hit
from vibe_audit.rules.engine import load_rules, run_rules
from vibe_audit.schemas import AUDIT_IDS, Finding, Report, RunRequest

FIXTURES = Path(__file__).parent / "fixtures"
RULE_IDS = sorted(load_rules())

# Words of the project the audit documents were written for (a document-processing
# pipeline): none belongs in a finding about code that does not use it.
FOREIGN = (
    "document", "documents", "page", "pages", "upload", "uploads", "uploaded", "label studio",
    "labelstudio", "playwright", "ocr", "vlm", "pdf", "pdfs", "annotation", "annotations",
    "zustand", "multi-tab", "scan", "scans", "tenant",
)  # fmt: skip
# Technical senses of a foreign word, allowed wherever they appear.
TECHNICAL = (
    "page cache",  # the OS page cache
    "pages of a committed transaction",  # SQLite database pages
    "every 1000 pages",  # SQLite's WAL checkpoint unit
    "the page keeps",  # the browser page of a frontend rule (JS/TS only)
    "blank page",
    "the page fails",
    "open the page",
)
_TEXTS = ("title", "problem", "scenario", "impact", "how_to_verify", "fix", "trade_off")


def _foreign_words(text: str, allowed: str) -> set[str]:
    text = text.lower()
    for phrase in TECHNICAL:
        text = text.replace(phrase, "")
    return {
        word
        for word in FOREIGN
        if re.search(rf"\b{re.escape(word)}\b", text)
        and not re.search(rf"\b{re.escape(word)}", allowed)
    }


def _leaks(findings: list[Finding], allowed: str) -> list[str]:
    return [
        f"{f.rule_id}.{name}: {sorted(words)}"
        for f in findings
        for name in _TEXTS
        if (words := _foreign_words(getattr(f, name), allowed))
    ]


def _bad_fixture(rule_id: str) -> Path:
    (path,) = [p for p in (FIXTURES / rule_id).glob("bad.*") if p.suffix != ".snap"]
    return path


def _sources(root: Path) -> str:
    files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
    return "\n".join(p.read_text(encoding="utf-8", errors="replace") for p in files).lower()


@pytest.mark.parametrize("rule_id", RULE_IDS)
def test_bad_fixture_findings_use_no_foreign_domain_word(rule_id: str) -> None:
    path = _bad_fixture(rule_id)
    findings = run_rules(repo_from(path), list(AUDIT_IDS), [load_rules()[rule_id]])
    assert findings
    assert _leaks(findings, _sources(path)) == []


@pytest.mark.parametrize("rule_id", RULE_IDS)
def test_every_placeholder_of_a_finding_is_filled(rule_id: str) -> None:
    path = _bad_fixture(rule_id)
    findings = run_rules(repo_from(path), list(AUDIT_IDS), [load_rules()[rule_id]])
    unfilled = [
        f"{name}: {m}"
        for f in findings
        for name in _TEXTS
        for m in re.findall(r"\{\w+\}", getattr(f, name))
        if m not in _sources(path)
    ]
    assert unfilled == []


def test_the_foreign_word_check_catches_a_leak() -> None:
    assert _foreign_words("Two documents must never swap results", "") == {"documents"}
    assert _foreign_words("Two documents must never swap results", "create table documents") == (
        set()
    )
    assert _foreign_words("Committed transactions sit in the OS page cache", "") == set()


@pytest.fixture(scope="module")
def example_report() -> Report:
    return run_audit(RunRequest(target=str(EXAMPLE_APP), audits=list(AUDIT_IDS)))


def test_example_app_findings_use_only_its_own_words(example_report: Report) -> None:
    assert example_report.findings
    assert _leaks(example_report.findings, _sources(EXAMPLE_APP)) == []


def test_example_app_sections_name_its_own_database_tables_and_state_files(
    example_report: Report,
) -> None:
    sections = {s.audit: s for s in example_report.sections}
    sqlite = "\n".join(sections["sqlite"].verification_commands)
    assert 'sqlite3 docstore.db "PRAGMA journal_mode;"' in sqlite
    assert "your_database" not in sqlite and "<database file>" not in sqlite
    guardrails = "\n".join(sections["guardrails"].verification_commands)
    assert "FROM documents GROUP BY status" in guardrails
    assert "FROM pages c LEFT JOIN documents p ON p.id = c.document_id" in guardrails
    checkpoint = "\n".join(sections["checkpoint"].verification_commands)
    assert "<CHECKPOINT_DIR>/*/*.json" in checkpoint
    everything = [
        line
        for s in example_report.sections
        for line in [*s.testing_strategy, *s.verification_commands, *s.monitoring]
    ]
    assert not [line for line in everything if re.search(r"\{\w+\}|^\[\w", line)]
    assert not [line for line in everything if re.search(r"playwright|label studio", line, re.I)]


RUST_APP = {
    "Cargo.toml": '[package]\nname = "ledger"\nversion = "0.1.0"\n',
    "src/main.rs": (
        "use std::fs;\n\n"
        "fn save(state: &str) {\n"
        '    fs::write("state.json", state).unwrap();\n'
        "}\n\n"
        "async fn claim(pool: &sqlx::SqlitePool) {\n"
        "    sqlx::query(\"UPDATE jobs SET status = 'running' WHERE id = $1\")\n"
        "        .bind(1).execute(pool).await.unwrap();\n"
        "}\n"
    ),
}
TS_APP = {
    "package.json": '{"name": "board", "version": "1.0.0"}\n',
    "src/api.ts": (
        "export async function load(id: string) {\n"
        "  const res = await fetch(`/api/cards/${id}`);\n"
        "  return JSON.parse(localStorage.getItem('cards') ?? '[]');\n"
        "}\n"
    ),
}


@pytest.mark.parametrize(("name", "files"), [("rust", RUST_APP), ("typescript", TS_APP)])
def test_a_repository_without_python_is_never_told_to_run_python(
    tmp_path: Path, name: str, files: dict[str, str]
) -> None:
    root = write_files(tmp_path / name, files)
    report = run_audit(RunRequest(target=str(root), audits=list(AUDIT_IDS)))
    lines = [
        line
        for s in report.sections
        for line in [*s.testing_strategy, *s.verification_commands, *s.monitoring]
    ]
    assert lines
    python = re.compile(r"\bpython\b|\bpytest|\.py\b|asyncio|hypothesis", re.I)
    assert [line for line in lines if python.search(line)] == []
    own = "rust" if name == "rust" else "typescript"
    expected = {"rust": r"--include='\*\.rs'", "typescript": r"--include='\*\.ts'"}[own]
    assert any(re.search(expected, line) for line in lines), lines


def test_a_python_repository_gets_the_python_commands(tmp_path: Path) -> None:
    root = write_files(
        tmp_path, {"app.py": "import requests\n\ndef f():\n    return requests.get('http://x')\n"}
    )
    report = run_audit(RunRequest(target=str(root), audits=["reliability", "concurrency"]))
    lines = [
        line for s in report.sections for line in [*s.testing_strategy, *s.verification_commands]
    ]
    assert any("--include='*.py'" in line for line in lines)
    assert any("asyncio.gather()" in line for line in lines)
    assert not any("Playwright" in line or "--include='*.rs'" in line for line in lines)


def test_templates_use_only_known_placeholders_and_tags() -> None:
    from vibe_audit.findings.wording import _LANGUAGE_ALIASES, _TAG, GROUPS

    known = {name for names in GROUPS.values() for name in names}
    languages = {"python", "rust", "typescript", "javascript", "go", *_LANGUAGE_ALIASES.values()}
    for spec in load_audits().values():
        for line in [*spec.testing_strategy, *spec.verification_commands, *spec.monitoring]:
            assert set(re.findall(r"\{(\w+)\}", line)) <= known, line
            if tag := _TAG.match(line):
                assert set(tag.group(1).split("|")) <= languages, line


def test_hit_placeholders_come_from_the_hit_and_details_win() -> None:
    hit = Hit("src/jobs/worker.py", 12, 14, symbol="Worker.run", details={"file": "x"})
    values = hit.placeholders()
    assert values["path"] == "src/jobs/worker.py"
    assert values["function"] == "run"
    assert values["line"] == "12"
    assert values["language"] == "Python"
    assert values["where"] == "Worker.run (src/jobs/worker.py:12)"
    assert values["file"] == "x"
    module_level = Hit("lib.rs", 3, 3).placeholders()
    assert "function" not in module_level and module_level["language"] == "Rust"
    assert set(HIT_PLACEHOLDERS) >= {"path", "file", "function", "language"}


@pytest.mark.parametrize("audit", AUDIT_IDS)
def test_what_a_report_prints_from_a_template_uses_no_foreign_domain_word(audit: str) -> None:
    """Checklist rows, environment defaults, severity and band texts reach every report:
    reworded items keep the document's wording in their sources (for the prompt's fidelity),
    not in the text a reader of another codebase sees. Zustand may be named as an example
    only where the row says so ("e.g.")."""
    spec = load_audits()[audit]  # type: ignore[index]
    shown = [item.text for item in spec.checklist if "e.g." not in item.text]
    shown += [f"{e.text} {e.default}" for e in spec.environment]
    shown += list(spec.severities.values()) + [band.text for band in spec.rubric]
    leaks = {text: _foreign_words(text, "") for text in shown}
    assert {t: w for t, w in leaks.items() if w} == {}
