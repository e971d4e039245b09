"""Built-in rules, one per module. Each module defines RULE."""
