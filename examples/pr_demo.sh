#!/usr/bin/env bash
# Make a throwaway git repository for trying `vibe-audit review` without GitHub: the example
# app as the base commit, then a change that adds one webhook call (with a defect) on top.
#   bash examples/pr_demo.sh DIR && vibe-audit review --path DIR --base HEAD~1 --no-post
set -euo pipefail
dir="${1:?usage: pr_demo.sh DIR}"
here="$(cd "$(dirname "$0")" && pwd)"
rm -rf "$dir" && mkdir -p "$dir"
cp -R "$here/docstore/." "$dir/"
cd "$dir"
git init -q -b main
git -c user.name=demo -c user.email=demo@example.invalid add -A
git -c user.name=demo -c user.email=demo@example.invalid commit -q -m "base: the example app"
cat >> app/worker.py <<'PY'


def notify_done(doc_id: str, callback_url: str) -> None:
    """Tell the uploader that OCR finished."""
    requests.post(callback_url, json={"id": doc_id, "status": "done"})
PY
git -c user.name=demo -c user.email=demo@example.invalid commit -q -am "notify the uploader when OCR finishes"
echo "demo repository ready in $dir (base: HEAD~1)"
