"""Planted secrets, one per gitleaks-style kind, and near misses that must stay as written.

Reference: gitleaks' default rules (gitleaks/gitleaks config/gitleaks.toml). Each plant names
the gitleaks rule id it stands for (or, for kinds gitleaks has no rule for, a descriptive id),
the line of code it sits in and the secret value. Values are generated from a seeded RNG at
import time in the shape each rule matches, so no secret-shaped literal is stored in the
repository (secret scanners stay quiet) and the corpus is the same on every run.

``PLANTS`` must all be redacted; ``KNOWN_GAPS`` are kinds checked and not covered (each with
the reason), counted in the figure the README reports.
"""

from __future__ import annotations

import random
import string
from dataclasses import dataclass

_rng = random.Random(20260420)
UPPER, LOWER, DIGITS = string.ascii_uppercase, string.ascii_lowercase, string.digits
ALNUM = UPPER + LOWER + DIGITS
HEX = "0123456789abcdef"


def r(n: int, alphabet: str = ALNUM) -> str:
    return "".join(_rng.choice(alphabet) for _ in range(n))


@dataclass(frozen=True)
class Plant:
    kind: str  # the gitleaks rule id (or a descriptive id for kinds gitleaks lacks)
    file: str  # which planted file: "py" (Python), "yaml", "ini", "go", "js"
    line: str  # the line, with {s} where the secret goes
    secret: str

    @property
    def text(self) -> str:
        return self.line.format(s=self.secret)


def _p(kind: str, line: str, secret: str, file: str = "py") -> Plant:
    return Plant(kind, file, line, secret)


_JWT = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiI"
    + r(24)
    + "IiwiaWF0IjoxNTE2MjM5MDIyfQ."
    + r(43)
)
_PEM_BODY = [r(64, ALNUM + "+/") for _ in range(4)]

