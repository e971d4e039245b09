"""The `static` provider: the built-in rule engine. No model, no network."""

from __future__ import annotations

from vibe_audit.agent.providers.base import ProviderResult, ProviderSettings
from vibe_audit.errors import UserError
from vibe_audit.prompts import get_audit
from vibe_audit.rules.context import RepoContext
from vibe_audit.rules.engine import rules_for, run_rules
from vibe_audit.rules.environment import infer_assumptions
from vibe_audit.schemas import AuditId


class StaticProvider:
    name: str = "static"
    model: str | None = None

    def __init__(self, options: str = "", _settings: ProviderSettings | None = None) -> None:
        if options:
            raise UserError(f"the static provider takes no options, got 'static:{options}'")

    @property
    def description(self) -> str:
        return "the built-in rule engine (no model, no network)"

    def audit(
        self, repo: RepoContext, audits: list[AuditId], rule_set: str = "stable"
    ) -> ProviderResult:
        rules = rules_for(audits, repo, rule_set)
        # Only what a rule verified: a silent rule proves nothing about its items.
        checked = {
            item
            for rule in rules
            if rule.clears is not None
            for item in rule.clears(repo)
            if item in rule.meta.checklist
        }
        return ProviderResult(
            findings=run_rules(repo, audits, rules),
            assumptions={a: infer_assumptions(get_audit(a), repo.facts) for a in audits},
            checked_items=checked,
            model_reviewed=False,
        )
