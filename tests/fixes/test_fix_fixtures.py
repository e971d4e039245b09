"""Every rule fixer against its fixture: tests/fixes/fixtures/<rule-id>/before/ is a small
repository with the defect, after/ holds each file as the rule's verified patches leave it.
Applying them gives exactly after/, the files still parse, and the rule no longer fires."""

from __future__ import annotations

from pathlib import Path

import pytest

from vibe_audit.chunker import discover
from vibe_audit.chunker.parsing import parse
from vibe_audit.fixes import patched_files, verify_patches
from vibe_audit.index import indexed
from vibe_audit.rules.engine import load_rules, run_rules
from vibe_audit.schemas import AUDIT_IDS, Finding

FIXTURES = Path(__file__).parent / "fixtures"
CASES = sorted(p.name for p in FIXTURES.iterdir() if (p / "before").is_dir())


def _findings(root: Path, rule_id: str) -> tuple[list[Finding], dict[str, str]]:
    found = discover(root)
    repo = indexed(found.files)
    findings = run_rules(repo, list(AUDIT_IDS), [load_rules()[rule_id]])
    return verify_patches(findings, repo), {f.path: f.text for f in found.files}


def test_every_fixer_has_a_fixture() -> None:
    fixable = sorted(rule_id for rule_id, rule in load_rules().items() if rule.fix is not None)
    assert fixable == CASES


@pytest.mark.parametrize("rule_id", CASES)
def test_the_patched_fixture_is_the_expected_one_and_clean(rule_id: str, tmp_path: Path) -> None:
    case = FIXTURES / rule_id
    findings, texts = _findings(case / "before", rule_id)
    assert findings, f"{rule_id} finds nothing in its fixture"
    for finding in findings:
        assert finding.patch is not None and finding.patch.offered, (
            finding.location,
            finding.patch,
        )
    changed, left_out = patched_files(findings, texts, unsafe=True)
    assert left_out == []
    expected = {
        p.relative_to(case / "after").as_posix(): p.read_text(encoding="utf-8")
        for p in (case / "after").rglob("*")
        if p.is_file()
    }
    assert changed == expected
    patched = tmp_path / "repo"
    for path, text in texts.items():
        (patched / path).parent.mkdir(parents=True, exist_ok=True)
        (patched / path).write_text(changed.get(path, text), encoding="utf-8")
    for path, text in changed.items():
        language = next(f.language for f in discover(patched).files if f.path == path)
        assert not parse(language, text).root_node.has_error, path
    again, _ = _findings(patched, rule_id)
    assert again == []
