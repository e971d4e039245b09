"""SQL text: the one place that reads SQL statements with regular expressions.

Everything here takes a string and knows nothing of syntax trees, languages or files, so
the rules (``sql`` for Python, ``rust`` for sqlx), the repository facts (``context``) and
the resource index (``vibe_audit.index``) all read SQL the same way:

- what a statement is: its verb, whether it writes, its target table and WHERE clause;
- the parts of an UPDATE (table, SET list, WHERE) and whether it sets or guards a status;
- every table a text reads or writes (with subqueries, CTEs and schema statements);
- CREATE TABLE statements as one ``Table`` model (columns, table constraints, key);
- PRAGMA settings (name, value) and mentions of REFERENCES, CHECK and BEGIN.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from vibe_audit.schemas.resources import AccessMode

# --------------------------------------------------------------------------- statements

SQL_COMMENT = re.compile(r"--[^\n]*|/\*.*?\*/", re.S)
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
SQL_VERBS = frozenset({"SELECT", "INSERT", "UPDATE", "DELETE", "WITH", "REPLACE"})
# A literal that starts (after punctuation) with a write or a read.
WRITE_SQL = re.compile(r"^\W*(INSERT|UPDATE|DELETE|REPLACE|UPSERT)\b", re.I)
SELECT_SQL = re.compile(r"^\W*(SELECT|WITH)\b", re.I)


def sql_verb(sql: str) -> str:
    """The statement's first keyword, upper-cased ('INSERT', 'SELECT', 'WITH', '')."""
    match = _WORD.search(SQL_COMMENT.sub(" ", sql))
    return match.group(0).upper() if match else ""


def is_write(sql: str) -> bool:
    """INSERT / UPDATE / DELETE / REPLACE / UPSERT statement (also behind a WITH)."""
    verb = sql_verb(sql)
    if verb == "WITH":
        return bool(re.search(r"\)\s*(INSERT|UPDATE|DELETE)\b", sql, re.I))
    return verb in {"INSERT", "UPDATE", "DELETE", "REPLACE", "UPSERT"}


_STATEMENT = re.compile(
    r"^\s*(?:WITH\b.*?\)\s*)?(SELECT|INSERT|UPDATE|DELETE|REPLACE)\b", re.I | re.S
)
_TARGET = {
    "SELECT": re.compile(r"\bFROM\s+[\"`\[]?(\w+)", re.I),
    "INSERT": re.compile(r"\bINTO\s+[\"`\[]?(\w+)", re.I),
    "REPLACE": re.compile(r"\bINTO\s+[\"`\[]?(\w+)", re.I),
    "UPDATE": re.compile(r"^\s*UPDATE\s+(?:OR\s+\w+\s+)?[\"`\[]?(\w+)", re.I),
    "DELETE": re.compile(r"\bFROM\s+[\"`\[]?(\w+)", re.I),
}


def statement(sql: str) -> tuple[str, str] | None:
    """(verb, table) of one DML statement (table lower-cased), or None when it is not DML."""
    match = _STATEMENT.match(sql)
    if match is None:
        return None
    verb = match.group(1).upper()
    table = _TARGET[verb].search(sql)
    return (verb, table.group(1).lower()) if table else None


def where_clause(sql: str) -> str:
    """The text after the last WHERE (empty when there is none)."""
    parts = re.split(r"\bWHERE\b", sql, flags=re.I)
    return parts[-1] if len(parts) > 1 else ""


# --------------------------------------------------------------------------- status updates

