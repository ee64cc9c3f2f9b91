#!/usr/bin/env bash
# Cost of word times and stereo speakers (issue 13 part 2):
#   tests/perf/bench_words.sh [RUNS]        (default 5)
# `md-converter transcribe` CPU time (user + sys), median of RUNS runs, of jfk_x5_60s.wav (60 s) with
# the tiny-dims random-weight model (greedy, no fallback, 2 threads): plain verbose_json,
# with --words (token timestamps: the ±32-sample energy over the input + the per-segment
# heuristic), with --words --dtw tiny (cross-attention DTW word times: one more batched
# decoder pass per window), and stereo_diarization.wav plain vs diarized_json (-di per
# segment) vs the Markdown report with --diarize (speaker turns measured on the channels +
# the word times they need); prints the medians and ratios.
# Env: BUILD (default build), MDC_SHARED_DIR, MDC_MODELS_DIR.  Quiet machine please.
set -eu
cd "$(dirname "$0")/../.."
RUNS=${1:-5}
BUILD=${BUILD:-build}
SHARED=${MDC_SHARED_DIR:-$(cd .. && pwd)/shared}
MODEL=${MDC_MODELS_DIR:-build/models}/ggml-tiny-dims-random.bin
BIN=$BUILD/md-converter
[ -x "$BIN" ] || make -j2 BUILD="$BUILD" >/dev/null
[ -f "$MODEL" ] || { echo "no $MODEL (tests/data/make-models.sh)"; exit 2; }
export MDC_AUDIO_PLUGIN=$BUILD/mdc-audio.so
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
run() { # clip, extra args… → median CPU seconds (user + sys) of the process: on a shared
  # machine wall time mostly measures the neighbours
  local clip=$1; shift
  for _ in $(seq "$RUNS"); do
    python3 -c 'import resource, subprocess, sys
subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, check=True)
u = resource.getrusage(resource.RUSAGE_CHILDREN)
print("%.3f" % (u.ru_utime + u.ru_stime))' \
      "$BIN" transcribe "$clip" -m "$MODEL" -l en -t 2 --no-fallback "$@"
  done | median
}
X5=$SHARED/whisper-ref/data/jfk_x5_60s.wav
ST=$SHARED/whisper-ref/data/stereo_diarization.wav
a=$(run "$X5" -f verbose_json)
b=$(run "$X5" -f verbose_json --words)
c=$(run "$ST" -f json)
d=$(run "$ST" -f diarized_json)
e=$(run "$X5" -f verbose_json --words --dtw tiny)
f=$(run "$ST" -f md)
g=$(run "$ST" -f md --diarize)
printf 'jfk_x5_60s  verbose_json         median %.3f s CPU\n' "$a"
printf 'jfk_x5_60s  verbose_json --words median %.3f s CPU  ratio %.3f\n' "$b" "$(echo "$b / $a" | bc -l)"
printf 'stereo 5 s  json                 median %.3f s CPU\n' "$c"
printf 'stereo 5 s  diarized_json        median %.3f s CPU  ratio %.3f\n' "$d" "$(echo "$d / $c" | bc -l)"
printf 'jfk_x5_60s  --words --dtw tiny   median %.3f s CPU  ratio %.3f (vs plain), %.3f (vs --words)\n' \
  "$e" "$(echo "$e / $a" | bc -l)" "$(echo "$e / $b" | bc -l)"
printf 'stereo 5 s  md                   median %.3f s CPU\n' "$f"
printf 'stereo 5 s  md --diarize (turns) median %.3f s CPU  ratio %.3f\n' "$g" "$(echo "$g / $f" | bc -l)"
