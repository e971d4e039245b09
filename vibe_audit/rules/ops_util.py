"""Repository-level facts for the operations rules (served apps, health routes, databases,
external HTTP clients, circuit breakers, job-status SQL), read from source text.

Owned by the "ops" rules (liveness, readiness, database health, circuit breakers, stuck
jobs, queue indexes). Each language key is "python", "js" or "rust".
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

import tree_sitter

from vibe_audit.rules import js, syntax
from vibe_audit.rules.base import Hit
from vibe_audit.rules.context import FileContext, RepoContext

LANGUAGES: dict[str, list[str]] = {
    "python": ["python"],
    "js": list(js.JS_LANGUAGES),
    "rust": ["rust"],
}
EXTENSION = {"python": "py", "js": "ts", "rust": "rs"}
PREFIX = {"python": "", "js": "js-", "rust": "rust-"}

# Paths that are not the served code of the repository.
_NOT_SERVED_PATH = re.compile(
    r"(^|/)(docs?|examples?|samples?|demos?|benchmarks?|scripts|fixtures|vendor|"
    r"node_modules|target|migrations)/"
)
_BUILD_PATH = re.compile(r"(^|/)(dist|build|out|lib/esm|lib/cjs)/")
_COMMENT_LINE = re.compile(r"^\s*(#(?!!?\[)|//|/\*|\*)")


@dataclass(frozen=True)
class Mark:
    ctx: FileContext
    line: int
    text: str  # the matched text


def code_files(repo: RepoContext, language: str) -> list[FileContext]:
    """The language's files that are neither tests nor docs, examples or scripts; build
    output (dist/, build/) only when the repository ships nothing else (a published
    package)."""
    files = [
        ctx
        for ctx in repo.in_language(*LANGUAGES[language])
        if not syntax.is_test_path(ctx.source.path) and not _NOT_SERVED_PATH.search(ctx.source.path)
    ]
    sources = [ctx for ctx in files if not _BUILD_PATH.search(ctx.source.path)]
    return sources or files


def marks(ctx: FileContext, pattern: re.Pattern[str], *, code_only: bool = False) -> Iterator[Mark]:
    """Matches of ``pattern`` in the file's text, outside comment lines (and, with
    ``code_only``, outside string literals and comments: a docstring's example)."""
    text = ctx.source.text
    for found in pattern.finditer(text):
        line = text.count("\n", 0, found.start()) + 1
        if _COMMENT_LINE.match(ctx.lines[line - 1] if line <= len(ctx.lines) else ""):
            continue
        if code_only and _in_literal(ctx, text, found.start(), line):
            continue
        yield Mark(ctx, line, found.group(0))


_LITERALS = frozenset(
    {"string", "string_content", "string_literal", "raw_string_literal", "template_string",
     "comment", "line_comment", "block_comment", "string_fragment"}
)  # fmt: skip


def _in_literal(ctx: FileContext, text: str, offset: int, line: int) -> bool:
    start = text.rfind("\n", 0, offset) + 1
    column = len(text[start:offset].encode("utf-8"))
    node: tree_sitter.Node | None = ctx.root.descendant_for_point_range(
        (line - 1, column), (line - 1, column)
    )
    while node is not None:
        if node.type in _LITERALS:
            return True
        node = node.parent
    return False


def first_mark(
    files: list[FileContext], pattern: re.Pattern[str], *, code_only: bool = True
) -> Mark | None:
    for ctx in files:
        for mark in marks(ctx, pattern, code_only=code_only):
            return mark
    return None


def any_text(repo: RepoContext, pattern: re.Pattern[str]) -> bool:
    """Some non-test file of the repository (any language, plus files without a grammar
    such as .sql migrations and Dockerfiles) matches ``pattern``."""
    sources = [ctx.source for ctx in repo.files] + list(repo.other_sources)
    return any(
        pattern.search(source.text) for source in sources if not syntax.is_test_path(source.path)
    )


def hit(mark: Mark, **details: str) -> Hit:
    return Hit(
        path=mark.ctx.source.path,
        start_line=mark.line,
        end_line=mark.line,
        details=details,
    )


# A web application this repository serves.
SERVED_APP = {
    "python": re.compile(
        r"\b(FastAPI|Flask|Starlette|Quart|Sanic|Litestar)\(|\bweb\.Application\(|"
        r"^urlpatterns\s*=",
        re.M,
    ),
    "js": re.compile(
        r"\bexpress\(\s*\)|\b[Ff]astify\(\s*[{)]|\bnew Koa\(|\bnew Hono\b|\bBun\.serve\(|"
        r"\bDeno\.serve\(|\bNestFactory\.create\("
    ),
    "rust": re.compile(
        r"\bHttpServer::new\(|\baxum::serve\(|\baxum::Server::bind\(|\bwarp::serve\(|"
        r"\brocket::build\(\)|#\[launch\]|\bpoem::Server::new\("
    ),
}
_NEXT_ROUTE = re.compile(r"(^|/)app/(.+/)?route\.(ts|js|mjs)$|(^|/)pages/api/")
_NEXT_HANDLER = re.compile(r"^export\s+(async\s+)?function\s+(GET|POST|PUT|PATCH|DELETE)\b", re.M)


