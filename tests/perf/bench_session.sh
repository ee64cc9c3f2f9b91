#!/usr/bin/env bash
# Time per audio hour of the streaming session vs the whole-buffer call (docs/perf/
# engine.md "Streaming session").  Runs tools/wsp_bench, interleaved round-robin so a
# busy machine hits every variant alike, BENCH_RUNS times (default 5) and prints medians:
#   old      OLD_BENCH (optional): a wsp_bench built from the commit before the session
#            (whole-buffer mel) — e.g. `git archive <rev> | tar -x -C /tmp/old && make -C
#            /tmp/old build/tools/wsp_bench`
#   whole    wsp_transcribe: GLOBAL clamp (mel max pass + session over the buffer)
#   session  --session 16000: wsp_mel_peak pass + session fed 1 s chunks (two-pass service)
#   running  --session 16000 --running: single pass, RUNNING clamp
# Usage: [OLD_BENCH=path] [BENCH_RUNS=5] [REPEAT=1] tests/perf/bench_session.sh [MODEL] [WAV]
# (REPEAT > 1 repeats the clip for the new binary only: give the old one a long WAV.)
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
REF=${MDC_SHARED_DIR:-../shared}/whisper-ref
MODEL=${1:-build/models/ggml-tiny-dims-random.bin}
WAV=${2:-$REF/data/jfk_x5_60s.wav}
RUNS=${BENCH_RUNS:-5}
REPEAT=${REPEAT:-1}
NEW=$BUILD/tools/wsp_bench
make -s "$NEW" >/dev/null
declare -A CMD=([whole]="$NEW" [session]="$NEW --session 16000" [running]="$NEW --session 16000 --running")
ORDER=(whole session running)
if [ -n "${OLD_BENCH:-}" ]; then CMD[old]="$OLD_BENCH"; ORDER=(old "${ORDER[@]}"); fi
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
for ((r = 0; r < RUNS; r++)); do
  for v in "${ORDER[@]}"; do
    extra=""
    [ "$REPEAT" -gt 1 ] && [ "$v" != old ] && extra="--repeat $REPEAT"
    ${CMD[$v]} "$MODEL" "$WAV" -t 2 $extra 2>/dev/null >>"$TMP/$v"
  done
done
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
field() {
  local v
  v=$(grep -o "$1=[0-9.]*" "$2" | cut -d= -f2 | median)
  echo "${v:--}"
}
printf '%-8s %10s %10s %9s %9s %10s %8s  (%s runs, %s x %s, load %s)\n' variant total_ms cpu_ms mel_ms peak_ms encode_ms rss_mb \
  "$RUNS" "$(basename "$WAV")" "$REPEAT" "$(cut -d' ' -f1 /proc/loadavg)"
for v in "${ORDER[@]}"; do
  printf '%-8s %10s %10s %9s %9s %10s %8s\n' "$v" "$(field total_ms "$TMP/$v")" "$(field cpu_ms "$TMP/$v")" \
    "$(field mel_ms "$TMP/$v")" "$(field peak_ms "$TMP/$v")" \
    "$(field encode_ms "$TMP/$v")" "$(field peak_rss_mb "$TMP/$v")"
done
grep -ho 'segments=[0-9]*' "$TMP"/* | sort | uniq -c | sed 's/^/  /'
