#!/usr/bin/env bash
# .env.example and README's settings table are what the one settings table
# (src/service/config.c) generates, byte for byte, and README's table lists every
# setting exactly once (so a row added to the table and not to the docs fails here).
set -u
cd "$(dirname "$0")/../.."
BIN=${MDC_BUILD_DIR:-build}/md-converter
[ -x "$BIN" ] || { echo "no $BIN"; exit 1; }
fail=0
scripts/gen-settings-docs.sh --check || fail=1
names=$("$BIN" settings env | sed -n 's/^#\{0,1\}\([A-Z][A-Z0-9_]*\)=.*/\1/p')
n=$(echo "$names" | wc -l)
[ "$n" -ge 20 ] || { echo "only $n settings in the table?"; fail=1; }
for v in $names; do
  c=$(grep -c "^| \`$v\` |" README.md)
  [ "$c" -eq 1 ] || { echo "README's settings table lists $v $c times"; fail=1; }
done
echo "checked $n settings"
exit $fail