PLANTS: list[Plant] = [
    # cloud keys
    _p("aws-access-token", 'client.configure("{s}")', "AKIA" + r(16, UPPER + "234567")),
    _p("gcp-api-key", 'client.configure("{s}")', "AIza" + r(35, ALNUM + "_-")),
    _p("azure-ad-client-secret", 'client.configure("{s}")', r(3) + "8Q~" + r(34, ALNUM + "_~.")),
    _p("alibaba-access-key-id", 'client.configure("{s}")', "LTAI" + r(20)),
    _p("azure-storage-account-key",  # not a gitleaks rule: a connection-string kind
       'STORAGE = "DefaultEndpointsProtocol=https;AccountName=acct;AccountKey={s};'
       'EndpointSuffix=core.windows.net"', r(86, ALNUM + "+/") + "=="),
    _p("azure-sas-signature", 'BLOB = "https://acct.blob.core.windows.net/c/x?sv=2022-11-02&sig={s}"',
       r(40) + "%3D"),
    # source hosting and package registries
    _p("github-pat", 'client.configure("{s}")', "ghp_" + r(36)),
    _p("github-fine-grained-pat", 'client.configure("{s}")', "github_pat_" + r(82, ALNUM + "_")),
    _p("github-oauth", 'client.configure("{s}")', "gho_" + r(36)),
    _p("github-app-token", 'client.configure("{s}")', "ghs_" + r(36)),
    _p("github-refresh-token", 'client.configure("{s}")', "ghr_" + r(36)),
    _p("gitlab-pat", 'client.configure("{s}")', "glpat-" + r(20)),
    _p("gitlab-deploy-token", 'client.configure("{s}")', "gldt-" + r(20)),
    _p("gitlab-rrt", 'client.configure("{s}")', "GR1348941" + r(20)),
    _p("npm-access-token", 'client.configure("{s}")', "npm_" + r(36)),
    _p("pypi-upload-token", 'client.configure("{s}")', "pypi-AgEIcHlwaS5vcmc" + r(70)),
    _p("rubygems-api-token", 'client.configure("{s}")', "rubygems_" + r(48, HEX)),
    _p("artifactory-api-key", 'client.configure("{s}")', "AKCp" + r(69)),
    _p("clojars-api-token", 'client.configure("{s}")', "CLOJARS_" + r(60, LOWER + DIGITS)),
    # chat and webhooks
    _p("slack-bot-token", 'client.configure("{s}")',
       "xoxb-" + r(11, DIGITS) + "-" + r(12, DIGITS) + "-" + r(24)),
    _p("slack-user-token", 'client.configure("{s}")',
       "xoxp-" + r(11, DIGITS) + "-" + r(11, DIGITS) + "-" + r(12, DIGITS) + "-" + r(32, HEX)),
    _p("slack-app-token", 'client.configure("{s}")',
       "xapp-1-A" + r(10, UPPER + DIGITS) + "-" + r(13, DIGITS) + "-" + r(64, HEX)),
    _p("slack-webhook-url", 'client.configure("{s}")',
       "https://hooks.slack.com/services/T" + r(8, UPPER + DIGITS) + "/B" + r(8, UPPER + DIGITS)
       + "/" + r(24)),
    _p("microsoft-teams-webhook", 'client.configure("{s}")',
       "https://acme.webhook.office.com/webhookb2/" + r(8, HEX) + "-1234-5678-9abc-" + r(12, HEX)
       + "@" + r(8, HEX) + "-1234-5678-9abc-" + r(12, HEX) + "/IncomingWebhook/" + r(32, HEX)
       + "/" + r(8, HEX) + "-1234-5678-9abc-" + r(12, HEX)),
    _p("telegram-bot-api-token", 'TELEGRAM_BOT = "{s}"', r(9, DIGITS) + ":AA" + r(33)),
    _p("discord-api-token", 'DISCORD_BOT_TOKEN = "{s}"', r(64, HEX)),
    # payments, e-mail, SaaS
    _p("stripe-access-token", 'client.configure("{s}")', "sk_live_" + r(24)),
    _p("square-access-token", 'client.configure("{s}")', "sq0atp-" + r(22, ALNUM + "_-")),
    _p("shopify-access-token", 'client.configure("{s}")', "shpat_" + r(32, HEX)),
    _p("sendgrid-api-token", 'client.configure("{s}")', "SG." + r(22) + "." + r(43)),
    _p("mailgun-private-api-token", 'mailgun.init("{s}")', "key-" + r(32, HEX)),
    _p("mailchimp-api-key", 'mailchimp.init("{s}")', r(32, HEX) + "-us6"),
    _p("sendinblue-api-token", 'client.configure("{s}")',
       "xkeysib-" + r(64, HEX) + "-" + r(16)),
    _p("twilio-api-key", 'client.configure("{s}")', "SK" + r(32, HEX)),
    _p("shippo-api-token", 'client.configure("{s}")', "shippo_live_" + r(40, HEX)),
    _p("postman-api-token", 'client.configure("{s}")', "PMAK-" + r(24, HEX) + "-" + r(34, HEX)),
    _p("linear-api-key", 'client.configure("{s}")', "lin_api_" + r(40)),
    _p("notion-api-token", 'client.configure("{s}")', "ntn_" + r(11, DIGITS) + r(35)),
    _p("facebook-page-access-token", 'client.configure("{s}")', "EAAM" + r(120)),
    _p("atlassian-api-token", 'client.configure("{s}")', "ATATT3" + r(186)),
    # AI providers
    _p("openai-api-key", 'client.configure("{s}")', "sk-proj-" + r(58) + "T3BlbkFJ" + r(58)),
    _p("anthropic-api-key", 'client.configure("{s}")',
       "sk-ant-api03-" + r(93, ALNUM + "_-") + "AA"),
    _p("huggingface-access-token", 'client.configure("{s}")', "hf_" + r(34, UPPER + LOWER)),
    _p("perplexity-api-key", 'client.configure("{s}")', "pplx-" + r(48)),
    # infrastructure and observability
    _p("digitalocean-pat", 'client.configure("{s}")', "dop_v1_" + r(64, HEX)),
    _p("databricks-api-token", 'client.configure("{s}")', "dapi" + r(32, HEX)),
    _p("vault-service-token", 'client.configure("{s}")', "hvs." + r(95, ALNUM + "_-")),
    _p("hashicorp-tf-api-token", 'client.configure("{s}")', r(14) + ".atlasv1." + r(64)),
    _p("pulumi-api-token", 'client.configure("{s}")', "pul-" + r(40, HEX)),
    _p("doppler-api-token", 'client.configure("{s}")', "dp.pt." + r(43)),
    _p("dynatrace-api-token", 'client.configure("{s}")', "dt0c01." + r(24) + "." + r(64)),
    _p("grafana-service-account-token", 'client.configure("{s}")',
       "glsa_" + r(32) + "_" + r(8, HEX)),
    _p("sentry-user-token", 'client.configure("{s}")', "sntryu_" + r(64, HEX)),
    _p("new-relic-user-api-key", 'client.configure("{s}")', "NRAK-" + r(27, UPPER + DIGITS)),
    _p("heroku-api-key-v2", 'client.configure("{s}")', "HRKU-AA" + r(58)),
    _p("planetscale-password", 'client.configure("{s}")', "pscale_pw_" + r(43)),
    _p("age-secret-key", 'client.configure("{s}")',
       "AGE-SECRET-KEY-1" + r(58, "QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L")),
    # tokens and keys in general
    _p("jwt", 'SESSION = "{s}"', _JWT),
    _p("private-key",
       '    "-----BEGIN RSA PRIVATE KEY-----\\n{s}\\n-----END RSA PRIVATE KEY-----\\n"',
       _PEM_BODY[0]),
    _p("private-key-pem-block", 'SSH_KEY = """{s}"""', "\n".join(
        ["-----BEGIN OPENSSH PRIVATE KEY-----", *_PEM_BODY[1:], "-----END OPENSSH PRIVATE KEY-----"]
    )),
    _p("generic-api-key", 'settings = {{"api_key": "{s}"}}', r(32)),
    _p("generic-api-key-entropy", 'DATADOG_APP_KEY = "{s}"', r(40, HEX)),
    _p("generic-secret", 'SECRET_KEY = "{s}"', r(50, ALNUM + "!@#%^&*(-_=+)")),
    _p("generic-client-secret", 'OAUTH = dict(client_id="web", client_secret="{s}")', r(40)),
    _p("generic-getenv-default", 'token = os.getenv("API_TOKEN", "{s}")', r(30)),
    _p("database-password", 'DB_PASSWORD = "{s}"', r(16)),
    _p("password-letters-only", 'password = "{s}"', r(10, LOWER)),
    _p("password-typed", 'admin_password: str = "{s}"', r(12)),
    _p("password-setter", 'user.setPassword("{s}")', r(12), file="js"),
    _p("password-go", 'password := "{s}"', r(14), file="go"),
    _p("password-yaml", "  password: {s}", r(14), file="yaml"),
    _p("password-ini", "password = {s}", r(14), file="ini"),
    _p("kubernetes-secret-yaml", "  db-password: {s}", r(24, ALNUM + "+/") + "==", file="yaml"),
    # credentials in URLs and DSNs
    _p("url-postgres", 'DATABASE_URL = "postgres://admin:{s}@db:5432/prod"', r(14)),
    _p("url-postgresql-at-sign", 'PG = "postgresql://app:{s}@db.internal/app"', r(6) + "@" + r(6)),
    _p("url-mysql", 'MYSQL = "mysql+pymysql://root:{s}@mysql:3306/app"', r(12)),
    _p("url-redis-no-user", 'REDIS_URL = "redis://:{s}@cache:6379/0"', r(20)),
    _p("url-amqp", "BROKER = 'amqp://worker:{s}@rabbit:5672/vhost'", r(12)),
    _p("url-mongodb-srv", 'MONGO = "mongodb+srv://app:{s}@cluster0.abcde.mongodb.net/db"', r(16)),
    _p("url-https-token", 'REPO = "https://deploy:{s}@git.internal.example/org/repo.git"', r(40)),
    _p("url-in-yaml", "  url: postgres://svc:{s}@db:5432/svc", r(18), file="yaml"),
    _p("sidekiq-sensitive-url", 'GEMS = "https://{s}@gems.contribsys.com/"',
       r(8, HEX) + ":" + r(8, HEX)),
    _p("dsn-go-mysql", 'dsn := "app:{s}@tcp(127.0.0.1:3306)/app"', r(12), file="go"),
    _p("conn-jdbc-query", 'JDBC = "jdbc:mysql://db:3306/app?user=app&password={s}"', r(12)),
    _p("conn-jdbc-semicolon", 'MSSQL = "jdbc:sqlserver://db:1433;user=sa;password={s}"', r(12)),
    _p("conn-odbc", 'ODBC = "Driver={{ODBC Driver 18}};Server=db;UID=sa;PWD={s};"', r(12)),
    _p("conn-odbc-braced", 'ODBC2 = "Server=db;UID=sa;PWD={{{s}}};"', r(6) + ";" + r(6)),
    _p("conn-adonet", 'ADO = "Server=db;Database=app;User Id=sa;Password={s};"', r(12)),
    _p("conn-libpq", 'LIBPQ = "host=db port=5432 user=app password={s} dbname=prod"', r(12)),
    # Authorization headers and basic auth in code
    _p("auth-header-bearer", 'HEADERS = {{"Authorization": "Bearer {s}"}}', r(40)),
    _p("auth-header-basic", 'HEADERS2 = {{"Authorization": "Basic {s}"}}', r(28) + "=="),
    _p("auth-header-token", "xhr.setRequestHeader('Authorization', 'Token {s}');", r(40, HEX),
       file="js"),
    _p("auth-header-raw", 'HEADERS3 = {{"X-Auth-Token": "{s}"}}', r(32)),
    _p("basic-auth-tuple", 'requests.get(URL, auth=("admin", "{s}"))', r(12)),
    _p("basic-auth-class", 'AUTH = HTTPBasicAuth("svc", "{s}")', r(12)),
    _p("curl-auth-header", '# curl -H "Authorization: Bearer {s}" https://api.internal/v1', r(40)),
    _p("curl-auth-user", "# curl -u admin:{s} https://api.internal/v1", r(14)),
]  # fmt: skip

