"""What the rules see: each parsed file, and facts gathered once across the whole repository.

Repo facts make cross-file defects visible (connections opened in worker.py while WAL is
never enabled anywhere) and feed the "Environment & Assumptions" inference.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import tree_sitter

from vibe_audit.chunker.parsing import node_text, parse, parseable
from vibe_audit.rules import js, rust, syntax
from vibe_audit.rules.literals import is_docstring, string_constants
from vibe_audit.rules.sqltext import BEGIN, CHECK, MENTIONS_CREATE_TABLE, REFERENCES, pragmas
from vibe_audit.schemas import SourceFile

if TYPE_CHECKING:
    from vibe_audit.schemas.resources import ResourceMap

SYNC_CONNECT = frozenset({"sqlite3.connect", "sqlite3.dbapi2.connect"})
SQLITE_CONNECT = SYNC_CONNECT | {"aiosqlite.connect"}
_LOCKS = frozenset(
    {"asyncio.Lock", "threading.Lock", "threading.RLock", "fcntl.flock", "fcntl.lockf",
     "filelock.FileLock", "FileLock", "portalocker.lock"}
)  # fmt: skip


@dataclass(frozen=True)
class Site:
    path: str
    line: int
    text: str
    symbol: str | None


@dataclass(frozen=True)
class Pragma:
    site: Site
    value: str  # lower-cased literal value ('' for a bare read such as "PRAGMA journal_mode")


@dataclass
class FileContext:
    source: SourceFile
    tree: tree_sitter.Tree
    lines: list[str]
    imports: set[str]
    local_names: set[str] = field(default_factory=set)  # bound by importing local modules

    @property
    def root(self) -> tree_sitter.Node:
        return self.tree.root_node

    def site(self, node: tree_sitter.Node, line_offset: int = 0) -> Site:
        number = syntax.line(node) + line_offset
        text = self.lines[number - 1].strip()
        return Site(self.source.path, number, text, syntax.qualified_name(node))

    def site_in(self, string: tree_sitter.Node, text: str, offset: int) -> Site:
        """The site of character ``offset`` of a (possibly multi-line) string literal."""
        return self.site(string, line_offset=text.count("\n", 0, offset))


@dataclass
class OtherLanguageFacts:
    """The same facts read from the JavaScript/TypeScript and Rust files, for what the model
    is told (the context pack): the Python rules keep to RepoFacts' own fields, whose sites
    are Python code they report on."""

    imports: set[str] = field(default_factory=set)
    # better-sqlite3 / bun:sqlite / node:sqlite / sqlite3 opens; rusqlite Connection::open,
    # sqlx SqlitePool / SqliteConnectOptions.
    connect_sites: list[Site] = field(default_factory=list)
    # PRAGMAs in strings, better-sqlite3's db.pragma("x = y"), rusqlite's pragma_update and
    # sqlx's option builders (journal_mode, busy_timeout, foreign_keys, synchronous).
    pragmas: dict[str, list[Pragma]] = field(default_factory=dict)
    schema_references: list[Site] = field(default_factory=list)
    json_write_sites: list[Site] = field(default_factory=list)  # JSON.stringify, serde_json::to_*
    rename_sites: list[Site] = field(default_factory=list)  # fs.rename(Sync), std/tokio::fs::rename
    async_functions: int = 0


@dataclass
class RepoFacts:
    connect_sites: list[Site] = field(default_factory=list)
    # Connect sites that open the application's own database file: not ':memory:', not
    # read-only, and not a database the caller names (a library's parameter, a wrapper
    # forwarding **kwargs): its journal mode is this code's to set.
    owned_connect_sites: list[Site] = field(default_factory=list)
    # Owned ones, plus connections to a caller-named file in a function that creates the
    # schema there: its foreign keys are this code's to enforce.
    schema_connect_sites: list[Site] = field(default_factory=list)
    # PRAGMA names any string mentions, also built dynamically ('PRAGMA %s', settings keys
    # such as 'sqlite_journal_mode'): the setting is decided in code, value unknown.
    pragma_mentions: set[str] = field(default_factory=set)
    connect_timeouts: list[Site] = field(default_factory=list)
    # Sync functions that open a blocking sqlite3 connection, directly or through another.
    sync_db_functions: set[str] = field(default_factory=set)
    # Top-level module and package names the repository defines.
    local_modules: set[str] = field(default_factory=set)
    pragmas: dict[str, list[Pragma]] = field(default_factory=dict)
    imports: set[str] = field(default_factory=set)
    schema_references: list[Site] = field(default_factory=list)
    check_constraints: list[Site] = field(default_factory=list)
    begin_statements: list[Site] = field(default_factory=list)
    async_functions: int = 0
    lock_sites: list[Site] = field(default_factory=list)
    json_dump_sites: list[Site] = field(default_factory=list)
    rename_sites: list[Site] = field(default_factory=list)
    commit_calls: int = 0
    other: OtherLanguageFacts = field(default_factory=OtherLanguageFacts)

    def pragma_value(self, name: str) -> str | None:
        """The last literal value set for PRAGMA ``name`` anywhere, lower-cased."""
        found = self.pragmas.get(name)
        return found[-1].value if found else None


@dataclass
class RepoContext:
    files: list[FileContext]
    facts: RepoFacts
    # Files without a grammar (.sql migrations, ...): read as text by the resource index.
    other_sources: list[SourceFile] = field(default_factory=list)

    # The resource index (vibe_audit.index), built by its own step after parsing:
    # vibe_audit.index.indexed(sources) is build_context + build_index.
    index: ResourceMap | None = None

    @property
    def resources(self) -> ResourceMap:
        if self.index is None:
            raise RuntimeError(
                "the resource index was not built: use vibe_audit.index.indexed(sources)"
            )
        return self.index

    def in_language(self, *languages: str) -> list[FileContext]:
        return [ctx for ctx in self.files if ctx.source.language in languages]


def build_context(sources: list[SourceFile]) -> RepoContext:
    """Parse every file with a grammar; gather the repo facts (from the Python files)."""
    files = [_file_context(s) for s in sources if parseable(s.language)]
    facts = RepoFacts()
    python = [ctx for ctx in files if ctx.source.language == "python"]
    facts.local_modules = {c.source.path.split("/")[0].removesuffix(".py") for c in python}
    for ctx in python:
        ctx.local_names = _local_import_names(ctx.root, facts.local_modules)
        _gather(ctx, facts)
    facts.sync_db_functions = _callers_closure(python, facts)
    for ctx in files:
        if ctx.source.language in _OTHER_LANGUAGES:
            _gather_other(ctx, facts.other)
    others = [s for s in sources if not parseable(s.language)]
    return RepoContext(files=files, facts=facts, other_sources=others)


_OTHER_LANGUAGES = frozenset({"javascript", "typescript", "tsx", "rust"})
# sqlx's SqliteConnectOptions builders that set a PRAGMA.
_SQLX_PRAGMAS = frozenset({"journal_mode", "busy_timeout", "foreign_keys", "synchronous"})


_JSON_WRITE = re.compile(r"^JSON\.stringify$|serde_json::to_(string|vec|writer)(_pretty)?$")
_RENAME = re.compile(r"(^|\.)(rename|renameSync)$|fs::rename$|\.persist$")
_FUNCTIONS = (
    "function_declaration", "function_expression", "arrow_function", "method_definition",
    "function_item",
)  # fmt: skip


def _is_async(function: tree_sitter.Node) -> bool:
    """An ``async`` JS/TS function or Rust ``async fn``."""
    if function.type == "function_item":
        return rust.is_async_fn(function)
    return any(child.type == "async" for child in function.children)


def _gather_other(ctx: FileContext, other: OtherLanguageFacts) -> None:
    """JavaScript/TypeScript and Rust facts: connection opens, PRAGMAs, REFERENCES."""
    other.imports |= ctx.imports
    root = ctx.root
    said: list[tuple[tree_sitter.Node, str, str]] = []
    for call in syntax.of_type(root, "call_expression"):
        callee = call.child_by_field_name("function")
        name = node_text(callee) if callee is not None else ""
        if _JSON_WRITE.search(name):
            other.json_write_sites.append(ctx.site(call))
        elif _RENAME.search(name):
            other.rename_sites.append(ctx.site(call))
    other.async_functions += sum(1 for node in syntax.of_type(root, *_FUNCTIONS) if _is_async(node))
    if ctx.source.language == "rust":
        uses = rust.use_paths(root)
        opens = list(rust.rusqlite_opens(root, uses, ctx.imports, ctx.source.path))
        for call in syntax.of_type(root, "call_expression"):
            path = rust.call_path(call, uses)
            if "SqlitePool::connect" in path or "SqliteConnectOptions::" in path:
                opens.append(call)
            method = rust.method_name(call)
            args = rust.call_arguments(call)
            if method == "pragma_update" and len(args) >= 3:
                setting, value = rust.rust_string(args[1]), rust.rust_string(args[2])
                if setting is not None:
                    said.append((call, setting.lower(), (value or "").lower()))
            elif method in _SQLX_PRAGMAS and ("sqlx" in ctx.imports or "Sqlite" in node_text(call)):
                option = node_text(args[0]).split("::")[-1].lower() if args else ""
                said.append((call, method, option))
        strings = [
            (node, text)
            for node in syntax.of_type(root, "string_literal", "raw_string_literal")
            if (text := rust.rust_string(node)) is not None
        ]
    else:
        opens = [call for call, _ in js.sqlite_opens(root)]
        said = js.pragma_settings(root)
        strings = js.strings(root)
    other.connect_sites += [ctx.site(call) for call in opens]
    for node, name, value in said:
        other.pragmas.setdefault(name, []).append(Pragma(ctx.site(node), value))
    if ctx.source.language == "rust":
        for node, text in strings:
            for statement in pragmas(text):
                name, value = (
                    (statement.schema, "")
                    if statement.schema
                    else (statement.name, statement.written)
                )
                pragma = Pragma(ctx.site(node), value)
                other.pragmas.setdefault(name.lower(), []).append(pragma)
    for node, text in strings:
        if REFERENCES.search(text):
            other.schema_references.append(ctx.site(node))


def _local_import_names(root: tree_sitter.Node, local: set[str]) -> set[str]:
    """Names this file binds by importing the repository's own modules."""
    names: set[str] = set()
    for node in syntax.of_type(root, "import_statement", "import_from_statement"):
        if node.type == "import_from_statement":
            module = node.child_by_field_name("module_name")
            source = node_text(module) if module is not None else ""
            if not (source.startswith(".") or source.split(".")[0] in local):
                continue
            for child in node.named_children[1:]:
                alias = (
                    child.child_by_field_name("alias") if child.type == "aliased_import" else None
                )
                names.add(node_text(alias or child).split(".")[-1])
        else:
            for child in node.named_children:
                alias = (
                    child.child_by_field_name("alias") if child.type == "aliased_import" else None
                )
                target = (
                    child.child_by_field_name("name") if child.type == "aliased_import" else child
                )
                if target is not None and node_text(target).split(".")[0] in local:
                    names.add(
                        node_text(alias) if alias is not None else node_text(target).split(".")[0]
                    )
    return names


