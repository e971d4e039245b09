"""Discover files, parse them with tree-sitter, slice them by symbol, count tokens."""

from vibe_audit.chunker.discover import Discovery, discover
from vibe_audit.chunker.parsing import parse
from vibe_audit.chunker.slicer import slice_file
from vibe_audit.chunker.tokens import TOKEN_COUNTER, count_tokens

__all__ = ["TOKEN_COUNTER", "Discovery", "count_tokens", "discover", "parse", "slice_file"]
