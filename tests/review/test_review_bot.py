"""End to end: a real git repo with commits, `vibe-audit review` against a fake GitHub."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

from tests.conftest import ROOT
from tests.fakes.github import PR, REPO, FakeGitHub
from vibe_audit.review.diff import parse_diff

SARIF_SCHEMA = ROOT.parent / "shared" / "data" / "sarif-schema-2.1.0.json"

BASE = """import requests


def fetch_project(base, project_id):
    return requests.get(f"{base}/api/projects/{project_id}").json()
"""
CHANGE = (
    BASE
    + """

def run_ocr(url, payload):
    response = requests.post(url, json=payload)
    return response.json()
"""
)
PUSH = (
    CHANGE
    + """

def ping(url):
    return requests.head(url).status_code
"""
)


def git(root: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(root), "-c", "user.name=t", "-c", "user.email=t@e.x", *args],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip


def init(root: Path) -> None:
    """A git repository whose client.py is served: a web app imports it, so an HTTP call
    without a timeout there is HIGH (in a script it would be MONITOR)."""
    git(root, "init", "-q")
    (root / "server.py").write_text(
        "from fastapi import FastAPI\n\nimport client\n\napp = FastAPI()\n"
    )
    git(root, "add", "server.py")


def commit(root: Path, text: str, message: str) -> str:
    (root / "client.py").write_text(text)
    git(root, "add", "client.py")
    git(root, "commit", "-q", "-m", message)
    return git(root, "rev-parse", "HEAD")


def review(
    root: Path, server: FakeGitHub, base: str, *extra: str
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VIBE_AUDIT", "GITHUB_"))}
    env["GITHUB_TOKEN"] = "gh-test-token"
    return subprocess.run(
        [sys.executable, "-m", "vibe_audit", "review", "--path", str(root), "--base", base,
         "--repo", REPO, "--pr", str(PR), "--github-api", server.url, "--prompt", "reliability",
         "--quiet", *extra],
        capture_output=True, text=True, env=env, timeout=120, check=False,
    )  # fmt: skip


def test_review_posts_inline_only_on_changed_lines_and_updates_the_summary(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    root.mkdir()
    init(root)
    base = commit(root, BASE, "base")
    head = commit(root, CHANGE, "add OCR client")
    with FakeGitHub(head_sha=head, rate_limit_first_write=True) as server:
        first = review(root, server, base)
        assert first.returncode == 0, first.stderr
        assert server.refused == [f"/repos/{REPO}/pulls/{PR}/reviews"]  # backed off, retried
        (method, path, payload), summary_write = server.writes
        assert (method, path) == ("POST", f"/repos/{REPO}/pulls/{PR}/reviews")
        assert payload["commit_id"] == head and payload["event"] == "COMMENT"
        assert payload["body"] == "vibe-audit: 1 new finding(s) on the lines this change touches."
        (comment,) = payload["comments"]
        assert (comment["path"], comment["line"], comment["side"]) == ("client.py", 9, "RIGHT")
        assert comment["body"].startswith(
            "**[HIGH] HTTP call without a timeout** (reliability: Timeout)"
        )
        fixed = "    response = requests.post(url, json=payload, timeout=(3.05, 30))"
        assert f"```suggestion\n{fixed}\n```" in comment["body"]
        assert "<!-- vibe-audit:finding:" in comment["body"]
        # The pre-existing call on line 5 (unchanged) is in the summary, never inline.
        assert summary_write[:2] == ("POST", f"/repos/{REPO}/issues/{PR}/comments")
        summary = summary_write[2]["body"]
        assert (
            "**1 finding(s) introduced or touched by this change**, 1 pre-existing nearby."
            in summary
        )
        assert "`client.py:5`" in summary and "`client.py:9`" in summary

        pushed = commit(root, PUSH, "add ping")
        server.head_sha = pushed
        server.writes.clear()
        second = review(root, server, base)
        assert second.returncode == 0, second.stderr
        (review_write, patch) = server.writes
        assert [c["line"] for c in review_write[2]["comments"]] == [14]  # only the new one
        assert patch[:2] == (
            "PATCH",
            f"/repos/{REPO}/issues/comments/{server.issue_comments[0]['id']}",
        )
        assert len(server.issue_comments) == 1  # updated in place, not duplicated
        assert "**2 finding(s) introduced" in server.issue_comments[0]["body"]

        server.writes.clear()
        third = review(root, server, base)
        assert third.returncode == 0, third.stderr
        assert server.writes == []  # same head, nothing new: nothing posted


MULTI_BASE = """import requests


