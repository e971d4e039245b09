"""Optional field without a default in a pydantic v2 model that is parsed from stored data.

What it finds:
    A field annotated ``Optional[X]``, ``X | None`` or ``Union[X, None]`` with no ``= ...``
    (and no ``Field(default=...)`` in an ``Annotated[...]``), in a pydantic model class of a
    repository that uses the pydantic v2 API, where that model is parsed from stored data:
    ``Model.model_validate_json(path.read_text())``, ``Model.model_validate(json.load(f))``,
    ``Model.model_validate(cur.fetchone())``, ``TypeAdapter(Model).validate_json(f.read())``,
    ``Model.parse_file(path)`` (the argument, or the local name it was read into, comes from
    a file or a database row), or a model that has such a model as a field type or base.
    Models parsed from HTTP responses and request bodies are not reported: their writer is
    the current code.

Why it matters:
    In pydantic v1 an ``Optional`` field silently got ``None`` as its default. In v2 it does
    not: ``Optional[str]`` only means "may be None", and without a default the key is
    required. A record written before the field existed, by another writer, or with
    ``exclude_none=True`` / ``exclude_unset=True`` lacks the key, and loading it fails with
    "Field required" instead of reading ``None``: old checkpoints and stored records stop
    loading after an upgrade.

Example:
    class PageText(BaseModel):
        page_no: int
        language: Optional[str]            # required in pydantic v2

    PageText.model_validate_json(path.read_text())

Use instead:
    class PageText(BaseModel):
        page_no: int
        language: Optional[str] = None
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

import tree_sitter

from vibe_audit.chunker.parsing import node_text
from vibe_audit.rules import syntax
from vibe_audit.rules.base import Hit, Rule, RuleMeta, node_hit
from vibe_audit.rules.context import FileContext, RepoContext
from vibe_audit.schemas import Confidence, Severity

META = RuleMeta(
    id="pydantic-optional-without-default",
    title="Optional field without a default in a parsed pydantic v2 model",
    severity=Severity.MEDIUM,
    confidence=Confidence.HIGH,
    categories={"checkpoint": "Pydantic"},
    checklist=["checkpoint.8A"],
    problem=(
        "{model} is parsed from stored data ({loaded_by}), and its field(s) {fields} are Optional "
        "without a default. In pydantic v2 such a field is required: it may be None, but the "
        "key must be present."
    ),
    scenario=(
        "A {model} record written before {first_field} was added, or written by another "
        "writer or with exclude_none=True, has no '{first_field}' key: loading it raises "
        "ValidationError ('Field required') instead of reading None."
    ),
    impact=(
        "Stored records and checkpoints stop loading after a model change or a pydantic v1 "
        "to v2 upgrade; resume or read paths fail on data that was valid when written."
    ),
    how_to_verify=(
        "Call {model}.model_validate() on a dict without '{first_field}': pydantic v2 "
        "reports 'Field required'."
    ),
    fix=(
        "Give every Optional field of a stored model an explicit default: "
        "`{first_field}: Optional[...] = None`. Mark a field required-but-nullable on "
        "purpose with `= Field(...)`."
    ),
    trade_off="None.",
    effort_hours=(0.1, 0.5),
)

_V2_API = re.compile(
    r"\bmodel_validate|\bmodel_dump|\bmodel_config\b|\bConfigDict\b|\bfield_validator\b|"
    r"\bmodel_validator\b|\bTypeAdapter\b|\bmodel_fields\b"
)
_BASES = frozenset({"BaseModel", "pydantic.BaseModel", "RootModel", "pydantic.RootModel"})
_PARSE_METHODS = frozenset(
    {"model_validate", "model_validate_json", "model_validate_strings", "parse_obj",
     "parse_raw", "parse_file", "validate_json", "validate_python"}
)  # fmt: skip
# An argument read from a file: stored data, written earlier (maybe by an older version).
_STORED = re.compile(
    r"read_text\(|read_bytes\(|\.read\(|json\.loads?\(|\bopen\(|fetch(?:one|all|many)\("
)
_ADAPTED = re.compile(r"TypeAdapter\(\s*(?:(?:list|List|dict|Dict|Sequence)\[(?:str,\s*)?)?(\w+)")
_WORD = re.compile(r"[A-Za-z_]\w*")


@dataclass
class _Model:
    ctx: FileContext
    node: tree_sitter.Node
    name: str
    bases: list[str]


def check_repo(repo: RepoContext) -> Iterator[Hit]:
    files = [ctx for ctx in repo.in_language("python") if "pydantic" in ctx.source.text]
    if not files or not any(_V2_API.search(ctx.source.text) for ctx in files):
        return
    models = _models(files)
    if not models:
        return
    parsed: dict[str, str] = {}  # model name -> the call that parses it from stored data
    for ctx in repo.in_language("python"):
        if not any(method in ctx.source.text for method in _PARSE_METHODS):
            continue
        for call in syntax.of_type(ctx.root, "call"):
            name = _stored_parse(call)
            if name in models and name not in parsed:
                parsed[name] = syntax.callee(call) + "(...)"
    # Models reached from a parsed one: its field types and its base classes.
    pending = list(parsed)
    while pending:
        model = models[pending.pop()]
        reached = set(model.bases)
        for field in _fields(model.node):
            annotation = field.child_by_field_name("type")
            if annotation is not None:
                reached.update(_WORD.findall(node_text(annotation)))
        for name in reached:
            if name in models and name not in parsed:
                parsed[name] = parsed[model.name]
                pending.append(name)
    for name in sorted(
        parsed, key=lambda n: (models[n].ctx.source.path, models[n].node.start_byte)
    ):
        model = models[name]
        missing = [f for f in _fields(model.node) if _optional_without_default(f)]
        if not missing:
            continue
        names = [node_text(f.child_by_field_name("left") or f) for f in missing]
        yield node_hit(
            model.ctx,
            missing[0],
            until=missing[-1] if len(missing) <= 3 else missing[0],
            details={
                "model": name,
                "loaded_by": parsed[name],
                "fields": ", ".join(names),
                "first_field": names[0],
            },
        )


def _stored_parse(call: tree_sitter.Node) -> str | None:
    """The model a call parses from stored data: ``Model.model_validate_json(p.read_text())``,
    ``Model.model_validate(json.load(f))``, ``Model.parse_file(p)``, or a local name bound to
    such a read in the same function; the argument decides, so parsing an HTTP response or
    a request body is left out."""
    function = call.child_by_field_name("function")
    if function is None or function.type != "attribute":
        return None
    method = function.child_by_field_name("attribute")
    receiver = function.child_by_field_name("object")
    if method is None or receiver is None or node_text(method) not in _PARSE_METHODS:
        return None
    if receiver.type == "identifier":
        model = node_text(receiver)
    elif receiver.type == "call" and syntax.last_name(syntax.callee(receiver)) == "TypeAdapter":
        found = _ADAPTED.search(node_text(receiver))
        model = found.group(1) if found else ""
    else:
        return None
    if node_text(method) == "parse_file":
        return model
    args = syntax.positional_args(call)
    if not args:
        return None
    text = node_text(args[0])
    if _STORED.search(text):
        return model
    scope = syntax.enclosing(call, "function_definition")
    if args[0].type == "identifier" and scope is not None:
        for node in syntax.body_nodes(scope, "assignment"):
            if node.start_byte > call.start_byte:
                break
            left = node.child_by_field_name("left")
            right = node.child_by_field_name("right")
            if left is None or right is None or node_text(left) != text:
                continue
            if _STORED.search(node_text(right)):
                return model
    return None


def _models(files: list[FileContext]) -> dict[str, _Model]:
    """Pydantic model classes by name: subclasses of BaseModel, and of those, in files that
    do not use the pydantic.v1 compatibility API (where Optional fields default to None)."""
    classes: dict[str, _Model] = {}
    for ctx in files:
        if "pydantic.v1" in ctx.source.text:
            continue
        for node in syntax.of_type(ctx.root, "class_definition"):
            name = node.child_by_field_name("name")
            supers = node.child_by_field_name("superclasses")
            if name is None or supers is None:
                continue
            bases = [
                node_text(b).split("[")[0]
                for b in supers.named_children
                if b.type in {"identifier", "attribute", "subscript"}
            ]
            classes[node_text(name)] = _Model(ctx, node, node_text(name), bases)
    models: dict[str, _Model] = {}
    changed = True
    while changed:
        changed = False
        for class_name, model in classes.items():
            if class_name not in models and any(b in _BASES or b in models for b in model.bases):
                models[class_name] = model
                changed = True
    return models


def _fields(cls: tree_sitter.Node) -> list[tree_sitter.Node]:
    """Annotated assignments directly in a class body (``name: type`` / ``name: type = v``)."""
    body = cls.child_by_field_name("body")
    found = []
    for statement in body.named_children if body is not None else []:
        if statement.type != "expression_statement" or not statement.named_children:
            continue
        node = statement.named_children[0]
        if node.type == "assignment" and node.child_by_field_name("type") is not None:
            left = node.child_by_field_name("left")
            if left is not None and left.type == "identifier":
                found.append(node)
    return found


def _optional_without_default(field: tree_sitter.Node) -> bool:
    if field.child_by_field_name("right") is not None:
        return False
    name = node_text(field.child_by_field_name("left") or field)
    if name.startswith("_") or name == "model_config":
        return False
    annotation = field.child_by_field_name("type")
    if annotation is None:
        return False
    node = annotation.named_children[0] if annotation.named_children else annotation
    if _generic_name(node) == "Annotated":
        arguments = _type_arguments(node)
        if any(_field_default(a) for a in arguments[1:]):
            return False
        if not arguments:
            return False
        node = arguments[0]
    if _generic_name(node) == "ClassVar":
        return False
    return _optional(node)


def _optional(node: tree_sitter.Node) -> bool:
    if node.type == "type" and node.named_children:
        node = node.named_children[0]
    name = _generic_name(node)
    if name == "Optional":
        return True
    if name == "Union":
        return any(node_text(a) == "None" for a in _type_arguments(node))
    if node.type == "binary_operator":
        return any(part.type == "none" or node_text(part) == "None" for part in _union(node))
    return False


def _union(node: tree_sitter.Node) -> list[tree_sitter.Node]:
    """The operands of an ``A | B | None`` annotation."""
    if node.type != "binary_operator":
        return [node]
    left, right = node.child_by_field_name("left"), node.child_by_field_name("right")
    return [p for side in (left, right) if side is not None for p in _union(side)]


def _generic_name(node: tree_sitter.Node) -> str | None:
    if node.type == "type" and node.named_children:
        node = node.named_children[0]
    if node.type not in {"generic_type", "subscript"}:
        return None
    head = node.named_children[0] if node.named_children else None
    return syntax.last_name(node_text(head)) if head is not None else None


def _type_arguments(node: tree_sitter.Node) -> list[tree_sitter.Node]:
    if node.type == "type" and node.named_children:
        node = node.named_children[0]
    if node.type == "subscript":
        return list(node.named_children[1:])
    parameters = next((c for c in node.named_children if c.type == "type_parameter"), None)
    if parameters is None:
        return []
    return [c.named_children[0] if c.type == "type" and c.named_children else c
            for c in parameters.named_children]  # fmt: skip


def _field_default(node: tree_sitter.Node) -> bool:
    """``Field(None, ...)`` / ``Field(default=...)`` / ``Field(default_factory=...)``, or a
    ``Field(...)`` that marks the field required on purpose."""
    if node.type != "call" or syntax.last_name(syntax.callee(node)) != "Field":
        return False
    keywords = syntax.keyword_names(node)
    return bool(syntax.positional_args(node)) or bool(keywords & {"default", "default_factory"})


RULE = Rule(meta=META, doc=__doc__ or "", check_repo=check_repo)
