"""vibe-audit: an LLM-driven code audit agent with a built-in rule engine."""

__version__ = "0.1.0"
