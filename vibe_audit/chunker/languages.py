"""The languages the chunker knows: grammar wheel, file names, and the node types that matter.

Parsed languages come from the official per-language tree-sitter grammar wheels. Languages
without a grammar here (SQL, Dockerfile, YAML, TOML, INI) are sliced in line windows.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import PurePosixPath

import tree_sitter_go
import tree_sitter_java
import tree_sitter_javascript
import tree_sitter_python
import tree_sitter_rust
import tree_sitter_typescript


@dataclass(frozen=True)
class LanguageSpec:
    name: str
    grammar: Callable[[], object] | None  # None: sliced in line windows
    suffixes: tuple[str, ...] = ()
    filenames: tuple[str, ...] = ()
    functions: frozenset[str] = frozenset()  # function-like definitions
    containers: frozenset[str] = frozenset()  # class-like: sliced by member when large
    bodies: frozenset[str] = frozenset()  # the member list node of a container
    wrappers: frozenset[str] = frozenset()  # decorated_definition, export_statement, ...
    imports: frozenset[str] = frozenset()
    leading: frozenset[str] = frozenset()  # comments/attributes that belong to what follows
    setup: frozenset[str] = frozenset()  # module-level statements that define names
    statement_blocks: frozenset[str] = field(default_factory=frozenset)  # function bodies


_JS_COMMON = dict(
    functions=frozenset(
        {"function_declaration", "generator_function_declaration", "method_definition",
         "function_signature"}
    ),
    containers=frozenset(
        {"class_declaration", "abstract_class_declaration", "interface_declaration",
         "enum_declaration", "internal_module", "module"}
    ),
    bodies=frozenset({"class_body", "interface_body", "enum_body", "statement_block"}),
    wrappers=frozenset({"export_statement"}),
    imports=frozenset({"import_statement"}),
    leading=frozenset({"comment", "decorator"}),
    setup=frozenset({"lexical_declaration", "variable_declaration"}),
    statement_blocks=frozenset({"statement_block"}),
)  # fmt: skip

LANGUAGES: dict[str, LanguageSpec] = {
    spec.name: spec
    for spec in (
        LanguageSpec(
            name="python",
            grammar=tree_sitter_python.language,
            suffixes=(".py", ".pyi"),
            functions=frozenset({"function_definition"}),
            containers=frozenset({"class_definition"}),
            bodies=frozenset({"block"}),
            wrappers=frozenset({"decorated_definition"}),
            imports=frozenset(
                {"import_statement", "import_from_statement", "future_import_statement"}
            ),
            leading=frozenset({"comment"}),
            setup=frozenset({"expression_statement"}),
            statement_blocks=frozenset({"block"}),
        ),
        LanguageSpec(
            name="javascript",
            grammar=tree_sitter_javascript.language,
            suffixes=(".js", ".jsx", ".mjs", ".cjs"),
            **_JS_COMMON,  # type: ignore[arg-type]
        ),
        LanguageSpec(
            name="typescript",
            grammar=tree_sitter_typescript.language_typescript,
            suffixes=(".ts", ".mts", ".cts"),
            **_JS_COMMON,  # type: ignore[arg-type]
        ),
        LanguageSpec(
            name="tsx",
            grammar=tree_sitter_typescript.language_tsx,
            suffixes=(".tsx",),
            **_JS_COMMON,  # type: ignore[arg-type]
        ),
        LanguageSpec(
            name="rust",
            grammar=tree_sitter_rust.language,
            suffixes=(".rs",),
            functions=frozenset({"function_item", "function_signature_item", "macro_definition"}),
            containers=frozenset(
                {"impl_item", "trait_item", "mod_item", "struct_item", "enum_item"}
            ),
            bodies=frozenset({"declaration_list", "field_declaration_list", "enum_variant_list"}),
            imports=frozenset({"use_declaration", "extern_crate_declaration"}),
            leading=frozenset({"line_comment", "block_comment", "attribute_item"}),
            setup=frozenset({"const_item", "static_item", "let_declaration"}),
            statement_blocks=frozenset({"block"}),
        ),
        LanguageSpec(
            name="go",
            grammar=tree_sitter_go.language,
            suffixes=(".go",),
            functions=frozenset({"function_declaration", "method_declaration"}),
            containers=frozenset({"type_declaration"}),
            bodies=frozenset(),
            imports=frozenset({"import_declaration"}),
            leading=frozenset({"comment"}),
            setup=frozenset({"var_declaration", "const_declaration"}),
            statement_blocks=frozenset({"block", "statement_list"}),
        ),
        LanguageSpec(
            name="java",
            grammar=tree_sitter_java.language,
            suffixes=(".java",),
            functions=frozenset(
                {"method_declaration", "constructor_declaration", "compact_constructor_declaration"}
            ),
            containers=frozenset(
                {
                    "class_declaration",
                    "interface_declaration",
                    "enum_declaration",
                    "record_declaration",
                    "annotation_type_declaration",
                }
            ),
            bodies=frozenset({"class_body", "interface_body", "enum_body", "annotation_type_body"}),
            imports=frozenset({"import_declaration"}),
            leading=frozenset({"line_comment", "block_comment"}),
            setup=frozenset({"field_declaration"}),
            statement_blocks=frozenset({"block", "constructor_body"}),
        ),
        LanguageSpec(name="sql", grammar=None, suffixes=(".sql",)),
        LanguageSpec(
            name="dockerfile", grammar=None, suffixes=(".dockerfile",), filenames=("Dockerfile",)
        ),
        LanguageSpec(name="yaml", grammar=None, suffixes=(".yaml", ".yml")),
        LanguageSpec(name="toml", grammar=None, suffixes=(".toml",)),
        LanguageSpec(name="ini", grammar=None, suffixes=(".ini", ".cfg", ".conf")),
    )
}

_BY_SUFFIX = {suffix: spec for spec in LANGUAGES.values() for suffix in spec.suffixes}


def language_for(path: str) -> LanguageSpec | None:
    """The language of a file by name, or None when the chunker does not read it."""
    pure = PurePosixPath(path)
    for spec in LANGUAGES.values():
        if any(pure.name == n or pure.name.startswith(n + ".") for n in spec.filenames):
            return spec
    return _BY_SUFFIX.get(pure.suffix.lower())
