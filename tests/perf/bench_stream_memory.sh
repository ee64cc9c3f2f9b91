#!/usr/bin/env bash
# Peak memory of long recordings (issue 12; figures in docs/perf/audio.md, "Streaming"):
#   tests/perf/bench_stream_memory.sh [LENGTHS] [FORMATS]
#     LENGTHS  minutes, space-separated (default "10 60 180")
#     FORMATS  flac and/or opus (default "flac opus")
# For each length and format: a file made of ../shared/whisper-ref/data/jfk_x5_60s.wav
# repeated (ffmpeg -stream_loop, into $BENCH_DIR, default build/perf-audio; never
# committed), then
#   cli     peak RSS (VmHWM) of `md-converter transcribe FILE` (GNU time's maximum RSS),
#   server  VmHWM of `md-converter serve` after one upload of FILE (a fresh server per
#           file), and with BENCH_CONCURRENT=1 after two concurrent uploads of it;
# with the model-file size next to it (the mapping counted in RSS as it is read) and the
# target: model + 150 MB.  BENCH_BASELINE=PATH/md-converter (e.g. the main branch's
# build) adds the same CLI figure for that binary (the whole-buffer decoder).
# Env: BUILD (build), BENCH_MODEL (../shared/whisper-ref/models/ggml-micro-random.bin),
# BENCH_THREADS (2), BENCH_PORT (18733), MDC_SHARED_DIR.  Transcriptions run without
# temperature fallback (the random-weight model would walk all six temperatures in every
# window; memory is the same either way): the micro model still decodes 220 tokens per
# 30 s window, several seconds each on 2 busy cores, so 3 h takes a while: lengths run in
# the order given.
set -eu
cd "$(dirname "$0")/../.."
ROOT=$(pwd)
BUILD=${BUILD:-build}
SHARED=${MDC_SHARED_DIR:-$(cd .. && pwd)/shared}
LENGTHS=${1:-10 60 180}
FORMATS=${2:-flac opus}
MODEL=${BENCH_MODEL:-$SHARED/whisper-ref/models/ggml-micro-random.bin}
THREADS=${BENCH_THREADS:-2}
PORT=${BENCH_PORT:-18733}
DIR=${BENCH_DIR:-$BUILD/perf-audio}
BIN=$BUILD/md-converter
SRC=$SHARED/whisper-ref/data/jfk_x5_60s.wav
[ -x "$BIN" ] || { echo "build $BIN first (make)" >&2; exit 77; }
[ -f "$SRC" ] && [ -f "$MODEL" ] || { echo "need $SRC and $MODEL" >&2; exit 77; }
command -v ffmpeg >/dev/null || { echo "need ffmpeg" >&2; exit 77; }
mkdir -p "$DIR"
case $DIR in /*) ;; *) DIR=$ROOT/$DIR ;; esac # absolute: the server runs elsewhere
model_mb=$(awk -v b="$(stat -c %s "$MODEL")" 'BEGIN{printf "%.1f", b/1048576}')
echo "# $(date -u +%FT%TZ) $(uname -m), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# model $(basename "$MODEL") ($model_mb MiB), $THREADS threads; target: model + 150 MB"

make_file() {  # minutes format → path
  local m=$1 f=$2 out=$DIR/jfk_x5_${1}min.$2
  if [ ! -s "$out" ]; then
    case $f in
      flac) ffmpeg -nostdin -loglevel error -y -stream_loop $((m - 1)) -i "$SRC" -c:a flac "$out" ;;
      opus) ffmpeg -nostdin -loglevel error -y -stream_loop $((m - 1)) -i "$SRC" -c:a libopus \
              -b:a 24k "$out" ;;
    esac
  fi
  echo "$out"
}

cli_peak() {  # binary file → "peak_MiB wall_s"
  local out
  out=$( { /usr/bin/time -f 'MAXRSS %M WALL %e' "$1" transcribe "$2" -m "$MODEL" -l en \
           -t "$THREADS" --no-vad --no-fallback -f txt -o /dev/null; } 2>&1 >/dev/null |
         grep MAXRSS || true)
  awk '{printf "%.1f %s\n", $2/1024, $4}' <<<"$out"
}

server_peak() {  # file concurrent(1|2) → "peak_MiB wall_s"
  local file=$1 n=$2 log=$DIR/server.log
  local per=$((THREADS / n)); [ "$per" -ge 1 ] || per=1  # the cores shared, as WHISPER_THREADS=0
  MDC_AUDIO_PLUGIN=$ROOT/$BUILD/mdc-audio.so PORT=$PORT HOST=127.0.0.1 WHISPER_MODEL=$MODEL \
    WHISPER_THREADS=$per MAX_CONCURRENT_TRANSCRIPTIONS=$n MAX_AUDIO_SECONDS=36000 \
    MAX_UPLOAD_MB=2000 REQUEST_TIMEOUT_SECONDS=36000 WHISPER_VAD=false TMPDIR=$DIR MDC_ENV_FILE=/dev/null \
    "$BIN" serve >"$log" 2>&1 &
  local pid=$!
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$PORT/health" >/dev/null && break; sleep 0.1; done
  if ! kill -0 "$pid" 2>/dev/null; then
    echo "server did not start: $(tail -1 "$log")" >&2
    echo "- -"
    return
  fi
  local t0 pids=() i
  t0=$(date +%s.%N)
  for i in $(seq "$n"); do
    curl -s -o "$DIR/out$i.json" -w '%{http_code}\n' -F "file=@$file" -F language=en \
      -F no_fallback=true \
      "http://127.0.0.1:$PORT/relatorio/process-meeting" >"$DIR/code$i" &
    pids+=($!)
  done
  wait "${pids[@]}"
  local wall hwm
  wall=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN{printf "%.0f", b-a}')
  hwm=$(awk '/VmHWM/{printf "%.1f", $2/1024}' "/proc/$pid/status")
  kill "$pid"; wait "$pid" 2>/dev/null || true
  for i in $(seq "$n"); do
    [ "$(cat "$DIR/code$i")" = 200 ] || { echo "upload $i: HTTP $(cat "$DIR/code$i")" >&2; tail -5 "$log" >&2; }
  done
  echo "$hwm $wall"
}

printf '| length | format | file MiB | what | peak RSS MiB | wall s | vs model + 150 MB |\n'
printf '|---|---|---|---|---|---|---|\n'
for m in $LENGTHS; do
  for f in $FORMATS; do
    file=$(make_file "$m" "$f")
    mb=$(awk -v b="$(stat -c %s "$file")" 'BEGIN{printf "%.1f", b/1048576}')
    row() { printf '| %s min | %s | %s | %s | %s | %s | %s |\n' "$m" "$f" "$mb" "$1" "$2" "$3" \
      "$(awk -v p="$2" -v mm="$model_mb" 'BEGIN{d=p-mm-150*1e6/1048576; printf "%s%.0f MiB", d<=0?"ok, ":"OVER by ", d<=0?-d:d}')"; }
    read -r peak wall < <(cli_peak "$BIN" "$file"); row "cli" "$peak" "$wall"
    if [ -n "${BENCH_BASELINE:-}" ]; then
      read -r peak wall < <(cli_peak "$BENCH_BASELINE" "$file"); row "cli, baseline" "$peak" "$wall"
    fi
    read -r peak wall < <(server_peak "$file" 1); row "server, 1 upload" "$peak" "$wall"
    if [ "${BENCH_CONCURRENT:-0}" = 1 ]; then
      read -r peak wall < <(server_peak "$file" 2); row "server, 2 concurrent" "$peak" "$wall"
    fi
  done
done
