"""Environment & Assumptions inferred from repository facts."""

from __future__ import annotations

from tests.conftest import EXAMPLE_APP, repo_from
from vibe_audit.prompts import get_audit
from vibe_audit.rules.engine import load_rules, run_rules
from vibe_audit.rules.environment import infer_assumptions


def _by_topic(audit: str, root) -> dict[str, tuple[str, bool, list[str]]]:
    facts = repo_from(root).facts
    return {
        a.topic.split(" (")[0]: (a.value, a.needs_confirmation, a.evidence)
        for a in infer_assumptions(get_audit(audit), facts)  # type: ignore[arg-type]
    }


def test_example_app_environment_for_sqlite() -> None:
    env = _by_topic("sqlite", EXAMPLE_APP)
    journal, unsure, evidence = env["SQLite journal mode currently in use"]
    assert journal.startswith("DELETE, the SQLite default") and not unsure
    assert evidence == ["app/db.py:26"]
    timeout, unsure, _ = env["Busy timeout configuration"]
    assert timeout.startswith("5 s, the Python sqlite3/aiosqlite default") and not unsure
    assert env["Async driver usage"][0].startswith("sqlite3 (blocking driver)")
    assert "get_connection" in env["Connection pooling strategy"][0]


def test_unknowable_topics_need_confirmation_with_a_default() -> None:
    env = _by_topic("checkpoint", EXAMPLE_APP)
    value, unsure, _ = env["Schema versioning strategy"]
    assert unsure
    assert value.startswith("Needs Confirmation. Best-practice default: A schema_version field")


def test_pragmas_in_a_multiline_script_are_seen_at_their_own_line(write_tree) -> None:
    root = write_tree(
        {
            "db.py": (
                "import sqlite3\n"
                "\n"
                "def connect(path):\n"
                "    conn = sqlite3.connect(path)\n"
                '    conn.executescript("""\n'
                "        PRAGMA busy_timeout = 5000;\n"
                "        PRAGMA journal_mode = WAL;\n"
                '    """)\n'
                "    return conn\n"
            )
        }
    )
    env = _by_topic("sqlite", root)
    assert env["SQLite journal mode currently in use"][0].startswith("WAL")
    assert env["SQLite journal mode currently in use"][2] == ["db.py:7"]
    assert env["Busy timeout configuration"][0] == "5000 ms (PRAGMA busy_timeout)"
    wal_rule = load_rules()["sqlite-wal-not-enabled"]
    assert run_rules(repo_from(root), ["sqlite"], [wal_rule]) == []