def resolved_call(name: str, ctx: FileContext) -> str | None:
    """The repository function a call names, when the name can tell: a bare name
    (``get_connection()``) or a function of a module imported from the repository
    (``db.get_connection()``). Method calls (``self.x.get()``) are not resolved by name."""
    if "." not in name:
        return name
    head, _, rest = name.partition(".")
    return rest if head in ctx.local_names and "." not in rest else None


def _callers_closure(files: list[FileContext], facts: RepoFacts) -> set[str]:
    """The seed functions plus every sync function that (transitively) calls one of them.

    init_db() calling get_connection() calling sqlite3.connect() makes all three "opens a
    SQLite connection". Only calls ``resolved_call`` can resolve count.
    """
    if not facts.sync_db_functions:
        return set()
    calls: dict[str, set[str]] = {}
    for ctx in files:
        for call in syntax.of_type(ctx.root, "call"):
            resolved = resolved_call(syntax.callee(call), ctx)
            if resolved is None:
                continue
            function = syntax.enclosing(call, "function_definition", "lambda")
            if function is None or function.type == "lambda" or syntax.is_async(function):
                continue
            calls.setdefault(syntax.function_name(function), set()).add(resolved)
    closure = set(facts.sync_db_functions)
    changed = True
    while changed:
        changed = False
        for name, called in calls.items():
            if name not in closure and called & closure:
                closure.add(name)
                changed = True
    return closure


