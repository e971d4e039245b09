from __future__ import annotations

import math

import pytest

from vibe_audit.chunker import tokens
from vibe_audit.chunker.secrets import redact


def test_estimate_is_used_and_named_when_the_encoding_is_not_cached(
    tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path))  # empty: nothing cached
    tokens._encoder.cache_clear()
    try:
        assert tokens.token_counter() == "estimate"
        text = "def f():\n    return 1\n"
        assert tokens.count_tokens(text) == math.ceil(len(text) / tokens.CHARS_PER_TOKEN)
        assert tokens.count_tokens_batch([text, ""]) == [tokens.count_tokens(text), 0]
    finally:
        tokens._encoder.cache_clear()


def test_tiktoken_is_used_when_its_encoding_is_cached() -> None:
    tokens._encoder.cache_clear()
    if tokens.token_counter() != "tiktoken":
        pytest.skip("cl100k_base is not in tiktoken's cache on this machine (offline default)")
    import tiktoken

    text = "conn = sqlite3.connect('app.db')\n"
    expected = len(tiktoken.get_encoding("cl100k_base").encode(text))
    assert tokens.count_tokens(text) == expected


@pytest.mark.parametrize(
    "line",
    [
        'password1_field_name="password1",',
        'AUTH_USER_MODEL = "auth.User"',
        'INTERNAL_RESET_SESSION_TOKEN = "_password_reset_token"',
        'token = os.environ["API_TOKEN"]',
        'SECRET_KEY = "${SECRET_KEY}"',
        'api_key = "<your-api-key>"',
        'AUTH_URL = "https://auth.example.com/token"',
    ],
)
def test_identifiers_placeholders_and_urls_are_not_redacted(line: str) -> None:
    assert redact(line) == (line, {})


@pytest.mark.parametrize(
    ("line", "kind"),
    [
        ('key = "AKIAIOSFODNN7EXAMPLE"', "aws-access-key-id"),
        ('gh = "ghp_' + "a" * 36 + '"', "github-token"),
        ('client = OpenAI(api_key="sk-proj-' + "x1" * 12 + '")', "openai-key"),
        ('anthropic_key = "sk-ant-' + "y2" * 12 + '"', "anthropic-key"),
        ('DB_PASSWORD = "s3cr3t-Pa55w0rd!"', "assigned-secret"),
        ('"client_secret": "9f8e7d6c5b4a3f2e"', "assigned-secret"),
    ],
)
def test_secrets_are_redacted_in_place(line: str, kind: str) -> None:
    redacted, counts = redact(line)
    assert counts == {kind: 1}
    assert f"[REDACTED:{kind}]" in redacted
    assert redacted.count("\n") == line.count("\n")