def served_app(repo: RepoContext, language: str) -> tuple[Mark, str] | None:
    """Where the repository creates the web application it serves, and the framework.
    Applications built inside a class's method are a library's offer to its users (an SDK
    returning an ASGI app), not the repository's own service."""
    files = code_files(repo, language)
    for ctx in files:
        for mark in marks(ctx, SERVED_APP[language], code_only=True):
            if not _in_method(mark):
                return mark, mark.text.rstrip("( {)").split("::")[0].removeprefix("new ")
    if language == "js":
        for ctx in files:
            if _NEXT_ROUTE.search(ctx.source.path):
                for found in marks(ctx, _NEXT_HANDLER, code_only=True):
                    return found, "Next.js route handlers"
    return None


def _in_method(mark: Mark) -> bool:
    line = mark.ctx.lines[mark.line - 1]
    column = len(line[: max(line.find(mark.text), 0)].encode("utf-8"))
    node: tree_sitter.Node | None = mark.ctx.root.descendant_for_point_range(
        (mark.line - 1, column), (mark.line - 1, column)
    )
    while node is not None:
        if node.type in {"class_definition", "class_body", "class_declaration"}:
            return True
        node = node.parent
    return False


# A health, liveness or readiness route path, or a probe library.
HEALTH_PATH = (
    r"(?:health|healthz|healthcheck|health-check|_health|live|livez|liveness|"
    r"ping|status|alive|ready|readyz|readiness|heartbeat)"
)
HEALTH_ROUTE = re.compile(
    r"[\"'`]\^?/?(?:[\w.{}:-]+/)*" + HEALTH_PATH + r"(?:/[\w.{}:-]*)*\$?/?[\"'`]"
)
_PROBE_LIBRARIES = re.compile(
    r"fastapi_health|flask_healthz|healthcheck\b|health_check|django_health_check|"
    r"@godaddy/terminus|lightship|express-healthcheck|@nestjs/terminus|@hono/health|"
    r"livenessProbe|HEALTHCHECK|TerminusModule"
)


def probe_covered(repo: RepoContext) -> bool:
    """A probe library, a container HEALTHCHECK or a Kubernetes livenessProbe."""
    return any_text(repo, _PROBE_LIBRARIES)


_ROUTE_LINE = re.compile(
    r"\b(route|get|head|all|path|re_path|url|use|on|resource|add_get|api_route)\b|"
    r"#\[(get|route)|\burl\s*:|pathname|===|==|\bcase\b|\bmatch\b"
)


def health_routes(repo: RepoContext, language: str) -> list[Mark]:
    """String literals naming a health/liveness/readiness path, in route-shaped lines."""
    found = []
    for ctx in code_files(repo, language):
        for mark in marks(ctx, HEALTH_ROUTE):
            line = ctx.lines[mark.line - 1]
            if "/" in mark.text and _ROUTE_LINE.search(line):
                found.append(mark)
    return found


# The application's own database: a client opened or a pool created.
DATABASE = {
    "python": re.compile(
        r"\bsqlite3\.connect\(|\baiosqlite\.connect\(|\bcreate_engine\(|"
        r"\bcreate_async_engine\(|\bpsycopg2?\.connect\(|\basyncpg\.(connect|create_pool)\(|"
        r"\bpymysql\.connect\(|\bmodels\.Model\b|\bSqliteDatabase\(|\bPostgresqlDatabase\(|"
        r"\bMongoClient\(|\bAsyncIOMotorClient\(|\bSQLAlchemy\("
    ),
    "js": re.compile(
        r"\bnew (Database|PrismaClient|Pool|Sequelize|DataSource)\(|\bmongoose\.connect\(|"
        r"\bcreatePool\(|\bknex\(\s*\{|\bdrizzle\(|\bnew MongoClient\(|\bpostgres\(|"
        r"\bcreateClient\(\s*\{[^}]*url"
    ),
    "rust": re.compile(
        r"\b(PgPool|SqlitePool|MySqlPool|PgPoolOptions|SqlitePoolOptions|MySqlPoolOptions)"
        r"::|\bConnection::open(_in_memory)?\(|\bPgConnection::establish\(|"
        r"\bSqliteConnection::establish\(|\bDatabase::connect\(|\btokio_postgres::connect\(|"
        r"\bPool::builder\(\)"
    ),
}
_JS_DB_MODULES = frozenset(
    {"better-sqlite3", "bun:sqlite", "node:sqlite", "sqlite3", "pg", "mysql2", "mysql2/promise",
     "@prisma/client", "mongoose", "mongodb", "sequelize", "typeorm", "knex", "postgres",
     "drizzle-orm", "kysely"}
)  # fmt: skip
_MEMORY = re.compile(r":memory:|open_in_memory|mode=memory|sqlite://[\"']")


