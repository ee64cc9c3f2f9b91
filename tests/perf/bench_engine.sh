#!/usr/bin/env bash
# Engine benchmark (`make bench`): for tiny-dims and base-dims on jfk.wav (11 s) and
# jfk_x5_60s.wav (60 s), 2 threads, each measurement a separate process
# (tools/wsp_bench), median of BENCH_RUNS runs (default 5).  Prints a Markdown table:
# load, mel, encode (windows), decode (steps; ms/step), total ms, peak RSS MiB (VmHWM) and
# process CPU ms (forward mode also: encode CPU and CPU per decoder step).
#   BENCH_RUNS=N  BENCH_THREADS=N  BENCH_MODE=transcribe|forward  BUILD=dir
# transcribe = wsp_transcribe, greedy, language en, no fallback (whisper.cpp's reference
# run: whisper-cli -t 2 -l en -bs 1 -bo 1 -nf); forward = forward pass only (32 steps).
set -u
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
RUNS=${BENCH_RUNS:-5}
THREADS=${BENCH_THREADS:-2}
MODE=${BENCH_MODE:-transcribe}
SHARED=${MDC_SHARED_DIR:-$(cd .. && pwd)/shared}
MODELS=${MDC_MODELS_DIR:-build/models}
BIN=$BUILD/tools/wsp_bench
[ -x "$BIN" ] || make -s BUILD="$BUILD" "$BIN" || exit 1
tests/data/make-models.sh >/dev/null 2>&1 || { echo "model generation failed"; exit 1; }
[ -d "$SHARED/whisper-ref" ] || { echo "SKIP: $SHARED/whisper-ref not found"; exit 77; }
EXTRA=""
[ "$MODE" = forward ] && EXTRA="--forward"
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
echo "wsp_bench, mode $MODE, $THREADS threads, median of $RUNS runs, $(nproc) cores, kernels: ${MDC_KERNELS:-auto}"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "| model | clip | load | mel | encode (windows) | decode (steps; ms/step) | total | peak RSS MiB | CPU ms |"
echo "|---|---|---:|---:|---:|---:|---:|---:|---:|"
for model in tiny-dims base-dims; do
  for clip in jfk jfk_x5_60s; do
    : >"$tmp"
    for _ in $(seq "$RUNS"); do
      "$BIN" "$MODELS/ggml-$model-random.bin" "$SHARED/whisper-ref/data/$clip.wav" -t "$THREADS" $EXTRA >>"$tmp" || { echo "wsp_bench failed ($model, $clip)"; exit 1; }
    done
    /usr/bin/python3 - "$tmp" "$model" "$clip" <<'PY'
import statistics, sys
rows = [dict(kv.split("=", 1) for kv in line.split()) for line in open(sys.argv[1]) if "=" in line]
med = lambda k: statistics.median(float(r[k]) for r in rows)
print(f"| {sys.argv[2]} | {sys.argv[3]} | {med('load_ms'):.0f} | {med('mel_ms'):.0f} | "
      f"{med('encode_ms'):.0f} ({rows[0]['n_windows']}) | {med('decode_ms'):.0f} "
      f"({rows[0]['n_steps']}; {med('ms_per_step'):.1f}) | {med('total_ms'):.0f} | {med('peak_rss_mb'):.0f} | "
      f"{med('cpu_ms'):.0f}" + (f" (encode {med('encode_cpu_ms'):.0f}, step {med('step_cpu_ms'):.2f})"
                                 if 'encode_cpu_ms' in rows[0] else "") + " |")
PY
  done
done
echo
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