STATUS_COLUMN = r"\b\w*(?:status|state)\b"
# A status/state column named anywhere, assigned by an UPDATE's SET, and SQL that locks the
# rows it reads (the status rules' compare-and-set checks).
STATUS_WORD = re.compile(r"\b(status|state)\b", re.I)
SETS_STATUS = re.compile(r"\bSET\b.*?\b(status|state)\s*=", re.I | re.S)
LOCKS_ROWS = re.compile(r"FOR\s+UPDATE|BEGIN\s+(IMMEDIATE|EXCLUSIVE)|with_for_update", re.I)
# A row lock or advisory lock (PostgreSQL), a SELECT that picks rows by status, and the
# (possibly schema-qualified, quoted) table a statement reads FROM.
ROW_LOCK = re.compile(r"\bFOR\s+(NO\s+KEY\s+)?UPDATE\b|\bpg_advisory", re.I)
SELECTS_BY_STATUS = re.compile(r"\bWHERE\b.*?" + STATUS_COLUMN + r"\s*(=|\bIN\b)", re.I | re.S)
FROM_TABLE = re.compile(r"\bFROM\s+(?:ONLY\s+)?([\w.\"]+)", re.I)


@dataclass(frozen=True)
class Update:
    """The parts of ``UPDATE <table> SET <assignments> WHERE <where>``."""

    table: str
    assignments: str
    where: str


_UPDATE = re.compile(
    r"^\s*UPDATE\s+(?:ONLY\s+)?([\w.\"]+)(?:\s+(?:AS\s+)?\w+)?\s+SET\s+(.*?)"
    r"(?:\bWHERE\b(.*?))?(?:\bRETURNING\b.*)?;?\s*$",
    re.I | re.S,
)


def parse_update(sql: str) -> Update | None:
    """The table, SET list and WHERE clause of a plain UPDATE statement, else None."""
    match = _UPDATE.match(SQL_COMMENT.sub(" ", sql))
    if match is None or re.search(r"\bFROM\b", match.group(2), re.I):
        return None
    return Update(
        table=match.group(1).strip('"').rsplit(".", 1)[-1].lower(),
        assignments=match.group(2),
        where=(match.group(3) or "").strip(),
    )


def sets_status(update: Update) -> bool:
    """The UPDATE assigns a status/state column (``status = 'processing'``)."""
    return bool(re.search(STATUS_COLUMN + r"\s*=", update.assignments, re.I))


def guards_status(update: Update) -> bool:
    """The UPDATE's WHERE clause tests a status/state column (compare-and-set)."""
    return bool(re.search(STATUS_COLUMN, update.where, re.I))


# --------------------------------------------------------------------------- table accesses

_STATEMENT_START = re.compile(
    r"^\s*(WITH|SELECT|INSERT|UPDATE|DELETE|REPLACE|CREATE|ALTER|DROP)\b", re.I
)
_NAME = r"[\"`\[]?(\w+(?:\$\w+)?(?:\.\w+){0,2})"
_SQL_ACCESS: tuple[tuple[re.Pattern[str], AccessMode, str], ...] = (
    (re.compile(r"\bINSERT\s+(?:OR\s+\w+\s+)?INTO\s+" + _NAME, re.I), "write", "INSERT"),
    (re.compile(r"\bREPLACE\s+INTO\s+" + _NAME, re.I), "write", "REPLACE"),
    (re.compile(r"\bUPDATE\s+(?:OR\s+\w+\s+)?" + _NAME, re.I), "write", "UPDATE"),
    (re.compile(r"\bDELETE\s+FROM\s+" + _NAME, re.I), "write", "DELETE"),
    (
        re.compile(r"\bCREATE\s+(?:TEMP\w*\s+)?TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?" + _NAME, re.I),
        "write",
        "CREATE",
    ),
    (
        re.compile(
            r"\bCREATE\s+(?:UNIQUE\s+)?INDEX\b[^;]*?\bON\s+" + _NAME + r"[\"`\]]?\s*\(", re.I
        ),
        "write",
        "CREATE",
    ),
    (re.compile(r"\bALTER\s+TABLE\s+(?:IF\s+EXISTS\s+)?" + _NAME, re.I), "write", "ALTER"),
    (re.compile(r"\bDROP\s+TABLE\s+(?:IF\s+EXISTS\s+)?" + _NAME, re.I), "write", "DROP"),
    (re.compile(r"\bTRUNCATE\s+(?:TABLE\s+)?" + _NAME, re.I), "write", "TRUNCATE"),
    (re.compile(r"\bFROM\s+" + _NAME, re.I), "read", "SELECT"),
    (re.compile(r"\bJOIN\s+" + _NAME, re.I), "read", "SELECT"),
)
_CTE = re.compile(
    r"(?:\bWITH\s+(?:RECURSIVE\s+)?|,\s*)(\w+)\s+AS\s*(?:NOT\s+)?(?:MATERIALIZED\s+)?\(", re.I
)
_NOT_TABLES = frozenset(
    {"set", "select", "where", "values", "skip", "nowait", "of", "cascade", "lateral", "unnest",
     "generate_series", "json_each", "dual", "if", "only", "the", "a", "an", "not", "exists",
     "table", "into", "from", "join"}
)  # fmt: skip
# Beyond starting with a verb, a literal must have the shape of a statement (so that prose
# such as "update field %r" or "delete from the cache" is not read as SQL).
_STATEMENT_SHAPE = re.compile(
    r"\bSELECT\b.*?\bFROM\s|\bINSERT\s+(?:OR\s+\w+\s+)?INTO\s|\bREPLACE\s+INTO\s|"
    r"\bUPDATE\s+(?:OR\s+\w+\s+)?[\"`\[]?\w+(?:\.\w+)?[\"`\]]?(?:\s+(?:AS\s+)?\w+)?\s+SET\s|"
    r"\bDELETE\s+FROM\s|\bCREATE\s+(?:TEMP\w*\s+)?TABLE\s|\bCREATE\s+(?:UNIQUE\s+)?INDEX\b[^;]*?\bON\s+\S+\s*\(|\bALTER\s+TABLE\s|"
    r"\bDROP\s+TABLE\s|\bTRUNCATE\s",
    re.I | re.S,
)


