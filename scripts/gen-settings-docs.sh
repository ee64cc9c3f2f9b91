#!/usr/bin/env bash
# Regenerates .env.example and README's settings table (between the
# "<!-- settings-table:begin -->" / "end" markers) from the one settings table in
# src/service/config.c, through `md-converter settings env|markdown`.
# tests/lint/test_lint_settings_docs.sh fails when either is out of date.
#   scripts/gen-settings-docs.sh            rewrite both
#   scripts/gen-settings-docs.sh --check    only compare; exit 1 and show a diff if stale
set -eu
cd "$(dirname "$0")/.."
BIN=${MDC_BUILD_DIR:-build}/md-converter
[ -x "$BIN" ] || { echo "build $BIN first (make)" >&2; exit 2; }
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
"$BIN" settings env >"$tmp/env"
"$BIN" settings markdown >"$tmp/table"
grep -q '^<!-- settings-table:begin -->$' README.md && grep -q '^<!-- settings-table:end -->$' README.md ||
  { echo "README.md lacks the settings-table markers" >&2; exit 1; }
awk -v table="$tmp/table" '
  /^<!-- settings-table:begin -->$/ { print; while ((getline l < table) > 0) print l; skip = 1; next }
  /^<!-- settings-table:end -->$/ { skip = 0 }
  !skip { print }' README.md >"$tmp/readme"
if [ "${1:-}" = --check ]; then
  rc=0
  diff -u .env.example "$tmp/env" || { echo ".env.example is stale: run scripts/gen-settings-docs.sh"; rc=1; }
  diff -u README.md "$tmp/readme" || { echo "README's settings table is stale: run scripts/gen-settings-docs.sh"; rc=1; }
  exit $rc
fi
cp "$tmp/env" .env.example
cp "$tmp/readme" README.md
echo "updated .env.example and README.md"
