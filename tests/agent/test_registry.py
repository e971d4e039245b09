"""Providers come from an explicit table (spec prefix -> module, imported on demand); batch
support is a capability a provider declares, not a check of its name."""

from __future__ import annotations

import subprocess
import sys

import pytest

from vibe_audit.agent.providers import ProviderSettings, get_provider
from vibe_audit.agent.providers.base import has_batch_api
from vibe_audit.agent.providers.registry import PROVIDERS, factory_for
from vibe_audit.errors import UserError


@pytest.mark.parametrize("prefix", sorted(PROVIDERS))
def test_every_row_of_the_table_names_a_factory(prefix: str) -> None:
    assert callable(factory_for(prefix))


def test_no_provider_module_is_imported_before_it_is_asked_for() -> None:
    code = (
        "import sys; from vibe_audit.agent.providers import get_provider; "
        "get_provider('static'); "
        "print(sorted(m for m in sys.modules if m.startswith('vibe_audit.agent.providers.')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = out.stdout
    assert "providers.static" in loaded
    for module in ("openai_chat", "anthropic_messages", "doubles"):
        assert f"providers.{module}" not in loaded, loaded


def test_batch_support_is_declared_by_the_provider() -> None:
    plan = ProviderSettings(spec="x", plan_only=True)
    assert has_batch_api(get_provider("openai:gpt-4.1-mini", plan))
    assert has_batch_api(get_provider("anthropic:claude-sonnet-4-6", plan))
    assert not has_batch_api(get_provider("ollama:llama3", plan))
    local = ProviderSettings(spec="x", plan_only=True)
    assert not has_batch_api(get_provider("openai-compat:http://127.0.0.1:9/v1#m", local))
    assert not has_batch_api(get_provider("static"))


def test_an_unknown_prefix_lists_the_known_ones() -> None:
    with pytest.raises(UserError, match=r"model specs start with: .*anthropic.*openai"):
        get_provider("gemini:pro")