def sql_accesses(sql: str) -> list[tuple[int, AccessMode, str, str]]:
    """(offset, mode, operation, table) of every table a SQL text reads or writes."""
    found: list[tuple[int, AccessMode, str, str]] = []
    ctes = {m.group(1).lower() for m in _CTE.finditer(sql)}
    taken: set[int] = set()
    for pattern, mode, operation in _SQL_ACCESS:
        for match in pattern.finditer(sql):
            table = match.group(1).lower()
            before = sql[: match.start()].rstrip().rsplit(None, 1)
            previous = before[-1].upper() if before else ""
            if operation == "UPDATE" and previous in {"FOR", "DO", "ON"}:
                continue
            if operation == "SELECT" and (previous == "DELETE" or match.start(1) in taken):
                continue
            if table in _NOT_TABLES or table in ctes or table.isdigit() or table.endswith("_"):
                # keywords, CTE names, and names cut short by an interpolation (idx_%s)
                continue
            taken.add(match.start(1))
            found.append((match.start(1), mode, operation, table))
    return sorted(found)


def is_statement(text: str) -> bool:
    """Starts with a SQL verb written in one case (prose starts Capitalized: "Create index
    %s on ...") and has the shape of a statement."""
    start = _STATEMENT_START.match(text)
    if start is None:
        return False
    verb = start.group(1)
    return (verb.isupper() or verb.islower()) and _STATEMENT_SHAPE.search(text) is not None


# --------------------------------------------------------------------------- CREATE TABLE

# A text that mentions CREATE TABLE (a cheap test before parsing; TEMP tables not included).
MENTIONS_CREATE_TABLE = re.compile(r"\bCREATE\s+TABLE\b", re.I)
_CREATE_TABLE = re.compile(
    r"\bCREATE\s+(TEMP\w*\s+)?TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?([\"`\[]?[\w.]+[\"`\]]?)\s*\(",
    re.I,
)
_TABLE_CONSTRAINT = re.compile(r"^(CONSTRAINT|CHECK|FOREIGN|PRIMARY|UNIQUE|EXCLUDE)\b", re.I)
_TERMINATED = re.compile(r"\s*;")
UNIQUE_INDEX = re.compile(r"CREATE\s+UNIQUE\s+INDEX\s+.*?\bON\s+[\"`\[]?(\w+)", re.I | re.S)


