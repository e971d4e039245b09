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

from collections.abc import Iterator

import tree_sitter

from vibe_audit.chunker.parsing import node_text
from vibe_audit.rules.base import Hit, Rule, RuleMeta, node_hit
from vibe_audit.rules.context import RepoContext
from vibe_audit.rules.pydantic_models import (
    field_default,
    fields,
    generic_name,
    optional,
    persisted_models,
    type_arguments,
)
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


def check_repo(repo: RepoContext) -> Iterator[Hit]:
    models, parsed = persisted_models(repo)
    for name in sorted(
        parsed, key=lambda n: (models[n].ctx.source.path, models[n].node.start_byte)
    ):
        model = models[name]
        missing = [f for f in fields(model.node) if _optional_without_default(f)]
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
    if generic_name(node) == "Annotated":
        arguments = type_arguments(node)
        if any(field_default(a) for a in arguments[1:]):
            return False
        if not arguments:
            return False
        node = arguments[0]
    if generic_name(node) == "ClassVar":
        return False
    return optional(node)


RULE = Rule(meta=META, doc=__doc__ or "", check_repo=check_repo)
