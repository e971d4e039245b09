"""Untagged serde enum in saved state where an earlier variant swallows a later one (Rust).

What it finds:
    A ``#[serde(untagged)]`` enum deriving ``Deserialize`` whose earlier variant
    (struct-like, or a newtype around a struct of the repository) has required fields
    that are all fields of a later variant, with the same types, while the later variant
    has fields the earlier one lacks and the earlier one does not
    ``deny_unknown_fields``. Only enums in state the program saves and loads: the enum,
    or a struct holding it (up to three levels), is named in a function that reads a
    file and deserializes it (``serde_json::from_str`` / ``from_reader`` / ``from_slice``,
    ``toml::from_str`` ...) and in one that serializes and writes a file.

Why it matters:
    serde tries an untagged enum's variants in order and takes the first that fits,
    ignoring unknown keys. A saved value of the later variant also fits the earlier one,
    so it loads as the earlier variant and the fields only the later variant has are
    silently dropped. The next save writes the smaller shape back, so the data is lost
    from the file too.

Example:
    #[derive(Serialize, Deserialize)]
    #[serde(untagged)]
    enum Step {
        Pending { id: String },
        Done { id: String, output: PathBuf },   // loads as Pending: output is lost
    }

Use instead:
    #[derive(Serialize, Deserialize)]
    #[serde(tag = "kind")]
    enum Step {
        Pending { id: String },
        Done { id: String, output: PathBuf },
    }
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

import tree_sitter

from vibe_audit.chunker.parsing import node_text
from vibe_audit.rules import rust, syntax
from vibe_audit.rules.base import Hit, Rule, RuleMeta, node_hit
from vibe_audit.rules.context import FileContext, RepoContext
from vibe_audit.schemas import Confidence, Severity

META = RuleMeta(
    id="rust-serde-untagged-variant-shadowed",
    title="Untagged serde enum in saved state where an earlier variant swallows a later one",
    severity=Severity.MEDIUM,
    confidence=Confidence.MEDIUM,
    categories={"checkpoint": "Pydantic"},
    checklist=["checkpoint.8B"],
    problem=(
        "{enum} is `#[serde(untagged)]` and saved to a file ({saved_by}). Every required "
        "field of {smaller} is also a field of {larger}, so a saved {larger} loads as "
        "{smaller} and loses {lost}."
    ),
    scenario=(
        "A {larger} is saved and loaded back: serde tries {smaller} first, it fits, and "
        "the value comes back as {smaller} without {lost}; the next save writes that back."
    ),
    impact="Saved state silently loses data on every load and save cycle.",
    how_to_verify=(
        "Serialize a {larger} value of {enum} with serde_json and deserialize it again: "
        "the result is {smaller}."
    ),
    fix=(
        'Tag the enum (`#[serde(tag = "kind")]` or the default external tagging), or '
        "put the variant with more fields first, or add `#[serde(deny_unknown_fields)]` "
        "to {smaller}'s struct."
    ),
    trade_off="Changing the tagging changes the file format: migrate or accept both on load.",
    effort_hours=(0.25, 1.0),
    languages=["rust"],
    experimental=True,
)


@dataclass(frozen=True)
class _Shape:
    name: str
    fields: dict[str, str]  # key -> type text (Option<> removed)
    required: frozenset[str]
    denies_unknown: bool


_FORMATS = r"(serde_json|toml|serde_yaml|serde_yml|ron|json5)::"
_LOAD = re.compile(_FORMATS + r"(from_str|from_reader|from_slice)\b|\bfrom_reader\(")
_READ = re.compile(r"\b(read_to_string|File::open|fs::read|read_to_end)\b")
_DUMP = re.compile(
    _FORMATS + r"(to_string|to_string_pretty|to_writer|to_writer_pretty|to_vec|to_vec_pretty)\b"
    r"|\bto_writer(_pretty)?\("
)
_WRITE = re.compile(r"\b(fs::write|File::create|OpenOptions|persist|write_all)\b")
_TYPE_NAME = re.compile(r"\b([A-Z][A-Za-z0-9_]*)\b")


def check_repo(repo: RepoContext) -> Iterator[Hit]:
    files = [
        ctx
        for ctx in repo.in_language("rust")
        if not syntax.is_test_path(ctx.source.path) and "serde" in ctx.source.text
    ]
    if not any("untagged" in ctx.source.text for ctx in files):
        return
    structs: dict[str, _Shape] = {}
    holders: dict[str, set[str]] = {}  # type name -> struct names with a field of it
    for ctx in files:
        for item in syntax.of_type(ctx.root, "struct_item"):
            shape = _struct_shape(item)
            if shape is None:
                continue
            structs[shape.name] = shape
            for kind in shape.fields.values():
                for used in _TYPE_NAME.findall(kind):
                    holders.setdefault(used, set()).add(shape.name)
    loaded, saved = _persisted(files)
    for ctx in files:
        if "untagged" not in ctx.source.text:
            continue
        for enum in syntax.of_type(ctx.root, "enum_item"):
            if rust.is_rust_test(enum, ctx.source.path):
                continue
            hit = _check_enum(ctx, enum, structs, holders, loaded, saved)
            if hit is not None:
                yield hit


def _check_enum(
    ctx: FileContext,
    enum: tree_sitter.Node,
    structs: dict[str, _Shape],
    holders: dict[str, set[str]],
    loaded: dict[str, str],
    saved: dict[str, str],
) -> Hit | None:
    attributes = " ".join(_attributes(enum))
    if not re.search(r"serde\s*\(\s*untagged", attributes) or "Deserialize" not in attributes:
        return None
    name_node = enum.child_by_field_name("name")
    body = enum.child_by_field_name("body")
    if name_node is None or body is None:
        return None
    name = node_text(name_node)
    containers = _containers(name, holders)
    load = next((loaded[c] for c in containers if c in loaded), None)
    save = next((saved[c] for c in containers if c in saved), None)
    if load is None or save is None:
        return None
    variants = [
        (v, shape)
        for v in body.named_children
        if v.type == "enum_variant" and (shape := _variant_shape(v, structs)) is not None
    ]
    for index, (variant, small) in enumerate(variants):
        if small.denies_unknown or not small.fields:
            continue
        for _, large in variants[index + 1 :]:
            lost = sorted(set(large.fields) - set(small.fields))
            if not lost or not small.required <= set(large.fields):
                continue
            if any(small.fields[f] != large.fields[f] for f in small.required):
                continue
            return node_hit(
                ctx,
                variant,
                named_by=variant,
                details={
                    "enum": name,
                    "smaller": f"{name}::{small.name}",
                    "larger": f"{name}::{large.name}",
                    "lost": ", ".join(f"`{f}`" for f in lost[:4]),
                    "saved_by": f"saved in {save}, loaded in {load}",
                },
            )
    return None


def _containers(name: str, holders: dict[str, set[str]]) -> list[str]:
    """``name`` and the structs holding it, up to three levels up."""
    found = [name]
    frontier = [name]
    for _ in range(3):
        frontier = sorted({h for f in frontier for h in holders.get(f, set())} - set(found))
        found += frontier
    return found


def _persisted(files: list[FileContext]) -> tuple[dict[str, str], dict[str, str]]:
    """({type name: function} of functions that read a file and deserialize, and the same
    for functions that serialize and write a file)."""
    loaded: dict[str, str] = {}
    saved: dict[str, str] = {}
    for ctx in files:
        for function in rust.rust_functions(ctx.root):
            if rust.is_rust_test(function, ctx.source.path):
                continue
            text = node_text(function)
            where = f"{rust.rust_function_name(function)}() at {ctx.source.path}"
            names = set(_TYPE_NAME.findall(text))
            if "Self" in names or any(syntax.of_type(function, "self_parameter")):
                names |= _impl_type(function)
            if _LOAD.search(text) and _READ.search(text):
                for n in names:
                    loaded.setdefault(n, where)
            if _DUMP.search(text) and _WRITE.search(text):
                for n in names:
                    saved.setdefault(n, where)
    return loaded, saved


def _impl_type(function: tree_sitter.Node) -> set[str]:
    current = function.parent
    while current is not None and current.type != "impl_item":
        current = current.parent
    kind = current.child_by_field_name("type") if current is not None else None
    return {node_text(kind).split("<")[0]} if kind is not None else set()


def _attributes(item: tree_sitter.Node) -> list[str]:
    found: list[str] = []
    sibling = item.prev_named_sibling
    while sibling is not None and sibling.type in {
        "attribute_item",
        "line_comment",
        "block_comment",
    }:
        if sibling.type == "attribute_item":
            found.append(node_text(sibling))
        sibling = sibling.prev_named_sibling
    return found


def _fields(body: tree_sitter.Node, container_default: bool) -> tuple[dict[str, str], set[str]]:
    fields: dict[str, str] = {}
    required: set[str] = set()
    for field in body.named_children:
        if field.type != "field_declaration":
            continue
        name = field.child_by_field_name("name")
        kind = field.child_by_field_name("type")
        if name is None or kind is None:
            continue
        attrs = " ".join(_attributes(field))
        if re.search(r"serde\s*\([^)]*\b(skip|flatten)\b(?!_serializing_if)", attrs):
            continue
        rename = re.search(r'rename\s*=\s*"([^"]+)"', attrs)
        key = rename.group(1) if rename else node_text(name)
        text = re.sub(r"\s+", "", node_text(kind))
        optional = text.startswith("Option<") or text.startswith("std::option::Option<")
        fields[key] = re.sub(r"^(std::option::)?Option<(.*)>$", r"\2", text)
        if not optional and not container_default and not re.search(r"\bdefault\b", attrs):
            required.add(key)
    return fields, required


def _struct_shape(item: tree_sitter.Node) -> _Shape | None:
    name = item.child_by_field_name("name")
    body = item.child_by_field_name("body")
    if name is None or body is None or body.type != "field_declaration_list":
        return None
    attrs = " ".join(_attributes(item))
    if "Deserialize" not in attrs:
        return None
    if re.search(r"serde\s*\([^)]*\b(flatten|tag|rename_all)\b", attrs):
        return None
    container_default = bool(re.search(r"serde\s*\([^)]*\bdefault\b", attrs))
    fields, required = _fields(body, container_default)
    if any("flatten" in a for f in body.named_children for a in _attributes(f)):
        return None  # flattened fields take the unknown keys: shapes unknown
    return _Shape(node_text(name), fields, frozenset(required), "deny_unknown_fields" in attrs)


def _variant_shape(variant: tree_sitter.Node, structs: dict[str, _Shape]) -> _Shape | None:
    name = variant.child_by_field_name("name")
    body = variant.child_by_field_name("body")
    if name is None or body is None:
        return None
    attrs = " ".join(_attributes(variant))
    if re.search(r"serde\s*\([^)]*\b(skip|other|deserialize_with|with)\b", attrs):
        return None
    if body.type == "field_declaration_list":
        if any("flatten" in a for f in body.named_children for a in _attributes(f)):
            return None
        fields, required = _fields(body, False)
        return _Shape(node_text(name), fields, frozenset(required), False)
    if body.type == "ordered_field_declaration_list":
        types = [
            c
            for c in body.named_children
            if c.type not in {"attribute_item", "visibility_modifier"}
        ]
        if len(types) != 1:
            return None
        inner = re.sub(r"<.*", "", node_text(types[0])).rsplit("::", 1)[-1]
        shape = structs.get(inner)
        if shape is None:
            return None
        return _Shape(node_text(name), shape.fields, shape.required, shape.denies_unknown)
    return None


RULE = Rule(meta=META, doc=__doc__ or "", check_repo=check_repo)