@dataclass(frozen=True)
class Column:
    """One column definition of a CREATE TABLE statement."""

    name: str
    definition: str  # the whole definition, e.g. "status TEXT NOT NULL DEFAULT 'pending'"
    offset: int  # character offset of the definition in the SQL text


@dataclass(frozen=True)
class Table:
    """One CREATE TABLE statement."""

    name: str  # as written, without quotes (may be schema-qualified: "main.jobs")
    columns: list[Column]
    constraints: list[str]  # table-level CHECK / FOREIGN KEY / UNIQUE ... clauses
    body: str  # the column list as written, between the parentheses
    temporary: bool  # CREATE TEMP / TEMPORARY TABLE
    terminated: bool  # a ';' follows the closing parenthesis
    unique_indexed: bool = False  # a CREATE UNIQUE INDEX elsewhere covers it (see unique_indexed)

    @property
    def natural_key(self) -> bool:
        """UNIQUE somewhere, or a primary key that is not a lone surrogate id."""
        if self.unique_indexed or re.search(r"\bUNIQUE\b", self.body, re.I):
            return True
        if re.search(r"PRIMARY\s+KEY\s*\(", self.body, re.I):
            return True  # a table-level (often composite) primary key
        for line in self.body.split(","):
            if re.search(r"PRIMARY\s+KEY", line, re.I):
                surrogate = re.search(
                    r"AUTOINCREMENT|SERIAL|IDENTITY|INTEGER\s+PRIMARY", line, re.I
                )
                return surrogate is None
        return False


def create_tables(sql: str) -> Iterator[Table]:
    """The CREATE TABLE statements in ``sql``, split into columns and table constraints."""
    for match in _CREATE_TABLE.finditer(sql):
        start = match.end()
        depth, index = 1, start
        while index < len(sql) and depth:
            depth += {"(": 1, ")": -1}.get(sql[index], 0)
            index += 1
        if depth:
            continue  # unbalanced: a fragment built by string formatting
        body = sql[start : index - 1]
        columns: list[Column] = []
        constraints: list[str] = []
        for offset, part in _split_top_level(body, start):
            stripped = part.strip()
            if not stripped:
                continue
            if _TABLE_CONSTRAINT.match(stripped):
                constraints.append(stripped)
                continue
            name = stripped.split()[0].strip('"`[]')
            lead = len(part) - len(part.lstrip())
            columns.append(Column(name, stripped, offset + lead))
        yield Table(
            name=match.group(2).strip('"`[]'),
            columns=columns,
            constraints=constraints,
            body=body,
            temporary=match.group(1) is not None,
            terminated=_TERMINATED.match(sql, index) is not None,
        )


def _split_top_level(body: str, base: int) -> Iterator[tuple[int, str]]:
    depth, begin = 0, 0
    for index, char in enumerate(body):
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif char == "," and depth == 0:
            yield base + begin, body[begin:index]
            begin = index + 1
    yield base + begin, body[begin:]


def unique_indexed(sql: str) -> set[str]:
    """Tables (lower-cased) a ``CREATE UNIQUE INDEX ... ON <table>`` in ``sql`` covers."""
    return {m.group(1).lower() for m in UNIQUE_INDEX.finditer(sql)}


# --------------------------------------------------------------------------- PRAGMA, constraints

# PRAGMA [schema.]name, then "= value" or "(argument)".
_PRAGMA = re.compile(
    r"PRAGMA\s+(?:(\w+)\.)?([a-z_]+)\s*(?:=\s*(['\"]?\s*-?[A-Za-z0-9_-]*)|\(([^)]*)(\))?)?",
    re.I,
)
_SET_VALUE = re.compile(r"['\"]?\s*(-?[A-Za-z0-9_]+)")
_WRITTEN_VALUE = re.compile(r"['\"]?([A-Za-z0-9_-]+)")


