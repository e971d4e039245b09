"""Credentials never leave the machine: planted secrets of every gitleaks-style kind, a full
run over the fake OpenAI-compatible server, and every byte of every request inspected."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

import pytest

from tests.agent.test_providers_runner import audit, compat
from tests.chaos.secret_corpus import KNOWN_GAPS, NEAR_MISSES, PLANTS, Plant
from tests.fakes.servers import FakeModelServer
from vibe_audit.chunker.secrets import redact
from vibe_audit.schemas import Report

# The figures README.md reports under "What leaves the machine".
KINDS_CHECKED = len(PLANTS) + len(KNOWN_GAPS)
KINDS_COVERED = len(PLANTS)


TAB = "\t"


def _indented(plants: list[Plant], indent: str) -> str:
    return "\n".join(textwrap.indent(p.text, indent) for p in plants)


def _tree(root: Path) -> Path:
    by_file: dict[str, list[Plant]] = {}
    for plant in PLANTS:
        by_file.setdefault(plant.file, []).append(plant)
    files = {
        "app/settings.py": (
            "import os\nimport sqlite3\n\nimport requests\n"
            "from requests.auth import HTTPBasicAuth\n\n\n"
            "def configure(client, mailgun, mailchimp, user, URL):\n"
            f"{_indented(by_file['py'], '    ')}\n"
            '    conn = sqlite3.connect("app.db")\n'
            '    conn.execute("INSERT INTO settings VALUES (1)")\n'
            "    return conn\n"
        ),
        "app/worker.js": (
            "const sqlite3 = require('sqlite3');\n\nfunction configure(xhr, user) {\n"
            f"{_indented(by_file['js'], '  ')}\n"
            "  const db = new sqlite3.Database('app.db');\n"
            "  db.run('INSERT INTO jobs VALUES (1)');\n}\n"
        ),
        "app/main.go": (
            'package main\n\nimport "database/sql"\n\nfunc open() (*sql.DB, error) {\n'
            f"{_indented(by_file['go'], TAB)}\n"
            '\t_ = password\n\treturn sql.Open("mysql", dsn)\n}\n'
        ),
        "config/app.yaml": f"database:\n{_indented(by_file['yaml'], '')}\n",
        "config/app.ini": f"[database]\n{_indented(by_file['ini'], '')}\n",
    }
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


def _strings(value: Any) -> list[str]:
    """Every string inside a decoded JSON body (so escaped characters are compared too)."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in [k, *_strings(v)]]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


def _secret_parts(plant: Plant) -> list[str]:
    return [part for part in plant.secret.split("\n") if part]


def test_every_planted_secret_is_redacted_and_line_count_kept() -> None:
    for plant in PLANTS:
        redacted, counts = redact(plant.text)
        assert counts, plant.kind
        for part in _secret_parts(plant):
            assert part not in redacted, plant.kind
        assert redacted.count("\n") == plant.text.count("\n"), plant.kind


def test_known_gaps_are_still_gaps() -> None:
    """The README's figure counts these as not covered; a new rule that covers one moves it."""
    for plant in KNOWN_GAPS:
        assert plant.secret in redact(plant.text)[0], plant.kind


@pytest.mark.parametrize("line", NEAR_MISSES)
def test_near_misses_are_not_redacted(line: str) -> None:
    assert redact(line) == (line, {})


def test_user_and_host_stay_only_the_password_goes() -> None:
    line = 'DATABASE_URL = "postgres://admin:s3cr3t-Pw@db:5432/prod"'
    assert redact(line)[0] == (
        'DATABASE_URL = "postgres://admin:[REDACTED:url-password]@db:5432/prod"'
    )
    header = 'headers = {"Authorization": "Bearer abc123def456ghi789"}'
    expected = 'headers = {"Authorization": "Bearer [REDACTED:authorization-header]"}'
    assert redact(header)[0] == expected


def test_an_unterminated_key_block_loses_its_base64_lines_only() -> None:
    body = "MIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6ffAt0gun"
    text = f'KEY = """-----BEGIN RSA PRIVATE KEY-----\n{body}\n"""\ndef load():\n    return 1\n'
    redacted, counts = redact(text)
    assert body not in redacted and counts == {"private-key": 1}
    assert redacted.splitlines()[2:] == ['"""', "def load():", "    return 1"]


def test_no_planted_secret_reaches_any_request(tmp_path: Path) -> None:
    root = _tree(tmp_path)
    with FakeModelServer() as server:
        report = audit(compat(server), server, ["sqlite", "reliability"], target=root)
    assert isinstance(report, Report)
    assert server.bodies
    raw = "\n".join(server.bodies)
    decoded = "\n".join(s for body in server.bodies for s in _strings(json.loads(body)))
    for plant in PLANTS:
        for part in _secret_parts(plant):
            assert part not in raw, plant.kind
            assert part not in decoded, plant.kind
            assert json.dumps(part)[1:-1] not in raw, plant.kind
    # The planted code was sent, redacted, not left out: each Python, JS and Go plant's line
    # is in a request as the redactor wrote it (YAML and INI files are not routed to a model
    # by these audits; their redaction is checked above and counted below).
    for plant in PLANTS:
        if plant.file in ("py", "js", "go"):
            assert redact(plant.text)[0].split("\n")[0].strip() in decoded, plant.kind
    counted = report.stats.secrets_redacted
    assert sum(counted.values()) >= len(PLANTS)
    assert counted["url-password"] >= 9 and counted["connection-string-password"] >= 8
