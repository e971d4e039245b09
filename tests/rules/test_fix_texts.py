"""Every suggested fix keeps what the original code guaranteed.

The file-writing fixes are executed against real files (mode, content, failure); the SQLite
and transaction fixes are checked for the guarantees they must not drop (durability,
transaction semantics); every rule's fix, filled from its bad fixture, is concrete (no
unfilled placeholder).
"""

from __future__ import annotations

import json
import os
import re
import stat
import tempfile
import textwrap
from pathlib import Path

import pytest

from tests.conftest import repo_from
from tests.rules.test_rule_fixtures import RULE_IDS, _fixture
from vibe_audit.rules.engine import load_rules, run_rules
from vibe_audit.schemas import AUDIT_IDS


def _fix(rule_id: str) -> str:
    return load_rules()[rule_id].meta.fix


def _run_atomic_write_fix(path: Path, data: object) -> None:
    """Execute the checkpoint-non-atomic-write fix exactly as the finding prints it."""
    code = _fix("checkpoint-non-atomic-write")
    namespace = {"os": os, "json": json, "stat": stat, "tempfile": tempfile}
    exec(compile(code, "fix", "exec"), {**namespace, "path": str(path), "data": data})


@pytest.mark.parametrize("mode", [0o600, 0o644, 0o640])
def test_atomic_write_fix_keeps_the_file_mode(tmp_path: Path, mode: int) -> None:
    """A secrets file created 0600 stays 0600; a shared one stays readable."""
    target = tmp_path / "keys.json"
    target.write_text('{"old": 1}')
    target.chmod(mode)
    _run_atomic_write_fix(target, {"new": 2})
    assert json.loads(target.read_text()) == {"new": 2}
    assert stat.S_IMODE(target.stat().st_mode) == mode
    assert [p.name for p in tmp_path.iterdir()] == ["keys.json"]  # no temp file left


def test_atomic_write_fix_creates_a_new_file_no_wider_than_0600(tmp_path: Path) -> None:
    target = tmp_path / "state.json"
    _run_atomic_write_fix(target, [1, 2])
    assert json.loads(target.read_text()) == [1, 2]
    assert stat.S_IMODE(target.stat().st_mode) & 0o077 == 0


def test_atomic_write_fix_keeps_the_old_content_when_the_write_fails(tmp_path: Path) -> None:
    target = tmp_path / "state.json"
    target.write_text('{"old": 1}')
    with pytest.raises(TypeError):
        _run_atomic_write_fix(target, {"bad": object()})  # json.dump fails half-way
    assert json.loads(target.read_text()) == {"old": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["state.json"]


def test_temp_in_other_dir_fix_keeps_the_target_mode() -> None:
    fix = _fix("checkpoint-temp-in-other-dir")
    assert "dir=target.parent" in fix
    assert "os.chmod(tmp, stat.S_IMODE(target.stat().st_mode))" in fix
    assert fix.index("os.chmod") < fix.index("os.replace")


def test_replace_without_fsync_fix_syncs_before_the_rename() -> None:
    fix = _fix("checkpoint-replace-without-fsync")
    assert fix.index("os.fsync(f.fileno())") < fix.index("os.replace(tmp, path)")


def test_wal_fix_does_not_lower_durability() -> None:
    """synchronous=NORMAL in WAL can lose the last commits on power loss: not in the fix."""
    fix = _fix("sqlite-wal-not-enabled")
    assert "journal_mode=WAL" in fix and "busy_timeout" in fix
    assert "synchronous" not in fix
    assert "power loss" in load_rules()["sqlite-wal-not-enabled"].meta.trade_off


def test_begin_immediate_fix_says_what_it_needs_to_keep_transaction_semantics() -> None:
    fix = _fix("sqlite-deferred-transaction-upgrade")
    assert "BEGIN IMMEDIATE" in fix
    assert "isolation_level=None" in fix and "commit/rollback" in fix


def test_batched_commit_trade_off_states_the_lost_partial_progress() -> None:
    trade_off = load_rules()["sqlite-commit-per-row"].meta.trade_off
    assert "rolls back the batch" in trade_off and "re-runnable" in trade_off


def test_atomic_write_fix_text_runs_as_printed() -> None:
    """The fix is code, not advice: it compiles as Python."""
    compile(textwrap.dedent(_fix("checkpoint-non-atomic-write")), "fix", "exec")


@pytest.mark.parametrize("rule_id", RULE_IDS)
def test_every_fix_is_concrete_once_filled(rule_id: str) -> None:
    """Each rule's fix, filled with the details of its bad fixture's hits, has no
    unfilled {placeholder} left and is not empty."""
    rule = load_rules()[rule_id]
    findings = run_rules(repo_from(_fixture(rule_id, "bad")), list(AUDIT_IDS), [rule])
    assert findings
    for finding in findings:
        assert finding.fix.strip()
        assert not re.search(r"\{[a-z_]+\}", finding.fix), finding.fix
