"""Pydantic models a repository parses from stored data (files, database rows): the
subject of the checkpoint audit's Pydantic items, shared by the rules that check them."""

from __future__ import annotations

import re
from dataclasses import dataclass

import tree_sitter

from vibe_audit.chunker.parsing import node_text
from vibe_audit.rules import syntax
from vibe_audit.rules.context import FileContext, RepoContext

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
class Model:
    ctx: FileContext
    node: tree_sitter.Node
    name: str
    bases: list[str]


def persisted_models(repo: RepoContext) -> tuple[dict[str, Model], dict[str, str]]:
    """The pydantic v2 model classes of the repository by name, and of those the ones parsed
    from stored data (a file, a database row), each with the call that parses it; a model
    reached from a parsed one (a field type, a base class) counts as parsed."""
    files = [ctx for ctx in repo.in_language("python") if "pydantic" in ctx.source.text]
    if not files or not any(_V2_API.search(ctx.source.text) for ctx in files):
        return {}, {}
    models = _models(files)
    if not models:
        return {}, {}
    parsed: dict[str, str] = {}  # model name -> the call that parses it from stored data
    for ctx in repo.in_language("python"):
        if not any(method in ctx.source.text for method in _PARSE_METHODS):
            continue
        for call in syntax.of_type(ctx.root, "call"):
            name = stored_parse(call)
            if name in models and name not in parsed:
                parsed[name] = syntax.callee(call) + "(...)"
    # Models reached from a parsed one: its field types and its base classes.
    pending = list(parsed)
    while pending:
        model = models[pending.pop()]
        reached = set(model.bases)
        for field in fields(model.node):
            annotation = field.child_by_field_name("type")
            if annotation is not None:
                reached.update(_WORD.findall(node_text(annotation)))
        for name in reached:
            if name in models and name not in parsed:
                parsed[name] = parsed[model.name]
                pending.append(name)
    return models, parsed


def stored_parse(call: tree_sitter.Node) -> str | None:
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


def _models(files: list[FileContext]) -> dict[str, Model]:
    """Pydantic model classes by name: subclasses of BaseModel, and of those, in files that
    do not use the pydantic.v1 compatibility API (where Optional fields default to None)."""
    classes: dict[str, Model] = {}
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
            classes[node_text(name)] = Model(ctx, node, node_text(name), bases)
    models: dict[str, Model] = {}
    changed = True
    while changed:
        changed = False
        for class_name, model in classes.items():
            if class_name not in models and any(b in _BASES or b in models for b in model.bases):
                models[class_name] = model
                changed = True
    return models


def fields(cls: tree_sitter.Node) -> list[tree_sitter.Node]:
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


def optional(node: tree_sitter.Node) -> bool:
    if node.type == "type" and node.named_children:
        node = node.named_children[0]
    name = generic_name(node)
    if name == "Optional":
        return True
    if name == "Union":
        return any(node_text(a) == "None" for a in type_arguments(node))
    if node.type == "binary_operator":
        return any(part.type == "none" or node_text(part) == "None" for part in union(node))
    return False


def union(node: tree_sitter.Node) -> list[tree_sitter.Node]:
    """The operands of an ``A | B | None`` annotation."""
    if node.type != "binary_operator":
        return [node]
    left, right = node.child_by_field_name("left"), node.child_by_field_name("right")
    return [p for side in (left, right) if side is not None for p in union(side)]


def generic_name(node: tree_sitter.Node) -> str | None:
    if node.type == "type" and node.named_children:
        node = node.named_children[0]
    if node.type not in {"generic_type", "subscript"}:
        return None
    head = node.named_children[0] if node.named_children else None
    return syntax.last_name(node_text(head)) if head is not None else None


def type_arguments(node: tree_sitter.Node) -> list[tree_sitter.Node]:
    if node.type == "type" and node.named_children:
        node = node.named_children[0]
    if node.type == "subscript":
        return list(node.named_children[1:])
    parameters = next((c for c in node.named_children if c.type == "type_parameter"), None)
    if parameters is None:
        return []
    return [c.named_children[0] if c.type == "type" and c.named_children else c
            for c in parameters.named_children]  # fmt: skip


def field_default(node: tree_sitter.Node) -> bool:
    """``Field(None, ...)`` / ``Field(default=...)`` / ``Field(default_factory=...)``, or a
    ``Field(...)`` that marks the field required on purpose."""
    if node.type != "call" or syntax.last_name(syntax.callee(node)) != "Field":
        return False
    keywords = syntax.keyword_names(node)
    return bool(syntax.positional_args(node)) or bool(keywords & {"default", "default_factory"})