def _file_context(source: SourceFile) -> FileContext:
    tree = parse(source.language, source.text)
    if source.language != "python":
        return FileContext(source, tree, source.text.splitlines(), _foreign_imports(tree))
    imports: set[str] = set()
    for node in syntax.of_type(tree.root_node, "import_statement", "import_from_statement"):
        if node.type == "import_from_statement":
            module = node.child_by_field_name("module_name")
            if module is not None:
                imports.add(node_text(module).split(".")[0])
        else:
            for name in node.named_children:
                target = name.child_by_field_name("name") if name.type == "aliased_import" else name
                if target is not None:
                    imports.add(node_text(target).split(".")[0])
    return FileContext(source=source, tree=tree, lines=source.text.splitlines(), imports=imports)


def _foreign_imports(tree: tree_sitter.Tree) -> set[str]:
    """Imported module names outside Python: JS/TS specifiers, Rust crates, Go paths."""
    names: set[str] = set()
    for node in tree.root_node.named_children:
        if node.type == "export_statement":
            node = node.named_children[0] if node.named_children else node
        if node.type == "import_statement":  # JS / TS: import x from "module"
            for string in syntax.of_type(node, "string_fragment"):
                names.add(node_text(string))
        elif node.type == "use_declaration":  # Rust: use sqlx::PgPool;
            names.add(node_text(node).removeprefix("use ").split("::")[0].strip(" {;"))
        elif node.type == "import_declaration":  # Go / Java
            for spec in syntax.of_type(node, "interpreted_string_literal", "scoped_identifier"):
                names.add(node_text(spec).strip('"'))
    return names


