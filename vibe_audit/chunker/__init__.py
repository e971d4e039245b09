"""Discover files, parse them with tree-sitter, slice them by symbol, count tokens."""

from vibe_audit.chunker.discover import Discovery, DiscoveryOptions, discover
from vibe_audit.chunker.parsing import parse
from vibe_audit.chunker.slicer import recount, slice_file
from vibe_audit.chunker.tokens import count_tokens, token_counter

__all__ = [
    "Discovery",
    "DiscoveryOptions",
    "count_tokens",
    "discover",
    "parse",
    "recount",
    "slice_file",
    "token_counter",
]
