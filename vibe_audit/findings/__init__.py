"""The steps after the model and the rules: verify each finding against the source (and
re-run absence searches), fuse and number them, suppress, score each audit, build the
coverage ledger. Models stay in vibe_audit.schemas."""
