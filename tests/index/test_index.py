"""The resource map (`vibe-audit index`): snapshots of the example app and of every corpus
service, plus the facts the interaction context relies on.

Snapshots are the table output; refresh with VIBE_AUDIT_UPDATE_SNAPSHOTS=1 and review the diff.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.conftest import EXAMPLE_APP, repo_from, write_files
from tests.test_cli import vibe
from vibe_audit.chunker import discover
from vibe_audit.commands.index import render_table
from vibe_audit.evals.suite import CORPORA
from vibe_audit.index import indexed
from vibe_audit.schemas.resources import Resource, ResourceMap

SNAPSHOTS = Path(__file__).parent / "snapshots"
TARGETS = {
    "docstore": EXAMPLE_APP,
    "scanflow": CORPORA / "scanflow",
    "notesync": CORPORA / "notesync",
    "ledgerq": CORPORA / "ledgerq",
}


def _map(name: str) -> ResourceMap:
    return repo_from(TARGETS[name]).resources


def _resource(resource_map: ResourceMap, kind: str, name: str) -> Resource:
    return next(r for r in resource_map.resources if r.kind == kind and r.name == name)


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_resource_map_snapshot(name: str) -> None:
    text = render_table(_map(name))
    snap = SNAPSHOTS / f"{name}.txt"
    if os.environ.get("VIBE_AUDIT_UPDATE_SNAPSHOTS"):
        snap.write_text(text, encoding="utf-8")
    assert text == snap.read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("name", "tables"),
    [
        ("docstore", {"documents", "pages"}),
        ("scanflow", {"documents", "jobs", "pages"}),
        ("notesync", {"jobs", "note_revisions", "notes", "workspaces"}),
        ("ledgerq", {"documents", "extractions", "jobs", "results"}),
    ],
)
def test_every_sql_table_is_found_with_its_writers(name: str, tables: set[str]) -> None:
    found = _map(name).of_kind("sql-table")
    assert {r.name for r in found} == tables
    assert all(r.writers for r in found)


@pytest.mark.parametrize(
    ("name", "directory"),
    [
        ("docstore", "{CHECKPOINT_DIR}/*"),
        ("scanflow", "{root}/*"),
        ("notesync", "{snapshotRoot}/*"),
        ("ledgerq", "{root}/*"),
    ],
)
def test_every_checkpoint_directory_has_writers_and_loaders(name: str, directory: str) -> None:
    resource = _resource(_map(name), "checkpoint-dir", directory)
    assert resource.writers and resource.readers


def test_scanflow_jobs_table_readers_and_writers() -> None:
    jobs = _resource(_map("scanflow"), "sql-table", "jobs")
    writers = {(a.path, a.symbol) for a in jobs.writers}
    assert ("app/repository.py", "set_job_status") in writers
    assert ("app/repository.py", "claim_next_job") in writers
    readers = {a.symbol for a in jobs.readers}
    assert {"get_job", "claim_next_job", "queue_depth"} <= readers
    status = next(a for a in jobs.writers if a.symbol == "set_job_status")
    assert status.lines == [78]
    assert status.signature.startswith("def set_job_status(")
    assert status.text == [
        '"UPDATE jobs SET status = ?, finished_at = ? WHERE id = ?", (status, _now(), job_id)'
    ]


def test_checkpoint_writer_through_a_helper_that_writes_its_parameter() -> None:
    manifest = _resource(_map("scanflow"), "file-path", "{root}/*/result.json")
    assert [a.symbol for a in manifest.writers] == ["CheckpointStore.write_result"]
    assert manifest.writers[0].operations == ["_atomic_write()"]
    assert [a.symbol for a in manifest.readers] == ["CheckpointStore.read_result"]


def test_shared_objects_locks_queues_and_registries(tmp_path: Path) -> None:
    root = write_files(
        tmp_path,
        {
            "app/state.py": (
                "import threading, queue\n"
                "_cache = {}\n"
                "_lock = threading.Lock()\n"
                "jobs = queue.Queue()\n"
                "LIMITS = {'a': 1}\n"
                "\n"
                "def put(key, value):\n"
                "    with _lock:\n"
                "        _cache[key] = value\n"
                "    jobs.put(key)\n"
                "\n"
                "def get(key):\n"
                "    return _cache.get(key), LIMITS['a']\n"
            ),
            "web/ws.ts": (
                "const clients = new Set<WebSocket>();\n"
                "export function join(ws: WebSocket) { clients.add(ws); }\n"
                "export function send(msg: string) { for (const c of clients) c.send(msg); }\n"
            ),
        },
    )
    resource_map = indexed(discover(root).files).resources
    kinds = {(r.kind, r.name) for r in resource_map.resources}
    assert kinds == {
        ("shared-object", "app/state.py:_cache"),
        ("lock", "app/state.py:_lock"),
        ("queue", "app/state.py:jobs"),
        ("websocket-registry", "web/ws.ts:clients"),
    }
    cache = _resource(resource_map, "shared-object", "app/state.py:_cache")
    assert [(a.symbol, a.lines) for a in cache.writers] == [("put", [9])]
    assert [(a.symbol, a.lines) for a in cache.readers] == [("get", [13])]
    registry = _resource(resource_map, "websocket-registry", "web/ws.ts:clients")
    assert [a.symbol for a in registry.writers] == ["join"]
    assert [a.symbol for a in registry.readers] == ["send"]


def test_sql_keywords_after_for_do_on_are_not_tables(tmp_path: Path) -> None:
    root = write_files(
        tmp_path,
        {
            "db.py": (
                "def claim(conn):\n"
                "    conn.execute('''WITH next AS (SELECT id FROM jobs FOR UPDATE SKIP LOCKED)\n"
                "        UPDATE jobs SET status = 'running' FROM next WHERE jobs.id = next.id''')\n"
                "    conn.execute('INSERT INTO t (a) VALUES (1) "
                "ON CONFLICT (a) DO UPDATE SET a = 2')\n"
            )
        },
    )
    resource_map = indexed(discover(root).files).resources
    tables = {r.name: ({a.lines[0] for a in r.writers}, {a.lines[0] for a in r.readers})
              for r in resource_map.of_kind("sql-table")}  # fmt: skip
    assert tables == {"jobs": ({3}, {2}), "t": ({4}, set())}


def test_index_cli_json_kind_filter_and_errors(tmp_path: Path) -> None:
    result = vibe("index", str(EXAMPLE_APP), "--format", "json", "--kind", "sql-table")
    assert result.returncode == 0, result.stderr
    parsed = ResourceMap.model_validate(json.loads(result.stdout))
    assert {r.name for r in parsed.resources} == {"documents", "pages"}
    missing = vibe("index", str(tmp_path / "nope"))
    assert missing.returncode == 2
    assert missing.stderr.strip().splitlines() == [
        f"vibe-audit: error: path not found: {tmp_path / 'nope'}"
    ]
    bad = vibe("index", str(EXAMPLE_APP), "--kind", "tables")
    assert bad.returncode == 2 and "known kinds are sql-table" in bad.stderr
    empty = vibe("index", str(tmp_path))
    assert empty.returncode == 2 and "nothing to index" in empty.stderr


def test_prose_that_starts_like_sql_is_not_a_table(tmp_path: Path) -> None:
    root = write_files(
        tmp_path,
        {
            "ops.py": (
                "def describe(name):\n"
                "    return 'Create index %s on field(s) %s of model %s' % (name, 1, 2)\n"
                "\n"
                "def warn():\n"
                "    raise ValueError('Select statement returned no FROM clauses ')\n"
                "\n"
                "def load(conn):\n"
                "    return conn.execute('select id from jobs where state = 1')\n"
                "\n"
                "def oracle(conn):\n"
                "    return conn.execute('SELECT value FROM v$parameter')\n"
            )
        },
    )
    tables = indexed(discover(root).files).resources.of_kind("sql-table")
    assert [(r.name, [a.symbol for a in r.readers]) for r in tables] == [
        ("jobs", ["load"]),
        ("v$parameter", ["oracle"]),
    ]
