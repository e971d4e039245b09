"""The resource map: shared resources of a repository and the symbols that read and write them.

Built once per run by ``vibe_audit.index.build_index``; printed by
`vibe-audit index`, summarised into model requests as interaction context, and read by
repo-level rules.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

ResourceKind = Literal[
    "sql-table", "checkpoint-dir", "file-path", "lock", "shared-object", "queue",
    "websocket-registry",
]  # fmt: skip
RESOURCE_KINDS: tuple[ResourceKind, ...] = (
    "sql-table", "checkpoint-dir", "file-path", "lock", "shared-object", "queue",
    "websocket-registry",
)  # fmt: skip
AccessMode = Literal["read", "write"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Access(_Model):
    """One symbol's reads or writes of one resource."""

    path: str = Field(description="Path relative to the audited root, '/' separated.")
    symbol: str | None = Field(description="Qualified name; None at module level.")
    mode: AccessMode
    lines: list[int] = Field(min_length=1, description="Lines touching the resource, sorted.")
    signature: str = Field(
        description="First line of the symbol's definition ('' at module level)."
    )
    text: list[str] = Field(description="The touching lines, stripped, in the order of lines.")
    operations: list[str] = Field(
        default_factory=list, description="How it touches it: SELECT, UPDATE, open('w'), ..."
    )

    @property
    def where(self) -> str:
        return f"{self.path}:{self.lines[0]}"


class Resource(_Model):
    name: str = Field(description="Table name, path pattern ('*' = computed part) or variable.")
    kind: ResourceKind
    readers: list[Access] = Field(default_factory=list)
    writers: list[Access] = Field(default_factory=list)

    @property
    def accesses(self) -> list[Access]:
        return [*self.writers, *self.readers]


class ResourceMap(_Model):
    files: int = Field(ge=0, description="Files indexed.")
    resources: list[Resource] = Field(default_factory=list)

    def of_kind(self, *kinds: ResourceKind) -> list[Resource]:
        return [r for r in self.resources if r.kind in kinds]