def upload(url, payload):
    response = requests.post(
        url,
        json=payload,
    )
    return response.json()
"""
MULTI_TOUCHED = MULTI_BASE.replace("json=payload,", "json={**payload, 'v': 2},")
MULTI_ADDED = (
    MULTI_BASE
    + """

def send(url, body):
    response = requests.put(
        url,
        data=body,
    )
    return response.status_code
"""
)


def test_a_suggestion_replaces_only_lines_the_change_touched(tmp_path: Path) -> None:
    """A verified multi-line patch is a one-click suggestion (start_line..line) when the
    change added every line it replaces; when it would also rewrite lines the change did
    not touch, the comment gives the fix as text, with no suggestion block."""
    root = tmp_path / "repo"
    root.mkdir()
    init(root)
    base = commit(root, MULTI_BASE, "base")
    head = commit(root, MULTI_TOUCHED, "touch one argument line")
    with FakeGitHub(head_sha=head) as server:
        assert review(root, server, base).returncode == 0
        (comment,) = server.writes[0][2]["comments"]
        assert comment["line"] == 7 and "start_line" not in comment
        assert "```suggestion" not in comment["body"] and "**Fix:**" in comment["body"]
    head = commit(root, MULTI_ADDED, "add send()")
    with FakeGitHub(head_sha=head) as server:
        assert review(root, server, base).returncode == 0
        comments = server.writes[0][2]["comments"]
        added = next(c for c in comments if c.get("start_line") == 13)
        assert (added["line"], added["start_side"], added["side"]) == (16, "RIGHT", "RIGHT")
        suggested = "        data=body,\n        timeout=(3.05, 30),\n    )"
        assert (
            f"```suggestion\n    response = requests.put(\n        url,\n{suggested}\n```"
            in (added["body"])
        )


def test_fail_on_gates_on_introduced_findings_only(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    root.mkdir()
    init(root)
    base = commit(root, BASE, "base")
    commit(root, BASE + "\n# a comment only\n", "comment")
    with FakeGitHub(head_sha="x") as server:
        quiet_change = review(root, server, base, "--no-post", "--fail-on", "HIGH")
        assert quiet_change.returncode == 0, quiet_change.stderr  # only a pre-existing finding
        sarif = tmp_path / "review.sarif"
        commit(root, CHANGE, "risky")
        risky = review(root, server, base, "--no-post", "--fail-on", "HIGH", "--sarif", str(sarif))
        assert risky.returncode == 1
        assert server.writes == []
    assert json.loads(sarif.read_text())["version"] == "2.1.0"


def test_step_summary_and_event_payload(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    root.mkdir()
    init(root)
    base = commit(root, BASE, "base")
    head = commit(root, CHANGE, "change")
    event = tmp_path / "event.json"
    # A throwaway test input, not state: vibe-audit: ignore[checkpoint-non-atomic-write]
    event.write_text(
        json.dumps({"pull_request": {"number": PR}, "repository": {"full_name": REPO}})
    )
    step = tmp_path / "summary.md"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VIBE_AUDIT", "GITHUB_"))}
    with FakeGitHub(head_sha=head) as server:
        env.update(GITHUB_TOKEN="gh-test-token", GITHUB_EVENT_PATH=str(event),
                   GITHUB_STEP_SUMMARY=str(step), GITHUB_API_URL=server.url)  # fmt: skip
        result = subprocess.run(
            [sys.executable, "-m", "vibe_audit", "review", "--path", str(root), "--base", base,
             "--prompt", "reliability", "--quiet"],
            capture_output=True, text=True, env=env, timeout=120, check=False,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
        assert [w[0] for w in server.writes] == ["POST", "POST"]
    assert step.read_text().startswith("<!-- vibe-audit:summary -->\n## vibe-audit review")


# Three defects of one kind: fetch_project's call is re-indented under a new `if` (touched,
# there before: updated), fetch_user's is not touched (unchanged), run_ocr's is added (new).
TWO = """import requests