_PRAGMA_NAMES = ("journal_mode", "foreign_keys", "busy_timeout", "synchronous")
_MEMORY = (":memory:", "mode=memory")


def database_kind(call: tree_sitter.Node) -> str:
    """What a sqlite connect call opens: 'memory' (an in-memory database), 'caller' (a
    database the caller names: the enclosing function's parameter or an attribute of self,
    or a wrapper forwarding **kwargs) or 'owned' (the application's own file)."""
    arguments = call.child_by_field_name("arguments")
    if arguments is not None and any(
        a.type == "dictionary_splat" for a in arguments.named_children
    ):
        return "caller"
    database = next(iter(syntax.positional_args(call)), None)
    if database is None:
        database = syntax.keyword_value(call, "database")
    if database is None:
        return "owned"
    text = node_text(database)
    if any(marker in text for marker in _MEMORY):
        return "memory"
    if "mode=ro" in text:
        return "read-only"
    function = syntax.enclosing(call, "function_definition")
    if function is None:
        return "owned"
    return _origin(text, function, syntax.parameter_names(function) - {"self", "cls"}, 3)


def _origin(text: str, function: tree_sitter.Node, parameters: set[str], depth: int) -> str:
    """Where a database expression's value comes from, following local names back through
    their assignments (``depth`` steps): 'caller' when it is built from a parameter or an
    attribute of self, or a command-line argument (``args.db_path``), with no module
    constant (UPPER_CASE) of its own as a default."""
    words = set(re.findall(r"(?<![\w.])[A-Za-z_]\w*", _code_only(text)))
    if any(w.isupper() for w in words):
        return "owned"  # DB_PATH, or `path or DB_PATH`: the application's own file
    if "self" in words or words & parameters:
        return "caller"
    if re.search(r"(?<![\w.])args\.\w+", _code_only(text)):
        return "caller"  # a command-line argument: the user names the database
    if depth == 0:
        return "owned"
    kinds = set()
    for word in words:
        for source in _bindings(function, word):
            if any(marker in source for marker in _MEMORY):
                return "memory"
            if "mode=ro" in source:
                return "read-only"
            kinds.add(_origin(source, function, parameters, depth - 1))
    return "caller" if kinds == {"caller"} else "owned"


