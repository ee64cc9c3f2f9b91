#!/usr/bin/env bash
# Engine benchmark (`make bench`): for tiny-dims and base-dims (and their q5_0 / q8_0
# files where they exist: build/models/ggml-<model>-random-<type>.bin, made by
# tests/data/make-models.sh with `md-converter model quantize`; and the pack's micro,
# micro-q5_0, micro-q8_0) on jfk.wav (11 s) and
# jfk_x5_60s.wav (60 s), 2 threads, each measurement a separate process
# (tools/wsp_bench), median of BENCH_RUNS runs (default 5).  Prints a Markdown table:
# load, mel, encode (windows), decode (steps; ms/step), total ms, peak RSS MiB (VmHWM) and
# process CPU ms (forward mode also: encode CPU and CPU per decoder step).
#   BENCH_RUNS=N  BENCH_THREADS=N  BENCH_MODE=transcribe|forward|beam|rows  BUILD=dir
# transcribe = wsp_transcribe, greedy, language en, no fallback (whisper.cpp's reference
# run: whisper-cli -t 2 -l en -bs 1 -bo 1 -nf); forward = forward pass only (32 steps);
# beam = base-dims f16 / q5_0 / q8_0 on jfk_x5_60s only, greedy and beam 5 (whisper-cli
# -bs 5 -nf) side by side with whisper.cpp's two runs from golden/speed: total, whole
# decode phase, and per decoder call / row, because sampled and top-k beams decode
# different numbers of tokens (ours: decode ms / decoder calls — one call is one beam's
# row while beams are decoded one by one, one step of all live beams once they are
# batched; whisper.cpp: decode ms / runs for greedy, batchd ms / batchd tokens = per row
# for beam 5, whose steps decode all live beams in one batch);
# rows = the row-batched decoder step with 1, 2, 4, 8 rows of different sequences of one
# state, as the beams of a window (wsp_bench --rows: median ms per pass of 32 passes,
# median of the runs; target 4 rows <= 1.5x one row on base-dims), its own table, then
# the one-row q8_0 / f16 step ratio (target <= 0.6).
# The last columns are whisper.cpp's single runs on this host model (whisper-ref
# golden/speed/speed_anchors.json, README-round2 §8: whisper-cli, 60 s, greedy) where the
# pack has one, and our median total / theirs.
set -u
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
RUNS=${BENCH_RUNS:-5}
THREADS=${BENCH_THREADS:-2}
MODE=${BENCH_MODE:-transcribe}
SHARED=${MDC_SHARED_DIR:-$(cd .. && pwd)/shared}
MODELS=${MDC_MODELS_DIR:-build/models}
BIN=$BUILD/tools/wsp_bench
case "$MODE" in
  transcribe | forward | beam | rows) ;;
  *) echo "BENCH_MODE must be transcribe, forward, beam or rows (not \"$MODE\")" >&2; exit 2 ;;
esac
[ -x "$BIN" ] || make -s BUILD="$BUILD" "$BIN" || exit 1
tests/data/make-models.sh >/dev/null 2>&1 || { echo "model generation failed"; exit 1; }
[ -d "$SHARED/whisper-ref" ] || { echo "SKIP: $SHARED/whisper-ref not found"; exit 77; }
if [ "$MODE" = rows ]; then
  echo "wsp_bench --rows, $THREADS threads, median of $RUNS runs (each the median of 32 passes), $(nproc) cores, kernels: ${MDC_KERNELS:-auto}"
  echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo
  echo "| model | rows | ms per pass | ms per row | pass / 1-row pass |"
  echo "|---|---:|---:|---:|---:|"
  for model in tiny-dims base-dims base-dims-q8_0; do
    case "$model" in
      *-q*) file="$MODELS/ggml-${model%-q*}-random-q${model##*-q}.bin" ;;
      *) file="$MODELS/ggml-$model-random.bin" ;;
    esac
    [ -f "$file" ] || { echo "| $model | (no $file) | | | |"; continue; }
    one=""
    for r in 1 2 4 8; do
      med=$(for _ in $(seq "$RUNS"); do
              "$BIN" "$file" "$SHARED/whisper-ref/data/jfk.wav" -t "$THREADS" --rows "$r" |
                sed -n 's/.*ms_per_pass=\([0-9.]*\).*/\1/p'
            done | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
      [ -n "$med" ] || { echo "wsp_bench --rows failed ($model, $r)"; exit 1; }
      [ "$r" = 1 ] && one=$med && eval "one_${model//-/_}=$med"
      awk -v m="$model" -v r="$r" -v x="$med" -v o="$one" \
        'BEGIN {printf "| %s | %d | %.2f | %.2f | %.2f |\n", m, r, x, x / r, x / o}'
    done
  done
  echo
  # issue 10's step target: the q8_0 decoder step (one row, one pass) over the f16 one
  if [ -n "${one_base_dims:-}" ] && [ -n "${one_base_dims_q8_0:-}" ]; then
    awk -v q="$one_base_dims_q8_0" -v f="$one_base_dims" \
      'BEGIN {printf "decoder step base-dims q8_0 / f16 (1 row): %.2f / %.2f ms = %.2f\n", q, f, q / f}'
  fi
  echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
  exit 0
fi
EXTRA=""
[ "$MODE" = forward ] && EXTRA="--forward"
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
model_path() { # preset → file
  case "$1" in
    micro) echo "$SHARED/whisper-ref/models/ggml-micro-random.bin" ;;
    micro-q*) echo "$SHARED/whisper-ref/models/ggml-micro-random-${1#micro-}.bin" ;;
    *-q*) echo "$MODELS/ggml-${1%-q*}-random-q${1##*-q}.bin" ;;
    *) echo "$MODELS/ggml-$1-random.bin" ;;
  esac
}
ANCHORS="$SHARED/whisper-ref/golden/speed/speed_anchors.json"
echo "wsp_bench, mode $MODE, $THREADS threads, median of $RUNS runs, $(nproc) cores, kernels: ${MDC_KERNELS:-auto}"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo

if [ "$MODE" = beam ]; then
  echo "| model | decoding | encode (windows) | decode (calls; ms/call) | tokens kept | total | peak RSS MiB | CPU ms | whisper.cpp total; decode (rows; ms/row) | total ours/theirs | decode ours/theirs |"
  echo "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
  for model in base-dims base-dims-q5_0 base-dims-q8_0; do
    file=$(model_path "$model")
    [ -f "$file" ] || { echo "| $model | | (no $file) | | | | | | | | |"; continue; }
    for dec in greedy beam5; do
      args=""
      [ "$dec" = beam5 ] && args="--beam 5"
      : >"$tmp"
      for _ in $(seq "$RUNS"); do
        "$BIN" "$file" "$SHARED/whisper-ref/data/jfk_x5_60s.wav" -t "$THREADS" $args >>"$tmp" ||
          { echo "wsp_bench failed ($model, $dec)"; exit 1; }
      done
      /usr/bin/python3 - "$tmp" "$model" "$dec" "$ANCHORS" <<'PY'
import json, statistics, sys
rows = [dict(kv.split("=", 1) for kv in line.split()) for line in open(sys.argv[1]) if "=" in line]
med = lambda k: statistics.median(float(r[k]) for r in rows)
model, dec, anchors = sys.argv[2:5]
base, _, qt = model.partition("-q")
try:
    run = json.load(open(anchors))["runs"].get(f"cli_{base}_{'q' + qt if qt else 'f16'}_x5_{dec}")
except OSError:
    run = None
ms_row = med("ms_per_step")
ref = " | | "
if run:
    # greedy: single-token decodes; beam 5: every live beam in one batch ("batchd",
    # runs = tokens); the prompt batches of both are left out of the per-row figure but
    # not of the whole decode phase (last column: ours decode_ms against whisper.cpp's
    # decode + batchd + prompt)
    d_ms, d_n = (run["decode_ms"], run["decode_runs"]) if dec == "greedy" else (run["batchd_ms"], run["batchd_runs"])
    all_ms = run["decode_ms"] + run["batchd_ms"] + run["prompt_ms"]
    ref = (f"{run['total_ms']:.0f}; {d_ms:.0f} ({d_n}; {d_ms / d_n:.2f}) | "
           f"{med('total_ms') / run['total_ms']:.2f} | {med('decode_ms') / all_ms:.2f}")
print(f"| {model} | {dec} | {med('encode_ms'):.0f} ({rows[0]['n_windows']}) | {med('decode_ms'):.0f} "
      f"({rows[0]['n_steps']}; {ms_row:.2f}) | {rows[0]['n_tokens']} | {med('total_ms'):.0f} | "
      f"{med('peak_rss_mb'):.0f} | {med('cpu_ms'):.0f} | {ref} |")
PY
    done
  done
  echo
  echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
  exit 0
fi

echo "| model | file MiB | clip | load | mel | encode (windows) | decode (steps; ms/step) | total | peak RSS MiB | CPU ms | whisper.cpp total; ms/step; RSS MiB | total ours/theirs |"
echo "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
for model in tiny-dims tiny-dims-q5_0 tiny-dims-q8_0 base-dims base-dims-q5_0 base-dims-q8_0 \
             micro micro-q5_0 micro-q8_0; do
  file=$(model_path "$model")
  [ -f "$file" ] || { echo "| $model | | (no $file) | | | | | | | | | |"; continue; }
  for clip in jfk jfk_x5_60s; do
    : >"$tmp"
    for _ in $(seq "$RUNS"); do
      "$BIN" "$file" "$SHARED/whisper-ref/data/$clip.wav" -t "$THREADS" $EXTRA >>"$tmp" || { echo "wsp_bench failed ($model, $clip)"; exit 1; }
    done
    /usr/bin/python3 - "$tmp" "$model" "$clip" "$file" "$ANCHORS" "$MODE" <<'PY'
import json, os, statistics, sys
rows = [dict(kv.split("=", 1) for kv in line.split()) for line in open(sys.argv[1]) if "=" in line]
med = lambda k: statistics.median(float(r[k]) for r in rows)
model, clip, path, anchors, mode = sys.argv[2:7]
base, _, qt = model.partition("-q")
key = f"cli_{base}_{'q' + qt if qt else 'f16'}_x5_greedy"
ref = ""
try:
    run = json.load(open(anchors))["runs"].get(key) if clip == "jfk_x5_60s" and mode == "transcribe" else None
except OSError:
    run = None
if run:
    ref = (f"{run['total_ms']:.0f}; {run['decode_ms_per_run']:.1f}; {run['peak_rss_mib']:.0f} | "
           f"{med('total_ms') / run['total_ms']:.2f}")
else:
    ref = " | "
print(f"| {model} | {os.path.getsize(path) / 2**20:.1f} | {clip} | {med('load_ms'):.0f} | {med('mel_ms'):.0f} | "
      f"{med('encode_ms'):.0f} ({rows[0]['n_windows']}) | {med('decode_ms'):.0f} "
      f"({rows[0]['n_steps']}; {med('ms_per_step'):.1f}) | {med('total_ms'):.0f} | {med('peak_rss_mb'):.0f} | "
      f"{med('cpu_ms'):.0f}" + (f" (encode {med('encode_cpu_ms'):.0f}, step {med('step_cpu_ms'):.2f})"
                                 if 'encode_cpu_ms' in rows[0] else "") + f" | {ref} |")
PY
  done
done
echo
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
