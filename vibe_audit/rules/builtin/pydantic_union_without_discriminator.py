"""Ambiguous union of pydantic models, without a discriminator, in a model parsed from stored data.

What it finds:
    A field of a pydantic v2 model that the repository parses from stored data (a file or
    a database row, as pydantic-optional-without-default finds them) annotated with a union
    of two or more of the repository's models (``A | B``, ``Union[A, B]``, also inside
    ``list[...]`` / ``Optional[...]``) with no discriminator (``Field(discriminator=...)``,
    ``Discriminator(...)``, a ``Tag``), where the union is ambiguous: one member's required
    fields are all fields of another member that does not forbid extra keys, and no field
    annotated with a ``Literal`` tells the members apart.

Why it matters:
    Without a discriminator pydantic chooses the member by trying them: a record written as
    the larger member can validate as the smaller one (its extra keys are ignored), and the
    loaded object silently loses the fields only the larger member has. The next save
    writes the smaller shape back, so the data is gone from the stored file too. Which
    member wins also changes between pydantic versions ("left to right" vs "smart" mode),
    so an upgrade can change what old checkpoints load as.

Example:
    class TextBlock(BaseModel):
        text: str

    class TableBlock(BaseModel):
        text: str
        rows: list[list[str]] = []

    class Page(BaseModel):
        blocks: list[TextBlock | TableBlock]

    Page.model_validate_json(path.read_text())

Use instead:
    class TextBlock(BaseModel):
        kind: Literal["text"] = "text"
        text: str

    class TableBlock(BaseModel):
        kind: Literal["table"] = "table"
        text: str
        rows: list[list[str]] = []

    class Page(BaseModel):
        blocks: list[Annotated[TextBlock | TableBlock, Field(discriminator="kind")]]
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import tree_sitter

from vibe_audit.chunker.parsing import node_text
from vibe_audit.rules import syntax
from vibe_audit.rules.base import Hit, Rule, RuleMeta, node_hit
from vibe_audit.rules.context import RepoContext
from vibe_audit.rules.pydantic_models import Model, fields, persisted_models
from vibe_audit.schemas import Confidence, Severity

META = RuleMeta(
    id="pydantic-union-without-discriminator",
    title="Ambiguous union of stored pydantic models without a discriminator",
    severity=Severity.MEDIUM,
    confidence=Confidence.MEDIUM,
    categories={"checkpoint": "Pydantic"},
    checklist=["checkpoint.8B"],
    problem=(
        "{model}.{field} is a union of {members} with no discriminator, and {model} is parsed "
        "from stored data ({loaded_by}). A {larger} record also validates as {smaller} "
        "(every required field of {smaller} is a field of {larger}), so pydantic may load "
        "it as {smaller} and drop {larger}'s other fields."
    ),
    scenario=(
        "A stored {larger} is loaded as {smaller}; the program runs on with the fields only "
        "{larger} has missing, and the next save writes the {smaller} shape back over it."
    ),
    impact=(
        "Stored records silently lose data on load, and which member wins can change with a "
        "pydantic upgrade."
    ),
    how_to_verify=(
        "Serialize a {larger} that sets the fields {smaller} lacks, parse it with "
        "{loaded_by}, and check the type and fields of {model}.{field}."
    ),
    fix=(
        "Give each member a tag field (`kind: Literal['...'] = '...'`) and declare the union "
        "with `Field(discriminator='kind')`; or forbid extra keys on {smaller} "
        "(`model_config = ConfigDict(extra='forbid')`) so a {larger} record cannot validate "
        "as it."
    ),
    trade_off=(
        "A tag field changes the stored format: records written before it need a default "
        "tag or a one-time migration."
    ),
    effort_hours=(0.5, 2.0),
    experimental=True,  # no finding on the precision corpus to measure it by
)

_DISCRIMINATED = re.compile(r"\bdiscriminator\s*=|\bDiscriminator\(|\bTag\(")
_FORBID = re.compile(r"extra\s*=\s*['\"]forbid['\"]|Extra\.forbid")
_WORD = re.compile(r"[A-Za-z_]\w*")


def check_repo(repo: RepoContext) -> Iterator[Hit]:
    models, parsed = persisted_models(repo)
    for name in sorted(
        parsed, key=lambda n: (models[n].ctx.source.path, models[n].node.start_byte)
    ):
        model = models[name]
        for field in fields(model.node):
            annotation = field.child_by_field_name("type")
            if annotation is None or _DISCRIMINATED.search(node_text(field)):
                continue
            members = [m for m in _union_members(annotation) if m in models]
            pair = _ambiguous(members, models)
            if pair is None:
                continue
            smaller, larger = pair
            yield node_hit(
                model.ctx,
                field,
                details={
                    "model": name,
                    "field": node_text(field.child_by_field_name("left") or field),
                    "members": " | ".join(members),
                    "smaller": smaller,
                    "larger": larger,
                    "loaded_by": parsed[name],
                },
            )


def _union_members(annotation: tree_sitter.Node) -> list[str]:
    """The class names of the first union in an annotation (``A | B``, ``Union[A, B]``,
    ``Optional[Union[A, B]]``, ``list[A | B]``), ``None`` left out; [] when there is none."""
    for node in syntax.of_type(annotation, "binary_operator", "generic_type", "subscript"):
        if node.type == "binary_operator":
            if node.parent is not None and node.parent.type == "binary_operator":
                continue
            text = node_text(node)
        else:
            head = node.named_children[0] if node.named_children else None
            if head is None or syntax.last_name(node_text(head)) != "Union":
                continue
            text = node_text(node)[len(node_text(head)) :]
        names = [w for w in _WORD.findall(text) if w not in {"None", "Union"}]
        if "|" in text or node.type != "binary_operator":
            return list(dict.fromkeys(names))
    return []


def _ambiguous(members: list[str], models: dict[str, Model]) -> tuple[str, str] | None:
    """(smaller, larger): a member whose required fields are all fields of another member,
    when it accepts extra keys and no Literal-typed field tells the two apart."""
    if len(members) < 2:
        return None
    shapes = {m: _shape(models[m], models) for m in members}
    for smaller in members:
        required, _, literals, forbids = shapes[smaller]
        if forbids:
            continue
        for larger in members:
            if larger == smaller:
                continue
            _, every, other_literals, _ = shapes[larger]
            if required <= every and not (literals & other_literals) and every - required:
                return smaller, larger
    return None


def _shape(
    model: Model, models: dict[str, Model], seen: frozenset[str] = frozenset()
) -> tuple[set[str], set[str], set[str], bool]:
    """Required field names, all field names, names of Literal-typed fields (own and
    inherited from the repository's models), and whether the model forbids extra keys."""
    required: set[str] = set()
    every: set[str] = set()
    literals: set[str] = set()
    forbids = False
    for base in model.bases:
        if base in models and base not in seen:
            r, e, lit, f = _shape(models[base], models, seen | {model.name})
            required |= r
            every |= e
            literals |= lit
            forbids = forbids or f
    for field in fields(model.node):
        name = node_text(field.child_by_field_name("left") or field)
        if name.startswith("_") or name == "model_config":
            continue
        every.add(name)
        if field.child_by_field_name("right") is None:
            required.add(name)
        else:
            required.discard(name)
        annotation = field.child_by_field_name("type")
        if annotation is not None and "Literal[" in node_text(annotation):
            literals.add(name)
    body = model.node.child_by_field_name("body")
    forbids = forbids or (body is not None and bool(_FORBID.search(node_text(body))))
    return required, every, literals, forbids


RULE = Rule(meta=META, doc=__doc__ or "", check_repo=check_repo)
