from __future__ import annotations

from vibe_audit.findings.fingerprint import fingerprint
from vibe_audit.findings.merge import merge, number
from vibe_audit.findings.score import build_section
from vibe_audit.findings.verify import verify
from vibe_audit.prompts import get_audit
from vibe_audit.schemas import (
    ChecklistState,
    Confidence,
    EvidenceLine,
    Finding,
    Location,
    Severity,
)

LINES = [
    "import sqlite3",
    "",
    "def get_connection():",
    "    return sqlite3.connect('app.db')",
    "",
]


def make(
    *,
    audits: tuple[str, ...] = ("sqlite",),
    severity: Severity = Severity.HIGH,
    path: str = "app/db.py",
    line: int = 4,
    text: str = "    return sqlite3.connect('app.db')",
    rule_id: str | None = "sqlite-wal-not-enabled",
    category: str = "WAL Config",
) -> Finding:
    finding = Finding(
        id="",
        fingerprint="",
        audits=list(audits),  # type: ignore[arg-type]
        severity=severity,
        categories={a: category for a in audits},  # type: ignore[misc]
        title="SQLite used without WAL journal mode",
        location=Location(path=path, start_line=line, end_line=line, symbol="get_connection"),
        problem="p",
        scenario="s",
        impact="i",
        confidence=Confidence.HIGH,
        how_to_verify="v",
        fix="f",
        trade_off="t",
        evidence=[EvidenceLine(line=line, text=text)],
        checklist_items=[f"{a}.1A" for a in audits],
        source="rule" if rule_id else "model",
        rule_id=rule_id,
    )
    finding.fingerprint = fingerprint(finding)
    return finding


def test_verify_drops_hallucinated_path_and_unmatched_evidence() -> None:
    files = {"app/db.py": LINES}
    good = make()
    ghost = make(path="app/nowhere.py")
    wrong_quote = make(text="    return psycopg.connect(dsn)")
    past_end = make(line=40, text="db.drop_all_tables(force=True)")
    placed = make(line=40)  # past the end, but quoting line 4: placed there, not dropped
    kept, dropped = verify([good, ghost, wrong_quote, past_end, placed], files)
    assert kept[0] == good
    assert (kept[1].location.start_line, kept[1].evidence[0].line) == (4, 4)
    assert len(kept) == 2
    assert dropped == {
        "path not in audited files": 1,
        "evidence does not match source": 1,
        "line range outside file": 1,
    }


def test_verify_moves_a_finding_whose_quote_is_two_lines_off() -> None:
    off_by_two = make(line=2, text="return sqlite3.connect('app.db')")
    (kept,), dropped = verify([off_by_two], {"app/db.py": LINES})
    assert dropped == {}
    assert (kept.location.start_line, kept.evidence[0].line) == (4, 4)


def test_three_duplicates_across_two_audits_merge_into_one() -> None:
    a = make(audits=("sqlite",), severity=Severity.MEDIUM)
    b = make(audits=("concurrency",), severity=Severity.HIGH, category="SQLite")
    c = make(audits=("sqlite",), severity=Severity.MEDIUM)
    other = make(rule_id="http-call-without-timeout", audits=("reliability",), category="Timeout")
    merged = number(merge([a, b, c, other]))
    assert len(merged) == 2
    wal = next(f for f in merged if f.rule_id == "sqlite-wal-not-enabled")
    assert wal.severity is Severity.HIGH
    assert wal.audits == ["concurrency", "sqlite"]
    assert wal.categories == {"concurrency": "SQLite", "sqlite": "WAL Config"}
    assert wal.checklist_items == ["concurrency.1A", "sqlite.1A"]
    assert [f.id for f in merged] == ["F1", "F2"]


def test_model_findings_on_adjacent_lines_of_one_family_merge() -> None:
    first = make(rule_id=None, line=3, text="def get_connection():")
    second = make(rule_id=None, line=4)
    assert len(merge([first, second])) == 1


def test_fingerprint_survives_lines_inserted_above() -> None:
    before = make(line=4)
    after = make(line=9)  # five lines inserted above: same symbol, same evidence text
    assert before.fingerprint == after.fingerprint
    edited = make(line=4, text="    return sqlite3.connect(DB_PATH)")
    assert edited.fingerprint != before.fingerprint


def test_section_checklist_states_and_action_plan() -> None:
    spec = get_audit("sqlite")
    findings = number(
        merge(
            [
                make(),
                make(severity=Severity.MEDIUM, line=3, text="def get_connection():", rule_id="x"),
            ]
        )
    )
    section = build_section(
        spec,
        findings,
        [],
        checked_items={"sqlite.1A", "sqlite.2B"},
        model_reviewed=False,
        files_audited=1,
    )
    states = {e.id: e.state for e in section.checklist}
    assert states["sqlite.1A"] is ChecklistState.VIOLATED
    assert states["sqlite.2B"] is ChecklistState.NOT_SEEN
    assert states["sqlite.3A"] is ChecklistState.NEEDS_CONFIRMATION
    assert len(section.checklist) == len(spec.checklist)
    assert [i.severity for i in section.fix_now] == [Severity.HIGH]
    assert [i.severity for i in section.fix_soon] == [Severity.MEDIUM]
    assert section.score == 5  # a HIGH issue: band 5-6, and one issue more: its lower score
    assert section.rubric_band.startswith("5-6:")


def test_verify_moves_a_finding_onto_its_evidence_when_its_lines_are_far_off() -> None:
    far = make(line=4).model_copy(
        update={"location": Location(path="app/db.py", start_line=9, end_line=9)}
    )  # claims line 9, quotes line 4
    lines = [*LINES, "", "", "", "", ""]
    (kept,), dropped = verify([far], {"app/db.py": lines})
    assert dropped == {}
    assert (kept.location.start_line, kept.location.end_line) == (4, 4)


def test_one_defect_seen_by_two_audits_merges_but_different_defects_do_not() -> None:
    conc = make(rule_id=None, audits=("concurrency",), category="SQLite")
    lite = make(rule_id=None, audits=("sqlite",))
    assert len(merge([conc, lite])) == 1  # same line, same title
    other = make(rule_id=None, audits=("reliability",), category="Timeout")
    other.title = "Connection opened without a timeout on a slow network share"
    assert len(merge([conc, other])) == 2