def fetch_project(base, project_id):
    return requests.get(f"{base}/api/projects/{project_id}").json()


def fetch_user(base, user_id):
    return requests.get(f"{base}/api/users/{user_id}").json()
"""
TWO_CHANGED = """import requests


def fetch_project(base, project_id):
    if project_id:
        return requests.get(f"{base}/api/projects/{project_id}").json()
    return None


def fetch_user(base, user_id):
    return requests.get(f"{base}/api/users/{user_id}").json()


def run_ocr(url, payload):
    response = requests.post(url, json=payload)
    return response.json()
"""


@pytest.mark.skipif(
    not SARIF_SCHEMA.is_file(),
    reason=f"SARIF schema not found at {SARIF_SCHEMA} (../shared absent)",
)
def test_review_sarif_marks_new_updated_and_unchanged(tmp_path: Path) -> None:
    """The review's SARIF says what the change did to each result (baselineState), so code
    scanning can show only what a pull request brought; the posted review agrees."""
    root = tmp_path / "repo"
    root.mkdir()
    init(root)
    base = commit(root, TWO, "base")
    head = commit(root, TWO_CHANGED, "guard the project fetch, add OCR")
    sarif = tmp_path / "review.sarif"
    with FakeGitHub(head_sha=head) as server:
        result = review(root, server, base, "--sarif", str(sarif))
        assert result.returncode == 0, result.stderr
        (_, _, posted), _summary = server.writes
    log = json.loads(sarif.read_text())
    jsonschema.validate(log, json.loads(SARIF_SCHEMA.read_text(encoding="utf-8")))
    results = log["runs"][0]["results"]
    by_line = {
        r["locations"][0]["physicalLocation"]["region"]["startLine"]: r["baselineState"]
        for r in results
        if r["ruleId"] == "http-call-without-timeout"
    }
    assert by_line == {6: "updated", 11: "unchanged", 15: "new"}
    assert all("baselineState" in r for r in results)  # on every result of the run
    # Inline comments go on both touched findings, the updated and the new; never on the
    # untouched one.
    assert sorted(c["line"] for c in posted["comments"]) == [6, 15]


def test_parse_diff_ranges() -> None:
    diff = (
        "diff --git a/x.py b/x.py\n--- a/x.py\n+++ b/x.py\n@@ -3,0 +4,2 @@\n+a\n+b\n"
        "@@ -10 +12 @@\n-c\n+d\n@@ -20,3 +21,0 @@\n-e\n"
        "diff --git a/gone.py b/gone.py\n--- a/gone.py\n+++ /dev/null\n@@ -1,2 +0,0 @@\n-x\n"
    )
    assert parse_diff(diff) == {"x.py": [(4, 5), (12, 12)]}


def test_staged_review_for_pre_commit(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    root.mkdir()
    init(root)
    commit(root, BASE, "base")
    (root / "client.py").write_text(CHANGE)
    git(root, "add", "client.py")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VIBE_AUDIT", "GITHUB_"))}
    result = subprocess.run(
        [sys.executable, "-m", "vibe_audit", "review", "--staged", "--path", str(root),
         "--model", "static", "--fail-on", "HIGH", "--quiet"],
        capture_output=True, text=True, env=env, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 1, result.stderr
    assert "`client.py:9`" in result.stdout and "`client.py:5`" in result.stdout


def test_review_skips_test_code_by_default_like_run(tmp_path: Path) -> None:
    """A change to a test file is not reviewed unless --include-tests."""
    root = tmp_path / "repo"
    root.mkdir()
    init(root)
    commit(root, BASE, "base")
    (root / "tests").mkdir()
    (root / "tests" / "test_client.py").write_text(CHANGE)
    git(root, "add", "tests/test_client.py")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VIBE_AUDIT", "GITHUB_"))}

    def staged(*extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "vibe_audit", "review", "--staged", "--path", str(root),
             "--model", "static", "--fail-on", "HIGH", "--quiet", *extra],
            capture_output=True, text=True, env=env, timeout=120, check=False,
        )  # fmt: skip

    default = staged()
    assert default.returncode == 0, default.stderr
    assert "tests/test_client.py" not in default.stdout
    included = staged("--include-tests")
    assert included.returncode == 1, included.stderr
    assert "`tests/test_client.py:" in included.stdout