def database(repo: RepoContext, language: str) -> Mark | None:
    """Where served code opens its own database (not an in-memory one)."""
    for ctx in code_files(repo, language):
        if language == "js" and not (ctx.imports & _JS_DB_MODULES or "require(" in ctx.source.text):
            continue
        for mark in marks(ctx, DATABASE[language], code_only=True):
            if not _MEMORY.search(ctx.lines[mark.line - 1]):
                return mark
    return None


# A database write in served code.
WRITE_SQL = re.compile(r"(?i)\b(INSERT\s+(OR\s+\w+\s+)?INTO|UPDATE\s+\w+\s+SET|DELETE\s+FROM)\b")
ORM_WRITE = {
    "python": re.compile(r"\.commit\(\)|\bsession\.add\(|\.save\(\)|\.objects\.create\("),
    "js": re.compile(r"\.(create|update|upsert|insertOne|updateOne|insertMany)\(\s*\{"),
    "rust": re.compile(r"diesel::insert_into\(|diesel::update\(|\.insert\(\)\.values|ActiveModel"),
}


def writes_database(repo: RepoContext, language: str) -> bool:
    return any(
        WRITE_SQL.search(ctx.source.text) or ORM_WRITE[language].search(ctx.source.text)
        for ctx in code_files(repo, language)
    )


# A circuit breaker: a library, a tower layer, or a hand-rolled breaker.
BREAKER = re.compile(
    r"(?i)circuit|breaker|\bpurgatory\b|\bopossum\b|\bcockatiel\b|[\"']brakes[\"']|"
    r"\bfailsafe\b|\brecloser\b|tower::limit|ConcurrencyLimit|load_shed|consecutive_failures|"
    r"failure_threshold|max_failures"
)


_PY_FUNCTION = frozenset({"function_definition", "decorated_definition"})
_JS_CALL = frozenset({"call_expression", "if_statement", "switch_case", "pair"})
_IDENTIFIER = re.compile(r"[A-Za-z_][\w.:]*")


def handler_text(repo: RepoContext, mark: Mark, language: str) -> str | None:
    """The source of the handler a health route string is bound to, or None when the rule
    cannot see it (a handler in another module, a class-based view)."""
    ctx = mark.ctx
    line = ctx.lines[mark.line - 1]
    column = len(line[: line.find(mark.text)].encode("utf-8"))
    node: tree_sitter.Node | None = ctx.root.descendant_for_point_range(
        (mark.line - 1, column), (mark.line - 1, column)
    )
    if language == "python":
        while node is not None and not (
            node.type == "decorated_definition"
            or (node.type == "call" and node.parent is not None and node.parent.type != "decorator")
        ):
            node = node.parent
        if node is None:
            return None
        if node.type == "decorated_definition":
            return _text(node.child_by_field_name("definition"))
        return _named_function(repo, language, _last_argument_name(node))
    if language == "js":
        while node is not None and node.type not in _JS_CALL:
            node = node.parent
        if node is None:
            return None
        if node.type == "call_expression":
            arguments = node.child_by_field_name("arguments")
            rest = arguments.named_children[1:] if arguments is not None else []
            if rest and all(a.type in {"identifier", "member_expression"} for a in rest):
                return _named_function(repo, language, _text(rest[-1]).split(".")[-1])
        return _text(node)
    # Rust: #[get("/health")] fn ..., or .route("/health", get(handler))
    while node is not None and node.type not in {"attribute_item", "call_expression"}:
        node = node.parent
    if node is None:
        return None
    if node.type == "attribute_item":
        following = node.next_named_sibling
        while following is not None and following.type == "attribute_item":
            following = following.next_named_sibling
        return _text(following) if following is not None else None
    arguments = node.child_by_field_name("arguments")
    rest = arguments.named_children[1:] if arguments is not None else []
    if not rest:
        return None
    inner = _text(rest[-1])
    called = re.fullmatch(r"(?:[\w:]+::)?(?:get|head|any)\(\s*([\w:]+)\s*\)", inner)
    if called:
        return _named_function(repo, language, called.group(1).split("::")[-1])
    return inner


def _last_argument_name(call: tree_sitter.Node) -> str | None:
    arguments = call.child_by_field_name("arguments")
    named = [a for a in (arguments.named_children if arguments is not None else [])]
    if len(named) < 2 or named[1].type not in {"identifier", "attribute"}:
        return None
    return _text(named[1]).split(".")[-1]


def _named_function(repo: RepoContext, language: str, name: str | None) -> str | None:
    if not name:
        return None
    types = {
        "python": ("function_definition",),
        "js": ("function_declaration", "variable_declarator", "method_definition"),
        "rust": ("function_item",),
    }[language]
    for ctx in repo.in_language(*LANGUAGES[language]):
        if name not in ctx.source.text:
            continue
        for node in syntax.of_type(ctx.root, *types):
            named = node.child_by_field_name("name")
            if named is not None and _text(named) == name:
                return _text(node)
    return None


def _text(node: tree_sitter.Node | None) -> str:
    return node.text.decode("utf-8", "replace") if node is not None and node.text else ""
