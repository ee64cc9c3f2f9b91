#!/usr/bin/env bash
# Each public header compiles alone (no hidden include-order dependency), warning-free.
set -u
cd "$(dirname "$0")/../.."
fail=0; n=0
for h in include/mdc/*.h; do
  n=$((n+1))
  if ! printf '#include "%s"\n' "${h#include/}" | \
       cc -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Iinclude -fsyntax-only -x c - 2>/tmp/hdr.$$; then
    echo "FAIL: $h does not compile alone:"; cat /tmp/hdr.$$; fail=1
  fi
done
rm -f /tmp/hdr.$$
echo "checked $n public headers"
exit $fail