def _creates_schema(call: tree_sitter.Node, ctx: FileContext) -> bool:
    """The function around a connect call creates tables (a CREATE TABLE literal, or a
    module constant holding one): whatever file it is given, the schema is the code's own."""
    function = syntax.enclosing(call, "function_definition")
    if function is None:
        return False
    text = node_text(function)
    if MENTIONS_CREATE_TABLE.search(text):
        return True
    constants = [
        name
        for name, value in string_constants(ctx.root).items()
        if MENTIONS_CREATE_TABLE.search(value)
    ]
    return any(re.search(rf"\b{re.escape(name)}\b", text) for name in constants)


def _code_only(text: str) -> str:
    """``text`` with plain string literals blanked (f-string interpolations are kept)."""
    return re.sub(r"(?<![fF])([\"'])(?:\\.|(?!\1).)*\1", '""', text)


def _bindings(function: tree_sitter.Node, name: str) -> list[str]:
    """Source texts ``name`` is bound to in ``function``: assignments' right sides (also
    chained ``a = b = x``) and the iterables of ``for name in ...`` loops."""
    texts = []
    for node in syntax.of_type(function, "assignment", "for_statement"):
        left = node.child_by_field_name("left")
        right = node.child_by_field_name("right")
        if left is not None and right is not None and node_text(left) == name:
            texts.append(node_text(right))
    return texts


def _gather(ctx: FileContext, facts: RepoFacts) -> None:
    facts.imports |= ctx.imports
    facts.async_functions += sum(1 for f in syntax.functions(ctx.root) if syntax.is_async(f))
    for call in syntax.of_type(ctx.root, "call"):
        name = syntax.callee(call)
        short = syntax.last_name(name)
        if name in _LOCKS:
            facts.lock_sites.append(ctx.site(call))
        elif name in {"json.dump", "json.dumps"}:
            facts.json_dump_sites.append(ctx.site(call))
        elif syntax.is_rename(call):
            facts.rename_sites.append(ctx.site(call))
        elif short == "commit":
            facts.commit_calls += 1
        if name in SQLITE_CONNECT:
            site = ctx.site(call)
            facts.connect_sites.append(site)
            kind = database_kind(call)
            if kind == "owned":
                facts.owned_connect_sites.append(site)
            if kind == "owned" or (kind == "caller" and _creates_schema(call, ctx)):
                facts.schema_connect_sites.append(site)
            if "timeout" in syntax.keyword_names(call):
                facts.connect_timeouts.append(site)
            function = syntax.enclosing(call, "function_definition")
            if name in SYNC_CONNECT and function is not None and not syntax.is_async(function):
                facts.sync_db_functions.add(syntax.function_name(function))
    for string in syntax.of_type(ctx.root, "string"):
        text = node_text(string)
        lowered = text.lower()
        facts.pragma_mentions |= {name for name in _PRAGMA_NAMES if name in lowered}
        for said in pragmas(text):
            # Filed as read so far: "PRAGMA main.x = 1" under "main", with no value.
            name, value = (said.schema, "") if said.schema else (said.name, said.written)
            pragma = Pragma(ctx.site_in(string, text, said.offset), value)
            facts.pragmas.setdefault(name.lower(), []).append(pragma)
        prose = is_docstring(string)
        for pattern, sites in (
            (REFERENCES, facts.schema_references),
            (CHECK, facts.check_constraints),
            (BEGIN, facts.begin_statements),
        ):
            found = None if prose else pattern.search(text)
            if found:
                sites.append(ctx.site_in(string, text, found.start()))
