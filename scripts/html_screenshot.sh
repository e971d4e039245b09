#!/usr/bin/env bash
# Render the example app's HTML report and open it in headless Chromium; save a screenshot.
#   scripts/html_screenshot.sh [OUT_DIR]     (default: .bench/html)
# Needs Debian's chromium (apt-get install chromium). Exits non-zero if Chromium cannot
# render the page or the screenshot is empty; exits 2 if no Chromium is found.
# PYTHON names the interpreter with vibe-audit installed (default: .venv/bin/python); the
# test suite runs this script when a Chromium is on PATH (tests/report/test_html_screenshot.py).
set -euo pipefail
cd "$(dirname "$0")/.."
browser="$(command -v chromium || command -v chromium-browser || command -v google-chrome || true)"
if [ -z "$browser" ]; then
  echo "chromium not found: apt-get install chromium" >&2
  exit 2
fi
py="${PYTHON:-.venv/bin/python}"
out="${1:-.bench/html}"
mkdir -p "$out"
out="$(cd "$out" && pwd)"
"$py" -m vibe_audit run examples/docstore --prompt all --format html --out "$out/report.html" --quiet
"$py" -m vibe_audit run examples/docstore --prompt all --format json --out "$out/report.json" --quiet
# The filter counter shows one entry per distinct issue: count them from the report's JSON
# (the readable formats group repeated sites of one pattern), never a hard-coded number.
issues="$("$py" - "$out/report.json" <<'PY'
import json, sys
from vibe_audit.report.groups import group_findings
from vibe_audit.schemas import Report
report = Report.model_validate(json.load(open(sys.argv[1], encoding="utf-8")))
print(len(group_findings(report.findings)))
PY
)"
flags=(--headless --no-sandbox --disable-gpu --disable-quic --no-first-run
       --disable-background-networking --disable-component-update --disable-sync
       --user-data-dir="$(mktemp -d)" --hide-scrollbars)
"$browser" "${flags[@]}" --window-size=1280,2400 --screenshot="$out/report.png" \
  "file://$out/report.html" 2>/dev/null
# The DOM after the page's script ran: the filter counter must have been filled in.
"$browser" "${flags[@]}" --dump-dom "file://$out/report.html" 2>/dev/null > "$out/dom.html"
test -s "$out/report.png"
grep -q "<span id=\"shown\">$issues</span>" "$out/dom.html"
echo "screenshot: $out/report.png ($(stat -c %s "$out/report.png") bytes); DOM check passed ($issues issues shown)"
