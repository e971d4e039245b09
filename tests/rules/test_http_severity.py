"""The severity of http-call-without-timeout follows where the call runs: served code HIGH,
one-shot, local and debug calls MEDIUM, code run by hand MONITOR."""

from __future__ import annotations

from tests.conftest import repo_from
from tests.rules.test_rule_fixtures import FIXTURES
from vibe_audit.rules.engine import load_rules, run_rules
from vibe_audit.schemas import AUDIT_IDS, Finding, Severity

HTTP = "http-call-without-timeout"


def _http(path) -> list[Finding]:  # type: ignore[no-untyped-def]
    return run_rules(repo_from(path), list(AUDIT_IDS), [load_rules()[HTTP]])


def test_http_calls_in_a_served_module_are_high_and_say_why() -> None:
    findings = _http(FIXTURES / HTTP / "bad.py")
    assert findings and {f.severity for f in findings} == {Severity.HIGH}
    assert all("Flask app (flask)" in (f.severity_reason or "") for f in findings)


def test_downloads_local_calls_debug_and_startup_checks_are_medium_not_silent() -> None:
    findings = _http(FIXTURES / HTTP / "medium.py")
    reasons = sorted(f.severity_reason or "" for f in findings)
    assert len(findings) == 5 and {f.severity for f in findings} == {Severity.MEDIUM}
    for words in ("when medium.py is imported", "downloads a file once", "same machine",
                  "debug code", "reads sys.argv"):  # fmt: skip
        assert any(words in reason for reason in reasons), words


def test_http_call_reached_from_a_server_elsewhere_is_high(write_tree) -> None:  # type: ignore[no-untyped-def]
    root = write_tree({
        "app/server.py": "from flask import Flask\nfrom app import covers\napp = Flask(__name__)\n",
        "app/covers.py": "import requests\n\n\ndef cover(url):\n"
        "    return requests.get(url).content\n",
    })  # fmt: skip
    (finding,) = _http(root)
    assert finding.severity is Severity.HIGH
    assert "app/server.py runs a Flask app" in (finding.severity_reason or "")


def test_a_command_line_script_is_monitor_not_silent() -> None:
    (finding,) = _http(FIXTURES / HTTP / "monitor.py")
    assert finding.severity is Severity.MONITOR
    assert "command-line tool (argparse), run by hand" in (finding.severity_reason or "")


def test_a_click_command_in_a_served_module_is_monitor(write_tree) -> None:  # type: ignore[no-untyped-def]
    root = write_tree({
        "plugin.py": "import click\nimport requests\nfrom flask import Blueprint\n\n\n"
        "@click.command()\ndef request_key():\n    requests.post('https://x/key')\n",
    })  # fmt: skip
    (finding,) = _http(root)
    assert finding.severity is Severity.MONITOR
    assert "request_key() is a command-line command" in (finding.severity_reason or "")


def test_scripts_are_monitor_and_libraries_without_a_server_medium(write_tree) -> None:  # type: ignore[no-untyped-def]
    root = write_tree({
        "app/server.py": "from fastapi import FastAPI\napp = FastAPI()\n",
        "scripts/release.py": "import requests\n\n\ndef tags():\n    return requests.get('https://x/tags').json()\n",
        "tool/cli.py": "import argparse\nimport requests\n\n\ndef main():\n    requests.get('https://x')\n",
    })  # fmt: skip
    findings = _http(root)
    assert len(findings) == 2 and {f.severity for f in findings} == {Severity.MONITOR}
    client = "import requests\n\n\ndef get(u):\n    return requests.get(u)\n"
    lib = write_tree({"lib/pkg/client.py": client})
    (finding,) = _http(lib / "lib")
    assert finding.severity is Severity.MEDIUM


def test_a_health_check_on_localhost_stays_high(write_tree) -> None:  # type: ignore[no-untyped-def]
    root = write_tree({
        "ui.py": "import gradio\nimport requests\n\n\ndef health_check():\n"
        "    return requests.get('http://localhost:5001/health').ok\n\n\n"
        "def convert(doc):\n    return requests.post('http://localhost:5001/convert', json=doc)\n",
    })  # fmt: skip
    by_line = {f.location.start_line: f.severity for f in _http(root)}
    assert by_line == {6: Severity.HIGH, 10: Severity.MEDIUM}


def test_a_polling_daemon_without_a_framework_is_high(write_tree) -> None:  # type: ignore[no-untyped-def]
    root = write_tree({
        "poller.py": "import time\nimport requests\n\n\ndef run():\n    while True:\n"
        "        requests.get('https://x/jobs')\n        time.sleep(5)\n",
    })  # fmt: skip
    (finding,) = _http(root)
    assert finding.severity is Severity.HIGH
