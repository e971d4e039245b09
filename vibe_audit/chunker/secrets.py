"""Redact secrets in source text before anything leaves the machine.

Each secret is replaced by ``[REDACTED:<kind>]`` in place: only the secret goes (the user
and host of a connection URL, the scheme of an Authorization header, the name a value is
assigned to all stay), and no line is added or removed, so line numbers stay exact. The
counts by kind go into the run stats.

What is covered (gitleaks' default rules are the reference; README "What leaves the
machine" lists the kinds and the measured coverage):
- well-known token formats: cloud keys (AWS, GCP, Azure AD, Alibaba), the major SaaS and
  developer-platform tokens (GitHub, GitLab, Slack, Stripe, OpenAI, Anthropic, npm, PyPI,
  Hugging Face, SendGrid, Twilio, Shopify, DigitalOcean, Databricks, Vault, Terraform,
  Grafana, Sentry, ...), webhook URLs, JWTs, private key blocks;
- credentials in URLs and DSNs (``scheme://user:password@host``, Go's
  ``user:password@tcp(host)``): the password goes, the user and host stay;
- ``password=`` / ``pwd=`` / ``AccountKey=`` / ``sig=`` / ``token=`` in connection strings
  (ODBC, JDBC, ADO.NET, libpq keyword strings) and URL query strings;
- Authorization headers in code (``Bearer ...``, ``Basic ...``, ``Token ...``), basic-auth
  pairs (``HTTPBasicAuth("u", "p")``, ``auth=("u", "p")``, ``curl -u user:pass``);
- literals assigned to secret-looking names (``DB_PASSWORD = "..."``, ``"api_key": "..."``,
  ``password := "..."``, ``setPassword("...")``, unquoted ``password: ...`` in YAML / INI /
  Dockerfiles / shell), with a Shannon-entropy gate for names that only say "key".

Not redacted, on purpose: placeholders (``password``, ``changeme``, ``<token>``,
``${DB_PASSWORD}``, ``{password}``, ``%s``, ``xxxx``), references (``os.environ[...]``,
identifiers, env-var names), paths, URLs without credentials, version strings.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

# (match, line) -> whether this match is a secret.
_Check = Callable[[re.Match[str], str], bool]


@dataclass(frozen=True)
class _Rule:
    kind: str
    pattern: re.Pattern[str]
    keywords: tuple[str, ...]  # lower-case; the rule runs on a line holding one of them
    groups: tuple[str, ...] = ()  # the secret: the first of these that matched, else all
    check: _Check | None = None  # None: every match is a secret


# Values that stand for a secret without being one.
# What a redacted secret reads as: REDACTED_MARK + its kind + "]".
REDACTED_MARK = "[REDACTED:"

_PLACEHOLDER = re.compile(
    r"^(?:pass(?:word|wd)?|pwd|pw|secret|changeme|change_me|changeit|test|token|"
    r"x{3,}|(?=.*[*\u2022])[*\u2022#/:. _-]+|\.{3,}|_+|-+|<[^>]*>|\[[^\]]*\]|\$\{?\w+\}?|\$\(\w+\)|"
    r"\{\{?\s*[\w.|() $-]*\}?\}|%\(?\w*\)?[sd]|%[A-Za-z_]+%|[:@$?]\w*|"
    r"your[-_ ]?\w*|my[-_]?(?:pass(?:word)?|secret|token|key)|example\w*|placeholder\w*|"
    r"dummy\w*|fake\w*|redacted|none|null|nil|true|false|undefined)$",
    re.IGNORECASE,
)
# A word, a dotted name or a module path ("auth.User", "_password_reset_token", "password1").
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z_.-]*[0-9]?$")
_ENV_NAME = re.compile(r"^[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+$")  # "DB_PASSWORD" names a variable
_VERSION = re.compile(r"^v?\d+(?:\.\d+)+(?:[-+.][\w.]+)?$|\d{4}-\d\d-\d\d")  # or a date
_TEMPLATE = re.compile(r"\$\{|\{\{|%\(|%s|#\{|\{\w*\}")
_PATH_OR_URL = re.compile(r"^(?:/|\./|\.\./|~/|[A-Za-z][\w+.-]*://|urn:)")

# Names: a secret-looking name, one whose value is the password itself, one that only says
# "key" (its value must look random), and names that merely mention a secret (gitleaks'
# generic-api-key allowlist, extended): URLs, ids, lengths, types, fields, hashes.
_SECRET_NAME = re.compile(
    r"passw|passphrase|pwd|secret|token|api[_-]?key|apikey|access[_-]?key|private[_-]?key|"
    r"auth|credential|creds",
    re.IGNORECASE,
)
_PASSWORD_NAME = re.compile(
    r"\w[_.-](?:pass|pwd|pw)$|passw(?:or)?d$|passphrase$|^(?:set|with)_?password$",
    re.IGNORECASE,
)
# An unquoted value that names something: a variable, an attribute path, a type.
_REFERENCE = re.compile(
    r"^(?:[A-Za-z_][A-Za-z_]*\d*|[a-z]+\d*(?:_[a-z0-9]+)+|[A-Z]+\d*(?:_[A-Z0-9]+)+|"
    r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+)$"
)
_KEY_NAME = re.compile(r"key", re.IGNORECASE)
_NOT_SECRET_NAME = re.compile(
    r"(?:author(?!i[sz]ation)\w*|csrf\w*|xsrf\w*|public\w*|publishable\w*|pub_?key\w*|monkey|turkey|keyboard\w*|"
    r"(?:token|api|auth|credentials?|secret|key|password)[_.-]?(?:endpoint|ur[il]s?|type|"
    r"file|path|dir|name|names|len|length|size|ttl|expir\w*|header|prefix|field|version|"
    r"format|label|hint|prompt|regex|pattern|policy|hash\w*|hasher\w*|reset\w*|min\w*|"
    r"max\w*|count|limit|validator\w*|input|placeholder|env|var)|"
    r"(?:token|api|credentials?|key)[_.-]?ids?|access[_.-]?(?:id|log|level|mode))$",
    re.IGNORECASE,
)


def _entropy(value: str) -> float:
    counts = Counter(value)
    return -sum(n / len(value) * math.log2(n / len(value)) for n in counts.values())


def _literal_secret(value: str) -> bool:
    """Whether a value found in a URL, connection string or header is a secret."""
    return bool(value) and not _PLACEHOLDER.match(value) and REDACTED_MARK not in value


def _token_like(value: str) -> bool:
    return _literal_secret(value) and not _IDENTIFIER.match(value)


def _value_is_secret(name: str, value: str) -> bool:
    """Whether a literal assigned to ``name`` is a secret."""
    if not _literal_secret(value) or any(c.isspace() for c in value):
        return False
    if _TEMPLATE.search(value) or _PATH_OR_URL.match(value) or _VERSION.search(value):
        return False
    bare = name.strip("\"'`$")
    if _NOT_SECRET_NAME.search(bare) or _ENV_NAME.match(value):
        return False
    if _PASSWORD_NAME.search(bare):  # the value is the password: any word but a placeholder
        return len(value) >= 4
    if _SECRET_NAME.search(bare):
        return len(value) >= 8 and not _IDENTIFIER.match(value) and not value.isdigit()
    if _KEY_NAME.search(bare):  # "SENTRY_KEY", "signingKey": only what looks random
        return (
            len(value) >= 16
            and sum(c.isdigit() for c in value) >= 2
            and any(c.isalpha() for c in value)
            and _entropy(value) >= 3.5
        )
    return False


# --- well-known formats: the whole match is the secret ------------------------------------
def _token(kind: str, regex: str, *keywords: str, flags: int = 0) -> _Rule:
    return _Rule(kind, re.compile(regex, flags), keywords)


_TOKENS: list[_Rule] = [
    _token("aws-access-key-id", r"\b(?:A3T[A-Z0-9]|AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}\b",
           "akia", "asia", "abia", "acca", "a3t"),
    _token("github-token", r"\b(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_\w{22,})\b",
           "ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"),
    _token("gitlab-token",
           r"\b(?:glpat|gldt|glrt|glptt|glcbt|glft|glimt|glagent|gloas|glsoat|glffct)-"
           r"[\w-]{20,}|\bGR1348941[\w-]{20,}",
           "glpat-", "gldt-", "glrt-", "glptt-", "glcbt-", "glft-", "glimt-", "glagent-",
           "gloas-", "glsoat-", "glffct-", "gr1348941"),
    _token("anthropic-key", r"\bsk-ant-[A-Za-z0-9_-]{20,}", "sk-ant-"),
    _token("openai-key", r"\bsk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{20,}", "sk-"),
    _token("slack-token",
           r"\bxox[abposre]-(?:\d-)?[A-Za-z0-9-]{10,}|\bxapp-\d-[A-Z0-9]+-\d+-[a-z0-9]+",
           "xox", "xapp-", flags=re.IGNORECASE),
    _token("slack-webhook",
           r"(?:https?://)?hooks\.slack\.com/(?:services|workflows|triggers)/[A-Za-z0-9+/]{20,}",
           "hooks.slack.com"),
    _token("teams-webhook",
           r"https://[\w.-]+\.webhook\.office\.com/webhookb2/[\w@-]+/IncomingWebhook/[\w/-]+",
           "webhook.office.com"),
    _token("discord-webhook",
           r"https://(?:ptb\.|canary\.)?discord(?:app)?\.com/api/webhooks/\d+/[\w-]{40,}",
           "discord"),
    _token("google-api-key", r"\bAIza[\w-]{35}(?![\w-])", "aiza"),
    _token("stripe-key", r"\b[rs]k_(?:live|test|prod)_[A-Za-z0-9]{10,99}\b",
           "k_live_", "k_test_", "k_prod_"),
    _token("grafana-token",
           r"\b(?:glc_[A-Za-z0-9+/]{32,400}={0,3}|glsa_[A-Za-z0-9]{32}_[A-Fa-f0-9]{8}|"
           r"eyJrIjoi[A-Za-z0-9]{70,400}={0,3})",
           "glc_", "glsa_", "eyjrijoi"),
    _token("jwt",
           r"\beyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}\.(?:[A-Za-z0-9_-]{10,}={0,2})?",
           "eyj"),
    _token("npm-token", r"\bnpm_[A-Za-z0-9]{36}\b", "npm_"),
    _token("pypi-token", r"\bpypi-AgEIcHlwaS5vcmc[\w-]{50,}", "pypi-ageichlwas5vcmc"),
    _token("huggingface-token", r"\b(?:hf_|api_org_)[A-Za-z]{34}\b", "hf_", "api_org_"),
    _token("sendgrid-key", r"\bSG\.[\w-]{16,32}\.[\w-]{30,50}", "sg."),
    _token("twilio-key", r"\bSK[0-9a-fA-F]{32}\b", "sk"),
    _token("digitalocean-token", r"\bdo[opr]_v1_[a-f0-9]{64}\b", "doo_v1_", "dop_v1_", "dor_v1_"),
    _token("shopify-token", r"\bshp(?:at|ca|pa|ss)_[a-fA-F0-9]{32}\b",
           "shpat_", "shpca_", "shppa_", "shpss_"),
    _token("databricks-token", r"\bdapi[a-f0-9]{32}(?:-\d)?\b", "dapi"),
    _token("doppler-token", r"\bdp\.pt\.[A-Za-z0-9]{43}", "dp.pt."),
    _token("dynatrace-token", r"\bdt0c01\.[A-Za-z0-9]{24}\.[A-Za-z0-9]{64}", "dt0c01."),
    _token("vault-token", r"\bhv[sb]\.[\w-]{90,300}", "hvs.", "hvb."),
    _token("terraform-token", r"\b[A-Za-z0-9]{14}\.atlasv1\.[\w=-]{60,70}", "atlasv1"),
    _token("pulumi-token", r"\bpul-[a-f0-9]{40}\b", "pul-"),
    _token("postman-key", r"\bPMAK-[a-fA-F0-9]{24}-[a-fA-F0-9]{34}\b", "pmak-"),
    _token("age-secret-key", r"AGE-SECRET-KEY-1[QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L]{58}",
           "age-secret-key-1"),
    _token("linear-key", r"\blin_api_[A-Za-z0-9]{40}\b", "lin_api_"),
    _token("planetscale-token", r"\bpscale_(?:tkn|oauth|pw)_[\w=.-]{32,64}", "pscale_"),
    _token("rubygems-token", r"\brubygems_[a-f0-9]{48}\b", "rubygems_"),
    _token("sentry-token", r"\bsntry[us]_[\w+/=]{40,}", "sntryu_", "sntrys_"),
    _token("square-token", r"\b(?:sq0atp-|sq0csp-|EAAA)[\w-]{22,60}", "sq0atp-", "sq0csp-", "eaaa"),
    _token("facebook-token", r"\bEAA[MC][A-Za-z0-9]{100,}", "eaam", "eaac"),
    _token("atlassian-token", r"\bATATT3[A-Za-z0-9_=-]{150,}", "atatt3"),
    _token("alibaba-access-key-id", r"\bLTAI[A-Za-z0-9]{20}\b", "ltai"),
    _token("artifactory-key", r"\bAKCp[A-Za-z0-9]{69}\b|\bcmVmd[A-Za-z0-9]{59}\b", "akcp", "cmvmd"),
    _token("azure-ad-client-secret",
           r"(?<![\w~.-])[A-Za-z0-9_~.]{3}\dQ~[A-Za-z0-9_~.-]{31,34}(?![\w~.-])", "q~"),
    _token("heroku-key", r"\bHRKU-AA[0-9A-Za-z_-]{58}", "hrku-aa"),
    _token("openshift-token", r"\bsha256~[\w-]{43}(?![\w-])", "sha256~"),
    _token("1password-token",
           r"\bops_eyJ[A-Za-z0-9+/]{250,}={0,3}|\bA3-[A-Z0-9]{6}-(?:[A-Z0-9]{11}|[A-Z0-9]{6}-"
           r"[A-Z0-9]{5})-[A-Z0-9]{5}-[A-Z0-9]{5}-[A-Z0-9]{5}\b",
           "ops_", "a3-"),
    _token("flyio-token", r"\b(?:fo1_[\w-]{43}|fm[12][ar]?_[A-Za-z0-9+/]{100,}={0,3})",
           "fo1_", "fm1", "fm2_"),
    _token("perplexity-key", r"\bpplx-[A-Za-z0-9]{48}\b", "pplx-"),
    _token("notion-token", r"\bntn_[0-9]{11}[A-Za-z0-9]{35}\b", "ntn_"),
    _token("prefect-token", r"\bpnu_[A-Za-z0-9]{36}\b", "pnu_"),
    _token("readme-token", r"\brdme_[a-z0-9]{70}\b", "rdme_"),
    _token("sendinblue-key", r"\bxkeysib-[a-f0-9]{64}-[A-Za-z0-9]{16}\b", "xkeysib-"),
    _token("shippo-token", r"\bshippo_(?:live|test)_[a-fA-F0-9]{40}\b", "shippo_"),
    _token("easypost-key", r"\bEZ[AT]K[A-Za-z0-9]{54}\b", "ezak", "eztk"),
    _token("duffel-token", r"\bduffel_(?:test|live)_[A-Za-z0-9_=-]{43}", "duffel_"),
    _token("frameio-token", r"\bfio-u-[A-Za-z0-9_=-]{64}", "fio-u-"),
    _token("clojars-token", r"\bCLOJARS_[A-Za-z0-9]{60}", "clojars_"),
    _token("infracost-token", r"\bico-[A-Za-z0-9]{32}\b", "ico-"),
    _token("scalingo-token", r"\btk-us-[\w-]{48}", "tk-us-"),
    _token("new-relic-key", r"\bNR(?:AK|II|JS)-[A-Za-z0-9-]{19,32}\b", "nrak-", "nrii-", "nrjs-"),
    _token("mailgun-key", r"\b(?:pub)?key-[a-f0-9]{32}\b", "key-"),
    _token("mailchimp-key", r"\b[a-f0-9]{32}-us\d{1,2}\b", "-us"),
    _token("telegram-bot-token", r"\b\d{8,10}:AA[A-Za-z0-9_-]{33}\b", ":aa"),
]  # fmt: skip


# --- credentials inside URLs, DSNs, connection strings and headers ------------------------
def _check_value(match: re.Match[str], line: str) -> bool:
    return _literal_secret(match.group("value"))


def _check_token_like(match: re.Match[str], line: str) -> bool:
    return _token_like(match.group("value"))


_QUOTES = ('"', "'", "`")


def _inside_string(line: str, position: int) -> bool:
    before = line[:position].replace("\\\\", "").replace('\\"', "").replace("\\'", "")
    return any(before.count(q) % 2 for q in _QUOTES)


_CONN_CONTEXT = re.compile(
    r"(?i)(?<![\w.-])(?:host|hostname|hostaddr|server|user|username|uid|user id|dbname|"
    r"database|data source|initial catalog|port|sslmode|driver|dsn)\s*="
)
_FORMAT_FIELD = re.compile(r"[\w.\[\]]*(?:![rsa])?(?::[^{}]*)?")
_PASSWORD_KEYS = frozenset({"password", "passwd", "pwd", "pass"})


def _check_connection(match: re.Match[str], line: str) -> bool:
    start = match.start()
    value = match.group("braced") or match.group("squoted") or match.group("bare") or ""
    if match.group("braced") is not None and _FORMAT_FIELD.fullmatch(value):
        return False  # "{password}": a format field, not ODBC's {braced value}
    if not _literal_secret(value):
        return False
    previous = line[start - 1] if start else ""
    if previous and previous in "?&;":  # a URL query or a connection string's key=value list
        return True
    if match.group("name").lower() not in _PASSWORD_KEYS:
        return False
    # libpq / keyword strings: "host=db user=app password=...": inside a string literal,
    # or (a line of a multi-line string) next to other connection keywords.
    return _inside_string(line, start) or (
        not any(c in line for c in "\"'`(),") and bool(_CONN_CONTEXT.search(line))
    )


_URL_RULES: list[_Rule] = [
    # scheme://user:password@host: the password goes; "@" may occur in it (last one wins).
    _Rule(
        "url-password",
        re.compile(
            r"\b[A-Za-z][A-Za-z0-9+.-]{1,30}://[^\s:/?#@\"'`<>\[\]{}()]{0,128}:"
            r"(?P<value>[^\s/?#\"'`<>]{1,256})@(?=[^\s\"'`<>@/])"
        ),
        ("://",),
        ("value",),
        _check_value,
    ),
    # Go's MySQL DSN: user:password@tcp(host:3306)/db
    _Rule(
        "url-password",
        re.compile(
            r"(?<![\w.:/-])[\w.-]{1,64}:(?P<value>[^\s@/\"'`:()]{1,200})@(?:tcp6?|udp|unix)\("
        ),
        ("@tcp(", "@tcp6(", "@udp(", "@unix("),
        ("value",),
        _check_value,
    ),
    _Rule(
        "connection-string-password",
        re.compile(
            r"(?i)(?<![\w.-])(?P<name>password|passwd|pwd|pass|accountkey|sharedaccesskey|"
            r"sig|access_token|refresh_token|auth_token|token|api_key|apikey|api-key|"
            r"client_secret|secret)\s*=\s*(?:\{(?P<braced>[^}\n]{1,200})\}|"
            r"'(?P<squoted>[^'\s]{1,200})'|(?P<bare>[^\s;'\"`&,)<>#]{1,200}))"
        ),
        (
            "password",
            "passwd",
            "pwd",
            "pass=",
            "accountkey",
            "sharedaccesskey",
            "sig=",
            "token=",
            "api_key",
            "apikey",
            "api-key",
            "secret=",
        ),
        ("braced", "squoted", "bare"),
        _check_connection,
    ),
    # "Authorization": "Bearer <token>" (anywhere), Basic / Token / ... on an Authorization
    # line; the scheme stays.
    _Rule(
        "authorization-header",
        re.compile(r"\b(?:[Bb]earer|BEARER)\s+(?P<value>[A-Za-z0-9._~+/=-]{8,})"),
        ("bearer",),
        ("value",),
        _check_token_like,
    ),
    _Rule(
        "authorization-header",
        re.compile(
            r"(?i)\b(?:basic|token|digest|bot|apikey|api-key|sso-key|ssws|jwt|oauth|key)"
            r"\s+(?P<value>[A-Za-z0-9._~+/=:-]{8,})"
        ),
        ("authoriz",),
        ("value",),
        _check_token_like,
    ),
    _Rule(
        "basic-auth",
        re.compile(
            r"(?:\b(?:HTTPBasicAuth|HTTPDigestAuth|HTTPProxyAuth|BasicAuth|DigestAuth)\s*\(|"
            r"\bauth\s*=\s*[(\[])\s*(?:(?:user(?:name)?|login)\s*=\s*)?(?P<q1>[\"'])"
            r"[^\"'\n]{1,100}(?P=q1)\s*,\s*(?:password\s*=\s*)?(?P<q2>[\"'])"
            r"(?P<value>[^\"'\n]{1,200})(?P=q2)"
        ),
        ("auth",),
        ("value",),
        _check_value,
    ),
    _Rule(
        "basic-auth",
        re.compile(
            r"\bcurl\b.*?\s(?:-u|--user)(?:=|\s+)[\"']?[^\s:\"']{1,100}:(?P<value>[^\s\"']{1,200})"
        ),
        ("curl",),
        ("value",),
        _check_value,
    ),
]


# --- literals assigned to secret-looking names --------------------------------------------
# NAME = "literal" / NAME: "literal" / "name": "literal" / name := "..." / 'name' => '...' /
# name: str = "..." / ("NAME", "literal") / setPassword("...").
_ASSIGNED = re.compile(
    r"""(?<![\w.$-])(?P<name>[\w.$-]+)(?P<sep>(?P<nq>["'])?\s*"""
    r"""(?::\s*[\w.\[\]|, ]{1,40}?\s*=|=>|:=|\?=|:|=|\(|,)\s*(?P<prefix>[bruf]|rb|br|fr|rf)?)"""
    r"""(?P<quote>["'`])(?P<value>[^"'`\n]{1,200})(?P=quote)""",
    re.IGNORECASE,
)


def _check_assigned(match: re.Match[str], line: str) -> bool:
    name, sep = match.group("name"), match.group("sep").strip()
    value, prefix = match.group("value"), (match.group("prefix") or "").lower()
    if "r" in prefix or ("f" in prefix and "{" in value):
        return False  # a regular expression, a format string
    # ("API_TOKEN", "value") pairs, not f(password, "x") or lists of words
    pair = bool(match.group("nq")) and bool(_ENV_NAME.match(name)) and not _IDENTIFIER.match(value)
    if sep.endswith(",") and not pair:
        return False
    if sep.endswith("(") and not _PASSWORD_NAME.search(name.rsplit(".", 1)[-1]):
        return False  # only setPassword("...") / with_password("...") calls
    return _value_is_secret(name.rsplit(".", 1)[-1], value)


# Unquoted, a whole line: YAML / INI / properties / Dockerfile ENV / shell export.
_UNQUOTED = re.compile(
    r"""^\s*(?:-\s+|export\s+|ENV\s+|ARG\s+|set\s+|readonly\s+|declare\s+(?:-\w+\s+)?)?"""
    r"""["']?(?P<name>[\w.$-]+)["']?\s*(?::=|=|:)\s*"""
    r"""(?P<value>[^\s"'`#;,(){}\[\]<>|!&*][^\s"'`;,(){}\[\]<>]*)\s*;?\s*(?:(?:#|//).*)?$"""
)


def _check_unquoted(match: re.Match[str], line: str) -> bool:
    value, name = match.group("value"), match.group("name").rsplit(".", 1)[-1]
    if _REFERENCE.match(value):  # password = other_variable, key: SecretStr
        return False
    if value.replace("_", "").replace(".", "").isdigit() and not _PASSWORD_NAME.search(name):
        return False
    return _value_is_secret(name, value)


_NAME_KEYWORDS = (
    "passw", "passphrase", "pwd", "pass", "pw", "secret", "token", "api_key", "api-key",
    "apikey", "access_key", "access-key", "accesskey", "private_key", "private-key",
    "privatekey", "auth", "credential", "creds", "key",
)  # fmt: skip

_ASSIGNED_RULES: list[_Rule] = [
    _Rule("assigned-secret", _ASSIGNED, _NAME_KEYWORDS, ("value",), _check_assigned),
    _Rule("assigned-secret", _UNQUOTED, _NAME_KEYWORDS, ("value",), _check_unquoted),
]

_RULES: list[_Rule] = _TOKENS + _URL_RULES + _ASSIGNED_RULES
_KEYWORDS: tuple[str, ...] = tuple(sorted({k for rule in _RULES for k in rule.keywords}))


def _trie(words: tuple[str, ...]) -> str:
    """A regular expression matching any of the words, longest first, as a prefix tree (the
    regex engine then rejects most positions on their first character)."""
    root: dict[str, dict[str, Any]] = {}
    for word in words:
        node = root
        for char in word:
            node = node.setdefault(char, {})
        node[""] = {}

    def build(node: dict[str, Any]) -> str:
        branches = [re.escape(c) + build(child) for c, child in sorted(node.items()) if c]
        if not branches:
            return ""
        body = "(?:" + "|".join(branches) + ")"
        return body + "?" if "" in node else body

    return build(root)


# One scan of the lower-cased text finds the lines worth the regexes (a keyword holds no
# newline, so a line holding one always holds a match). On a line, the longest keyword at
# each position, with every keyword inside it, says which rules run there.
_TRIGGER = re.compile(_trie(_KEYWORDS))
_TRIGGER_AT = re.compile(f"(?=({_trie(_KEYWORDS)}))")
_RULES_BY_KEYWORD: dict[str, frozenset[int]] = {
    keyword: frozenset(i for i, rule in enumerate(_RULES) for k in rule.keywords if k in keyword)
    for keyword in _KEYWORDS
}

# Private keys span lines: BEGIN .. END (any body in between), or an unterminated BEGIN
# followed by base64 lines (each replaced).
_KEY_MARK = r"[ A-Z0-9_-]{0,100}PRIVATE KEY(?: BLOCK)?-----"
_PRIVATE_KEY = re.compile(
    rf"-----BEGIN{_KEY_MARK}(?:[A-Za-z0-9+/=\s\\\"',:._-]{{0,40000}}?-----END{_KEY_MARK})?"
)
_KEY_BODY_LINE = re.compile(r"^[\s\"'`]*[A-Za-z0-9+/=\\]{16,}[\s\"'`,+;\\n]*$")


def _candidate_lines(text: str) -> list[tuple[int, int]]:
    """(start, end) offsets of the lines that contain a keyword, in order."""
    lower = text.lower()
    spans: list[tuple[int, int]] = []
    position = 0
    while (match := _TRIGGER.search(lower, position)) is not None:
        start = lower.rfind("\n", 0, match.start()) + 1
        end = lower.find("\n", match.end())
        end = len(lower) if end == -1 else end
        spans.append((start, end))
        position = end
    return spans


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
    """Each line of a key block replaced. A BEGIN line with no END is a key only when base64
    lines follow it (taken while they last); alone it is a marker string in code."""
    pieces, cursor = [], 0
    for match in _PRIVATE_KEY.finditer(text):
        if match.start() < cursor:
            continue
        end = match.end()
        if "-----END" not in match.group(0):
            body_end, position = None, text.find("\n", end)
            while position != -1:
                following = text.find("\n", position + 1)
                stop = len(text) if following == -1 else following
                if not _KEY_BODY_LINE.match(text[position + 1 : stop]):
                    break
                body_end, position = stop, following
            if body_end is None:
                continue
            end = body_end
        counts["private-key"] += 1
        block = text[match.start() : end]
        pieces += [text[cursor : match.start()]]
        pieces.append("\n".join(f"{REDACTED_MARK}private-key]" for _ in block.split("\n")))
        cursor = end
    if not pieces:
        return text
    pieces.append(text[cursor:])
    return "".join(pieces)


def _redact_line(line: str, counts: Counter[str]) -> str:
    lower = line.lower()
    selected: set[int] = set()
    for found in _TRIGGER_AT.finditer(lower):
        selected |= _RULES_BY_KEYWORD[found.group(1)]
    for index in sorted(selected):
        line = _apply(_RULES[index], line, counts)
    return line


def _apply(rule: _Rule, line: str, counts: Counter[str]) -> str:
    """The line with this rule's secrets replaced. A match that is no secret is passed over
    from where its value starts, so an overlapping match is still found (the default in
    ``getenv("API_TOKEN", "<default>")``)."""
    pieces, cursor, position = [], 0, 0
    while position <= len(line):
        match = rule.pattern.search(line, position)
        if match is None:
            break
        group = next((g for g in rule.groups if match.group(g) is not None), None)
        start, end = match.span(group) if group else match.span()
        if rule.check is not None and not rule.check(match, line):
            position = start if start > match.start() else match.start() + 1
            continue
        counts[rule.kind] += 1
        pieces += [line[cursor:start], f"{REDACTED_MARK}{rule.kind}]"]
        cursor = end
        position = max(match.end(), match.start() + 1)
    if not pieces:
        return line
    pieces.append(line[cursor:])
    return "".join(pieces)
