"""Rewrite the rule table in README.md from the rules' metadata (`vibe-audit rules list -f md`)."""

from __future__ import annotations

import re
from pathlib import Path

from vibe_audit.commands.rules import markdown_table
from vibe_audit.rules.engine import load_rules

README = Path(__file__).resolve().parent.parent / "README.md"


def main() -> None:
    text = README.read_text(encoding="utf-8")
    table = markdown_table(list(load_rules().values()))
    pattern = re.compile(r"^\| rule \| severity \|.*?\n(?=\n)", re.M | re.S)
    new, count = pattern.subn(lambda _: table, text, count=1)
    if count != 1:
        raise SystemExit("README.md has no rule table to replace")
    README.write_text(new, encoding="utf-8")
    print(f"README.md: {len(load_rules())} rules")


if __name__ == "__main__":
    main()
