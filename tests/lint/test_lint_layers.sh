#!/usr/bin/env bash
# Layering (docs/ARCHITECTURE.md): main → service → {whisper, audio, report, metrics, vad}
# → common.  A middle module includes only its own headers, its public header and
# common's (every include/mdc/*.h that is not a middle module's: log, clock, cpu,
# strbuf, utf8, mapguard …); common includes no other module; nothing below service
# includes service.
set -u
cd "$(dirname "$0")/../.."
middle="whisper audio report metrics vad"
common_hdrs=""
for h in include/mdc/*.h; do
  n=$(basename "$h" .h)
  [[ " $middle " == *" $n "* ]] || common_hdrs="$common_hdrs $n"
done
fail=0
allowed_public() { # module → allowed mdc/*.h names
  local m=$1
  case $m in
    whisper) echo "whisper $common_hdrs" ;;
    audio) echo "audio $common_hdrs" ;;
    report) echo "report $common_hdrs" ;;
    metrics) echo "metrics $common_hdrs" ;;
    vad) echo "vad $common_hdrs" ;;
    common) echo "$common_hdrs" ;;
  esac
}
for m in $middle common; do
  ok=" $(allowed_public "$m") "
  while IFS= read -r line; do
    file=${line%%:*}
    inc=$(printf '%s' "$line" | sed -n 's/.*#include[[:space:]]*"\([^"]*\)".*/\1/p')
    [ -n "$inc" ] || continue
    case $inc in
      mdc/*.h)
        h=${inc#mdc/}; h=${h%.h}
        [[ $ok == *" $h "* ]] || { echo "layering: $file includes $inc"; fail=1; } ;;
      */*)
        dir=${inc%%/*}
        [ "$dir" = "$m" ] || { echo "layering: $file includes $inc (another module's internals)"; fail=1; } ;;
    esac
  done < <(grep -n '#include[[:space:]]*"' src/"$m"/*.c src/"$m"/*.h src/"$m"/*/*.c 2>/dev/null)
done
for h in include/mdc/*.h; do
  name=$(basename "$h" .h)
  while IFS= read -r inc; do
    dep=$(basename "$inc" .h)
    [ "$dep" = "$name" ] && continue
    [[ " $common_hdrs " == *" $dep "* ]] || { echo "layering: $h includes mdc/$dep.h"; fail=1; }
  done < <(sed -n 's/.*#include[[:space:]]*"mdc\/\([^"]*\)".*/\1/p' "$h")
done
[ $fail -eq 0 ] && echo "layering ok: $middle never include each other; common includes no module"
exit $fail