# Checked and not covered: (gitleaks rule id, line, why).
KNOWN_GAPS: list[Plant] = [
    # A base64-encoded value under a name that says nothing (gitleaks finds it by the
    # "kind: Secret" two hundred characters away); the redactor works a line at a time.
    _p("kubernetes-secret-yaml-neutral-name", "  DATABASE_URL: {s}", r(40, ALNUM + "+/") + "=",
       file="yaml"),
    # "<15 digits>|<secret>" with no keyword on the line: gitleaks needs the word "facebook".
    _p("facebook-access-token", 'client.configure("{s}")', r(15, DIGITS) + "|" + r(32)),
    # Legacy Vault token "s.<24>": too close to ordinary dotted names to match bare.
    _p("vault-service-token-legacy", 'client.configure("{s}")', "s." + r(24)),
]  # fmt: skip

# Must stay exactly as written (placeholders, references, URLs without credentials,
# identifiers, versions). Placeholder URL passwords ("user:password@localhost" in docs and
# dev defaults) are kept: they hold no secret, redacting them would only inflate the count and
# garble example code; any other literal password in a URL is redacted, dev default or not.
NEAR_MISSES: list[str] = [
    'EXAMPLE_URL = "postgres://user:password@localhost:5432/app"',
    'DOCS = "mysql://username:<password>@host/db"',
    'TEMPLATE_URL = "postgres://app:${DB_PASSWORD}@db:5432/app"',
    'url = f"postgresql://{user}:{password}@{host}:{port}/{name}"',
    'url = "mysql://%s:%s@%s/%s" % (user, pw, host, db)',
    'HEALTH = "https://api.example.com/v1/token"',
    'LOCAL = "http://localhost:8080/health"',
    'REPO = "git@github.com:org/repo.git"',
    'MIRROR = "ssh://git@github.com/org/repo.git"',
    'CONTACT = "mailto:ops@example.com"',
    'password = os.environ["DB_PASSWORD"]',
    'DB_PASSWORD = "${DB_PASSWORD}"',
    "password: ${DB_PASSWORD}",
    "password: {{ .Values.db.password }}",
    'api_key = "<your-api-key>"',
    'token = "xxxxxxxxxxxxxxxx"',
    'SECRET_KEY = "changeme"',
    'SECRET_KEY = os.getenv("SECRET_KEY")',
    'secret_name = "prod/db/credentials"',
    '__version__ = "2.31.0"',
    'TOKEN_VERSION = "1.4.2"',
    '"auth_version": "v2.1.0-beta",',
    'api_version = "2023-10-01"',
    'AUTH_USER_MODEL = "auth.User"',
    'password_field = "password_hash"',
    'token_type = "bearer"',
    '"Authorization": f"Bearer {token}",',
    'headers["Authorization"] = "Bearer " + token',
    "# send Authorization: Bearer <token> on every call",
    "# the Authorization header uses Basic authentication",
    'cache_key = "user:profile:v2"',
    'primary_key = "id"',
    'SORT_KEY = "created_at"',
    'fk = ForeignKey("users.id", related_name="tokens")',
    "MAX_TOKENS = 4096",
    "token_limit: 100000",
    "TOKEN_EXPIRY_SECONDS = 3600",
    "password_min_length = 12",
    "conn = psycopg2.connect(host=host, user=user, password=password)",
    "requests.get(url, auth=(user, password))",
    "user.set_password(raw_password)",
    'print("Enter your password:")',
    'jwt.decode(token, key, algorithms=["HS256"])',
    'password = ""',
    'DSN = "host=db user=app password={password} dbname=prod"',
    'JDBC = "jdbc:postgresql://db:5432/app?user=app&password=${PGPASSWORD}"',
    'GIT_SHA = "3f786850e387550fdab836ed7e6dc881de23001b"',
    "# keys that start with AKIA are long-term, ASIA temporary",
    'curl -u "$USER:$PASSWORD" https://api.internal/v1',
    'secret_env_var = "STRIPE_SECRET_KEY"',
    'public_key = "pk_live_0123456789abcdefABCDEF"',
    'if pem.startswith("-----BEGIN RSA PRIVATE KEY-----"):\n    return parse(pem)',
]
