"""The one walk of JS/TS import clauses that the rules' module lookups share
(js.import_bindings): fs, axios and SQLite bindings all come from it."""

from __future__ import annotations

from vibe_audit.chunker.parsing import parse
from vibe_audit.rules import js

SOURCE = """import Database from "better-sqlite3";
import * as fsx from "node:fs";
import { writeFile as save, promises as fsp } from "fs";
import axios, { default as client } from "axios";
import { DatabaseSync } from "node:sqlite";
"""


def test_every_binding_with_its_kind_and_exported_name() -> None:
    root = parse("typescript", SOURCE).root_node
    found = [(b.module, b.kind, b.local, b.imported) for b in js.import_bindings(root)]
    assert found == [
        ("better-sqlite3", "default", "Database", "default"),
        ("node:fs", "namespace", "fsx", "*"),
        ("fs", "named", "save", "writeFile"),
        ("fs", "named", "fsp", "promises"),
        ("axios", "default", "axios", "default"),
        ("axios", "named", "client", "default"),
        ("node:sqlite", "named", "DatabaseSync", "DatabaseSync"),
    ]
    assert js.fs_bindings(root) == ({"fsx", "fsp"}, {"save"})
    assert js.sqlite_classes(root) == {"Database": "better-sqlite3", "DatabaseSync": "node:sqlite"}
