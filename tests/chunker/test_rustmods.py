"""Rust files no crate root reaches through `mod` are not compiled and not audited."""

from __future__ import annotations

from vibe_audit.chunker import discover
from vibe_audit.chunker.rustmods import SKIP_REASON

CRATE = {
    "Cargo.toml": '[package]\nname = "demo"\nversion = "0.1.0"\n',
    "src/lib.rs": 'pub mod store;\n#[cfg(feature = "x")]\nmod feature;\n'
    '#[path = "gen/schema.rs"]\nmod schema;\ninclude!("consts.rs");\n',
    "src/store.rs": "mod inner;\npub fn save() {}\n",
    "src/store/inner.rs": "pub fn write() {}\n",
    "src/feature/mod.rs": "pub fn f() {}\n",
    "src/gen/schema.rs": 'pub const S: &str = "";\n',
    "src/consts.rs": "pub const N: u32 = 1;\n",
    "src/bin/tool.rs": "mod helper;\nfn main() {}\n",
    "src/bin/helper.rs": "pub fn h() {}\n",
    "src/old_store.rs": "pub fn save_in_place() {}\n",  # left behind: no mod names it
}


def test_files_outside_the_module_tree_are_skipped_with_a_reason(write_tree) -> None:
    found = discover(write_tree(CRATE))
    assert sorted(f.path for f in found.files if f.path.endswith(".rs")) == [
        "src/bin/helper.rs", "src/bin/tool.rs", "src/consts.rs", "src/feature/mod.rs",
        "src/gen/schema.rs", "src/lib.rs", "src/store.rs", "src/store/inner.rs",
    ]  # fmt: skip
    assert {s.path: s.reason for s in found.skipped if s.path.endswith(".rs")} == {
        "src/old_store.rs": SKIP_REASON
    }


def test_without_cargo_toml_or_crate_root_nothing_is_skipped(write_tree) -> None:
    no_manifest = {f"a/{k}": v for k, v in CRATE.items() if k != "Cargo.toml"}
    found = discover(write_tree(no_manifest) / "a")
    assert "src/old_store.rs" in {f.path for f in found.files}
    no_root = {
        f"b/{k}": v for k, v in CRATE.items() if k != "src/lib.rs" and not k.startswith("src/bin/")
    }
    found = discover(write_tree(no_root) / "b")
    assert "src/old_store.rs" in {f.path for f in found.files}


def test_a_workspace_member_is_its_own_crate(write_tree) -> None:
    tree = {f"crates/core/{k}": v for k, v in CRATE.items()}
    tree["Cargo.toml"] = '[workspace]\nmembers = ["crates/core"]\n'
    skipped = {s.path for s in discover(write_tree(tree)).skipped if s.reason == SKIP_REASON}
    assert skipped == {"crates/core/src/old_store.rs"}
