"""Redact secrets in source text before anything leaves the machine.

Each match is replaced by ``[REDACTED:<kind>]`` (line structure preserved, so line numbers
stay exact). The counts by kind go into the run stats. Patterns: well-known token formats,
private key blocks, and string literals assigned to secret-looking names.
"""

from __future__ import annotations

import re
from collections import Counter

# Well-known formats: the whole match is the secret.
_TOKENS: list[tuple[str, re.Pattern[str]]] = [
    ("aws-access-key-id", re.compile(r"\b(?:AKIA|ASIA|ABIA|ACCA)[0-9A-Z]{16}\b")),
    ("github-token", re.compile(r"\b(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_\w{40,})\b")),
    ("anthropic-key", re.compile(r"\bsk-ant-[A-Za-z0-9_-]{20,}")),
    ("openai-key", re.compile(r"\bsk-(?:proj-|svcacct-)?[A-Za-z0-9_-]{20,}")),
    ("slack-token", re.compile(r"\bxox[abposr]-[A-Za-z0-9-]{10,}")),
    ("google-api-key", re.compile(r"\bAIza[0-9A-Za-z_-]{35}\b")),
    ("stripe-key", re.compile(r"\b[rs]k_(?:live|test)_[A-Za-z0-9]{16,}\b")),
    ("jwt", re.compile(r"\beyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}")),
]  # fmt: skip

_PRIVATE_KEY = re.compile(
    r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY-----.*?(?:-----END (?:[A-Z0-9]+ )*PRIVATE KEY-----|\Z)",
    re.DOTALL,
)

# NAME = "literal" / NAME: "literal" / "name": "literal" where NAME looks secret.
_ASSIGNED = re.compile(
    r"""(?P<name>[A-Za-z0-9_.-]*(?:password|passwd|secret|token|api[_-]?key|apikey|access[_-]?key|private[_-]?key|client[_-]?secret|auth)[A-Za-z0-9_.-]*)"""
    r"""(?P<sep>["']?\s*[:=]\s*(?:[bru]|rb|br)?)(?P<quote>["'])(?P<value>[^"'\n]{8,})(?P=quote)""",
    re.IGNORECASE,
)  # fmt: skip
# Values that are plainly not secrets: placeholders, env lookups, paths, format strings.
_NOT_SECRET = re.compile(
    r"^(?:\$\{?[A-Z_]+\}?|<[^>]+>|\{[^}]*\}|x{4,}|\*{4,}|changeme|your[-_].*|example.*|"
    r"\[REDACTED:[a-z-]+\]|.*\s.*|/.*|https?://.*)$",
    re.IGNORECASE,
)


def redact(text: str) -> tuple[str, Counter[str]]:
    """The text with secrets replaced, and how many of each kind were replaced."""
    counts: Counter[str] = Counter()

    def private_key(match: re.Match[str]) -> str:
        counts["private-key"] += 1
        lines = match.group(0).split("\n")
        return "\n".join("[REDACTED:private-key]" for _ in lines)

    text = _PRIVATE_KEY.sub(private_key, text)
    for kind, pattern in _TOKENS:

        def token(match: re.Match[str], kind: str = kind) -> str:
            counts[kind] += 1
            return f"[REDACTED:{kind}]"

        text = pattern.sub(token, text)

    def assigned(match: re.Match[str]) -> str:
        value = match.group("value")
        if _NOT_SECRET.match(value):
            return match.group(0)
        counts["assigned-secret"] += 1
        quote = match.group("quote")
        return f"{match.group('name')}{match.group('sep')}{quote}[REDACTED:assigned-secret]{quote}"

    return _ASSIGNED.sub(assigned, text), counts
