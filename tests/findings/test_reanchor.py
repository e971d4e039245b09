"""Verification places findings instead of rejecting them: each quote is re-anchored near
its claimed line, then anywhere in the file (or the request's lines), verbatim or fuzzily
over normalised tokens; the range snaps to the placed evidence; only what matches nothing
is dropped, counted by reason."""

from __future__ import annotations

from vibe_audit.findings.fingerprint import fingerprint
from vibe_audit.findings.merge import merge
from vibe_audit.findings.verify import (
    MIN_FUZZY_CHARS,
    ScopedFinding,
    normalise,
    similarity,
    verify,
)
from vibe_audit.schemas import Confidence, EvidenceLine, Finding, Location, Severity

TARGET = "    conn.execute(\"UPDATE jobs SET status = 'done' WHERE id = ?\", (job_id,))"
SOURCE = [
    "import sqlite3",  # 1
    "",
    "def claim(conn, job_id):",  # 3
    "    row = conn.execute('SELECT status FROM jobs WHERE id = ?', (job_id,)).fetchone()",
    "    if row is None:",  # 5
    "        return None",
    "    pass",  # 7
    TARGET,  # 8
    "    conn.commit()",  # 9
    "    return row",  # 10
    *[f"    step_{n} = compute_something_else({n})" for n in range(11, 41)],  # 11..40
    "}",  # 41
    "    pass",  # 42
]
PATH = "app/jobs.py"
FILES = {PATH: SOURCE}


def finding(
    line: int,
    text: str = TARGET,
    *,
    start: int | None = None,
    end: int | None = None,
    rule_id: str | None = None,
    evidence: list[EvidenceLine] | None = None,
) -> Finding:
    made = Finding(
        id="", fingerprint="", audits=["concurrency"], severity=Severity.HIGH,
        categories={"concurrency": "Race Condition"}, title="Status set without a check",
        location=Location(path=PATH, start_line=start or line, end_line=end or start or line),
        problem="p", scenario="s", impact="i", confidence=Confidence.HIGH, how_to_verify="v",
        fix="f", trade_off="t", evidence=evidence or [EvidenceLine(line=line, text=text)],
        checklist_items=["concurrency.3A"], source="rule" if rule_id else "model",
        rule_id=rule_id,
    )  # fmt: skip
    made.fingerprint = fingerprint(made)
    return made


def placed(f: Finding) -> tuple[int, int, list[int], list[str]]:
    (kept,), dropped = verify([f], FILES)
    assert dropped == {}
    where = kept.location
    return (
        where.start_line,
        where.end_line,
        [e.line for e in kept.evidence],
        [e.text for e in kept.evidence],
    )


def test_a_re_spaced_quote_is_placed_and_stores_the_real_line() -> None:
    respaced = "conn.execute( \"UPDATE jobs SET status = 'done' WHERE id = ?\" , ( job_id , ) )"
    assert placed(finding(8, respaced)) == (8, 8, [8], [TARGET])


def test_swapped_and_curly_quote_marks_are_one_quote() -> None:
    swapped = TARGET.translate({ord("'"): '"', ord('"'): "'"})
    curly = TARGET.replace('"', "\u201c", 1).replace("'", "\u2019")
    assert normalise(swapped) == normalise(TARGET) == normalise(curly)
    for text in (swapped, curly):
        assert placed(finding(8, text)) == (8, 8, [8], [TARGET])


def test_one_word_changed_is_placed_fuzzily() -> None:
    changed = TARGET.replace("status", "value")
    assert similarity(normalise(changed), normalise(TARGET), threshold=0.8) > 0
    assert placed(finding(8, changed)) == (8, 8, [8], [TARGET])
    assert placed(finding(14, changed))[:3] == (8, 8, [8])  # six lines off and changed


def test_quotes_five_and_ten_lines_off_are_placed() -> None:
    for off in (5, -5, 10):
        line = 8 + off if 8 + off >= 1 else 1
        assert placed(finding(line))[:3] == (8, 8, [8]), off


def test_a_quote_far_from_its_claim_is_found_in_the_whole_file() -> None:
    assert placed(finding(35))[:3] == (8, 8, [8])  # 27 lines off: outside the +-10 window
    assert placed(finding(80))[:3] == (8, 8, [8])  # past the end of the file


def test_whole_file_search_stays_inside_the_request_scope() -> None:
    far = finding(35)
    kept, dropped = verify([ScopedFinding(far, {PATH: (20, 42)})], FILES)
    assert kept == [] and dropped == {"evidence does not match source": 1}
    (kept_one,), _ = verify([ScopedFinding(far, {PATH: (1, 42)})], FILES)
    assert kept_one.location.start_line == 8


def test_short_lines_never_match_far_away_or_fuzzily() -> None:
    assert len(normalise("    pass").replace(" ", "")) < MIN_FUZZY_CHARS
    assert placed(finding(12, "pass"))[:3] == (7, 7, [7])  # verbatim, within 10 lines
    for line, text in ((30, "pass"), (25, "}"), (9, "    cn.comit()")):
        kept, dropped = verify([finding(line, text)], FILES)
        assert kept == [] and dropped == {"evidence does not match source": 1}, text


def test_a_quote_that_matches_nothing_is_dropped_and_counted() -> None:
    ghost = finding(8, "db.drop_all_tables(force=True)")
    outside = finding(90, "db.drop_all_tables(force=True)")
    kept, dropped = verify([ghost, outside, finding(8)], FILES)
    assert [f.location.start_line for f in kept] == [8]
    assert dropped == {"evidence does not match source": 1, "line range outside file": 1}


def test_an_unplaced_quote_leaves_a_finding_whose_other_quote_is_placed() -> None:
    both = finding(
        8,
        evidence=[EvidenceLine(line=8, text=TARGET), EvidenceLine(line=9, text="db.nuke()")],
    )
    assert placed(both) == (8, 8, [8], [TARGET])


def test_a_block_of_quotes_moves_together() -> None:
    block = finding(
        25,
        start=24,
        end=26,
        evidence=[
            EvidenceLine(line=24, text="    pass"),
            EvidenceLine(line=25, text=TARGET),
            EvidenceLine(line=26, text="conn.commit()"),
        ],
    )  # the three lines 7-9 quoted 17 lines down: the short ones follow the long one
    assert placed(block)[:3] == (7, 9, [7, 8, 9])


def test_the_claimed_range_is_kept_when_it_holds_the_evidence() -> None:
    assert placed(finding(8, start=3, end=10))[:3] == (3, 10, [8])


def test_a_model_finding_lines_off_lands_on_the_rule_finding_and_merges() -> None:
    rule = finding(8, rule_id="sqlite-update-unguarded")
    for off in (1, 2, 3, -3):
        range_only = finding(8, start=8 + off)  # the range off, the quote at the right line
        both_off = finding(8 + off, start=8 + off)  # the range and the quote's number off
        for model in (range_only, both_off):
            verified, dropped = verify([rule, model], FILES)
            assert dropped == {}
            assert verified[1].location.start_line == verified[1].location.end_line == 8
            (fused,) = merge(verified)
            assert fused.sources == ["rule", "model"], off