@dataclass(frozen=True)
class PragmaText:
    """One ``PRAGMA [schema.]name``, with ``= value`` or ``(argument)`` when given."""

    offset: int  # of the PRAGMA keyword
    schema: str | None
    name: str  # lower-cased, without the schema
    value: str | None  # the literal value set, lower-cased, no quotes (None: no literal)
    written: str  # lower-cased: the word after '=' or the text inside closed parentheses


def pragmas(text: str) -> Iterator[PragmaText]:
    """Every PRAGMA statement or mention in ``text``, in order."""
    for match in _PRAGMA.finditer(text):
        schema, name, assigned, inside, closed = match.groups()
        value = _SET_VALUE.match(assigned if assigned is not None else inside or "")
        written = _WRITTEN_VALUE.match(assigned) if assigned is not None else None
        yield PragmaText(
            offset=match.start(),
            schema=schema,
            name=name.lower(),
            value=value.group(1).lower() if value else None,
            written=(
                written.group(1)
                if written
                else inside.strip()
                if inside is not None and closed
                else ""
            ).lower(),
        )


# A column's REFERENCES other(col) or a FOREIGN KEY clause; prose ("file references the
# lock") has no parenthesised column list.
REFERENCES = re.compile(r"\bREFERENCES\s+[\w\"`\[\]]+\s*\(|\bFOREIGN\s+KEY\s*\(", re.I)
CHECK = re.compile(r"\bCHECK\s*\(", re.I)
BEGIN = re.compile(r"^\W*BEGIN(\s+(IMMEDIATE|EXCLUSIVE|DEFERRED))?\b", re.I)


_STATUS_NAME = re.compile(r"^(\w+_)?(status|state)$", re.I)
_TEXT_TYPE = re.compile(r"^\S+\s+(TEXT|VARCHAR|NVARCHAR|CHAR|CHARACTER|STRING|CLOB)\b", re.I)
_WORD_DEFAULT = re.compile(r"\bDEFAULT\s+'[A-Za-z_]+'", re.I)
_WORKFLOW = re.compile(r"job|task|queue|document|order|run|workflow|pipeline|step|stage", re.I)
_ADDRESS = frozenset({"city", "zip", "zipcode", "zip_code", "postal_code", "postcode", "country",
                      "address", "street", "province", "county"})  # fmt: skip


def short_table_name(name: str) -> str:
    """A table name without its schema and quotes (``"main"."jobs"`` -> ``jobs``)."""
    return name.rsplit(".", 1)[-1].strip('"`[]')


def has_status_column(table: Table) -> bool:
    return any(_STATUS_NAME.match(c.name) for c in table.columns)


def unconstrained_status_columns(
    table: Table, columns: list[Column] | None = None
) -> Iterator[Column]:
    """The status/state text columns of ``table`` (or among ``columns``) with no CHECK or
    foreign key, inline or table-level. A ``state`` column counts only when it holds
    workflow states, not an address or an OAuth token: it defaults to a word ('new',
    'queued') or its table is a job/task/document table. (A later ALTER TABLE that adds a
    constraint is each caller's to look for.)"""
    names = {c.name.lower() for c in table.columns}
    for column in table.columns if columns is None else columns:
        if not _STATUS_NAME.match(column.name) or not _TEXT_TYPE.match(column.definition):
            continue
        if column.name.lower().endswith("state") and not _workflow_state(table, column, names):
            continue
        if re.search(r"\b(CHECK|REFERENCES)\b", column.definition, re.I):
            continue
        mention = re.compile(rf"\b{re.escape(column.name)}\b", re.I)
        if any(mention.search(c) and re.match(r"(CONSTRAINT\s+\S+\s+)?(CHECK|FOREIGN)\b", c, re.I)
               for c in table.constraints):  # fmt: skip
            continue
        yield column


def _workflow_state(table: Table, column: Column, names: set[str]) -> bool:
    if names & _ADDRESS:
        return False
    return bool(_WORD_DEFAULT.search(column.definition) or _WORKFLOW.search(table.name))
