#!/usr/bin/env bash
# A short banned list, as curl's checksrc: functions with unbounded writes, hidden global
# state or no error reporting.  Use snprintf, memcpy with a checked length, strtol/strtod,
# strtok_r, gmtime_r/localtime_r instead.
set -u
cd "$(dirname "$0")/../.."
pattern='(^|[^_a-zA-Z0-9])(sprintf|vsprintf|strcpy|strcat|strtok|gets|atoi|atol|atof|localtime|gmtime|ctime|asctime)[[:space:]]*\('
hits=$(grep -rnE "$pattern" src tools tests/unit tests/fuzz --include='*.c' --include='*.h' | grep -v 'lint-allow' || true)
if [ -n "$hits" ]; then
  echo "banned functions used:"; echo "$hits"; exit 1
fi
echo "no banned function in src/ tools/ tests/"
