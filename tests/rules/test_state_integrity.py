"""The state-integrity rules that read several languages: state-file-without-backup and
state-file-without-checksum on TypeScript and Rust state files (their fixtures are Python),
and the JS state files found by a shared path name (a constant) rather than a literal."""

from __future__ import annotations

from tests.conftest import repo_from
from vibe_audit.rules.engine import load_rules, run_rules
from vibe_audit.schemas import AUDIT_IDS, Finding

BACKUP = "state-file-without-backup"
CHECKSUM = "state-file-without-checksum"

TS_STATE = """import fs from "node:fs";
import { STATE_FILE } from "./paths";

export function saveState(state: object): void {
  const tmp = `${STATE_FILE}.tmp`;
  fs.writeFileSync(tmp, JSON.stringify(state));
  fs.renameSync(tmp, STATE_FILE);
}

export function loadState(): object {
  return JSON.parse(fs.readFileSync(STATE_FILE, "utf8"));
}
"""

RUST_STATE = """use std::fs;

pub fn save_state(state: &State) -> anyhow::Result<()> {
    fs::write("data/sync-state.json", serde_json::to_vec(state)?)?;
    Ok(())
}

pub fn load_state() -> anyhow::Result<State> {
    Ok(serde_json::from_slice(&fs::read("data/sync-state.json")?)?)
}
"""


def _run(root, rule_id: str) -> list[Finding]:  # type: ignore[no-untyped-def]
    return run_rules(repo_from(root), list(AUDIT_IDS), [load_rules()[rule_id]])


def test_typescript_and_rust_state_files_are_reported(write_tree) -> None:  # type: ignore[no-untyped-def]
    root = write_tree({"src/state.ts": TS_STATE, "src/state.rs": RUST_STATE})
    for rule_id in (BACKUP, CHECKSUM):
        found = sorted(f"{f.location.path}:{f.location.start_line}" for f in _run(root, rule_id))
        assert found == ["src/state.rs:4", "src/state.ts:7"], rule_id


def test_a_backup_and_a_hash_silence_them(write_tree) -> None:  # type: ignore[no-untyped-def]
    kept = TS_STATE.replace(
        "  fs.renameSync(tmp, STATE_FILE);",
        "  fs.copyFileSync(STATE_FILE, `${STATE_FILE}.bak`);\n  fs.renameSync(tmp, STATE_FILE);",
    )
    hashed = RUST_STATE.replace(
        "pub fn save_state",
        "fn digest(b: &[u8]) -> u32 { crc32fast::hash(b) }\n\npub fn save_state",
    )
    root = write_tree({"src/state.ts": kept, "src/state.rs": hashed})
    assert [f.location.path for f in _run(root, BACKUP)] == ["src/state.rs"]
    assert [f.location.path for f in _run(root, CHECKSUM)] == ["src/state.ts"]


def test_configuration_files_are_not_state(write_tree) -> None:  # type: ignore[no-untyped-def]
    config = TS_STATE.replace("STATE_FILE", "SETTINGS_FILE").replace("State", "Settings")
    root = write_tree({"src/settings.ts": config})
    assert _run(root, BACKUP) == [] and _run(root, CHECKSUM) == []
