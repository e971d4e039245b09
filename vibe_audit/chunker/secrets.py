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

# NAME = "literal" / NAME: "literal" / "name": "literal"; the name must look secret.
_ASSIGNED = re.compile(
    r"""(?<![\w.-])(?P<name>[\w.-]+)(?P<sep>["']?\s*[:=]\s*(?:[bru]|rb|br)?)"""
    r"""(?P<quote>["'])(?P<value>[^"'\n]{8,})(?P=quote)"""
)
_SECRET_NAME = re.compile(
    r"passw|secret|token|api[_-]?key|apikey|access[_-]?key|private[_-]?key|auth", re.IGNORECASE
)
# Values that are plainly not secrets: placeholders, env lookups, paths, format strings, and
# identifier-like words ("password1", "auth.User", "_password_reset_token"). The price: a
# letters-only password assigned in code is not caught by this pattern.
_NOT_SECRET = re.compile(
    r"^(?:\$\{?[A-Z_]+\}?|<[^>]+>|\{[^}]*\}|x{4,}|\*{4,}|changeme|your[-_].*|example.*|"
    r"\[REDACTED:[a-z-]+\]|.*\s.*|/.*|https?://.*|[A-Za-z_][A-Za-z_.-]*[0-9]?)$",
    re.IGNORECASE,
)


# Substring search (C speed) on the lower-cased text finds the lines worth the regexes: every
# pattern above starts with one of these, and a secret-looking name contains one.
_KEYWORDS = (
    "ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_", "sk-", "xox", "k_live_", "k_test_",
    "passw", "secret", "token", "api_key", "api-key", "apikey", "access_key", "access-key",
    "private_key", "private-key", "auth",
)  # fmt: skip
_CASED_KEYWORDS = ("AKIA", "ASIA", "ABIA", "ACCA", "AIza", "eyJ")  # searched as written


def _candidate_lines(text: str) -> list[tuple[int, int]]:
    """(start, end) offsets of the lines that contain a keyword, in order."""
    lower = text.lower()
    spans: set[tuple[int, int]] = set()
    for haystack, keywords in ((lower, _KEYWORDS), (text, _CASED_KEYWORDS)):
        for keyword in keywords:
            position = haystack.find(keyword)
            while position != -1:
                start = haystack.rfind("\n", 0, position) + 1
                end = haystack.find("\n", position)
                end = len(haystack) if end == -1 else end
                spans.add((start, end))
                position = haystack.find(keyword, end)
    return sorted(spans)


def redact(text: str) -> tuple[str, Counter[str]]:
    """The text with secrets replaced, and how many of each kind were replaced."""
    counts: Counter[str] = Counter()
    if "PRIVATE KEY" in text:
        text = _redact_private_keys(text, counts)
    pieces, cursor = [], 0
    for start, end in _candidate_lines(text):
        line = text[start:end]
        redacted = _redact_line(line, counts)
        if redacted != line:
            pieces += [text[cursor:start], redacted]
            cursor = end
    if not pieces:
        return text, counts
    pieces.append(text[cursor:])
    return "".join(pieces), counts


def _redact_private_keys(text: str, counts: Counter[str]) -> str:
    def private_key(match: re.Match[str]) -> str:
        counts["private-key"] += 1
        lines = match.group(0).split("\n")
        return "\n".join("[REDACTED:private-key]" for _ in lines)

    return _PRIVATE_KEY.sub(private_key, text)


def _redact_line(text: str, counts: Counter[str]) -> str:
    for kind, pattern in _TOKENS:

        def token(match: re.Match[str], kind: str = kind) -> str:
            counts[kind] += 1
            return f"[REDACTED:{kind}]"

        text = pattern.sub(token, text)

    def assigned(match: re.Match[str]) -> str:
        value = match.group("value")
        if not _SECRET_NAME.search(match.group("name")) or _NOT_SECRET.match(value):
            return match.group(0)
        counts["assigned-secret"] += 1
        quote = match.group("quote")
        return f"{match.group('name')}{match.group('sep')}{quote}[REDACTED:assigned-secret]{quote}"

    return _ASSIGNED.sub(assigned, text)
