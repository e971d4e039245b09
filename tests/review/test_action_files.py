"""The GitHub Action, the example workflow and the pre-commit hook are well-formed and safe."""

from __future__ import annotations

import re

import yaml

from tests.conftest import ROOT


def test_action_passes_inputs_through_the_environment_only() -> None:
    action = yaml.safe_load((ROOT / "action.yml").read_text())
    assert action["runs"]["using"] == "composite"
    steps = action["runs"]["steps"]
    scripts = [s["run"] for s in steps if "run" in s]
    assert scripts and all("${{" not in script for script in scripts)  # no injection into shell
    review = next(s for s in steps if "vibe-audit" in s.get("run", "") and "review" in s["run"])
    assert review["env"]["GITHUB_TOKEN"] == "${{ github.token }}"
    assert "--no-post" in review["run"]  # forks: report without writing to the PR
    cache = next(s for s in steps if s.get("uses", "").startswith("actions/cache@"))
    assert cache["with"]["path"] == "~/.cache/vibe-audit"
    assert set(action["inputs"]) >= {
        "model",
        "prompt",
        "fail-on",
        "max-cost",
        "sarif",
        "require-coverage",
    }


def test_example_workflow_runs_on_pull_request_with_minimal_permissions() -> None:
    text = (ROOT / "docs" / "examples" / "vibe-audit-workflow.yml").read_text()
    workflow = yaml.safe_load(text)
    triggers = workflow[True]  # YAML 1.1 reads the key `on` as a boolean
    assert list(triggers) == ["pull_request"]
    assert "pull_request_target:" not in text
    assert workflow["permissions"] == {
        "contents": "read", "pull-requests": "write", "security-events": "write",
    }  # fmt: skip
    steps = workflow["jobs"]["review"]["steps"]
    key = next(s for s in steps if "with" in s and "openai-api-key" in s["with"])
    assert re.search(r"head\.repo\.full_name == github\.repository", key["with"]["openai-api-key"])


def test_pre_commit_hook_audits_staged_changes_with_the_rules() -> None:
    (hook,) = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    assert hook["entry"].startswith("vibe-audit review --staged --model static")
    assert hook["pass_filenames"] is False


def test_gitlab_recipe_uses_only_real_options() -> None:
    from scripts.gen_docs import help_text

    recipe = yaml.safe_load((ROOT / "docs" / "examples" / "gitlab-ci.yml").read_text())
    commands = [
        line for job in recipe.values() for line in job["script"] if line.startswith("vibe-audit ")
    ]
    assert {c.split()[1] for c in commands} == {"run", "review"}
    for command in commands:
        options = set(re.findall(r"(--[a-z][a-z-]+)", command))
        usage = help_text([command.split()[1]])
        missing = [o for o in options if o not in usage]
        assert not missing, f"{command}: unknown option(s) {missing}"
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "vibe-audit run . --prompt all --fail-on HIGH --require-coverage 100" in readme
