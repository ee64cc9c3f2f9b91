#!/usr/bin/env bash
# Voice-activity-detection benchmark (figures in docs/perf/vad.md):
#   tests/perf/bench_vad.sh [RUNS]        (default 5)
# 1. the Silero VAD's own cost: vad_detect() per hour of audio (tools/vad_bench, median of
#    RUNS runs) on the 5-minute two-utterance fixture, the Portuguese and English meetings
#    and jfk.wav;
# 2. edge_5min_two_utterances.flac end to end (`md-converter transcribe`, language pt,
#    no temperature fallback, 2 threads) with --vad and --no-vad: median wall time and
#    median CPU time (user + system, /usr/bin/time; steadier than wall time on a shared
#    machine) of RUNS runs and the encoder windows / decoder steps the engine reported, for each
#    random-weight model present (micro; tiny-dims and base-dims from
#    tests/data/make-models.sh).
# Env: BUILD (build dir, default build), MDC_SHARED_DIR, MDC_MODELS_DIR, BENCH_THREADS (2).
# Run it on a quiet machine: other load skews the wall times (CPU times are steadier).
set -eu
cd "$(dirname "$0")/../.."
RUNS=${1:-5}
BUILD=${BUILD:-build}
SHARED=${MDC_SHARED_DIR:-$(cd .. && pwd)/shared}
MODELS=${MDC_MODELS_DIR:-build/models}
FX=$SHARED/fixtures/audio
SILERO=$SHARED/whisper-ref/models/ggml-silero-v6.2.0.bin
[ -f "$SILERO" ] || { echo "no $SILERO" >&2; exit 77; }
[ -x "$BUILD/tools/vad_bench" ] && [ -x "$BUILD/md-converter" ] ||
  make -j2 BUILD="$BUILD" "$BUILD/tools/vad_bench" "$BUILD/md-converter" "$BUILD/mdc-audio.so" >/dev/null
echo "# $(date -u +%FT%TZ) $(uname -m), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), runs=$RUNS"
echo
echo "## VAD cost"
MDC_SHARED_DIR=$SHARED "$BUILD/tools/vad_bench" -r "$RUNS" -m "$SILERO" \
  "$FX/edge_5min_two_utterances.flac" "$FX/meeting_ptbr_16k_mono_s16.wav" \
  "$FX/meeting_en_16k_mono_s16.wav" "$SHARED/whisper-ref/data/jfk.wav"
echo
echo "## edge_5min_two_utterances.flac end to end"
printf '%-28s %-6s %9s %9s %9s %8s %8s\n' model vad med_s min_s cpu_s windows steps
tfile=$(mktemp); trap 'rm -f "$tfile"' EXIT
for model in "$SHARED/whisper-ref/models/ggml-micro-random.bin" "$MODELS/ggml-tiny-dims-random.bin" \
             "$MODELS/ggml-base-dims-random.bin"; do
  [ -f "$model" ] || continue
  for mode in --vad --no-vad; do
    times=() cpus=() windows=- steps=-
    for _ in $(seq "$RUNS"); do
      t0=$(date +%s.%N)
      out=$(/usr/bin/time -f '%U %S' -o "$tfile" "$BUILD/md-converter" transcribe "$FX/edge_5min_two_utterances.flac" -m "$model" \
            "$mode" --vad-model "$SILERO" -l pt --no-fallback -t "${BENCH_THREADS:-2}" -f txt \
            -v -o /dev/null 2>&1 >/dev/null) || { echo "transcribe failed: $out" >&2; exit 1; }
      t1=$(date +%s.%N)
      times+=("$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.3f", b-a}')")
      cpus+=("$(awk '{printf "%.2f", $1 + $2}' "$tfile")")
      w=$(printf '%s\n' "$out" | sed -n 's/.*engine: \([0-9]*\) encoder window(s), \([0-9]*\) decoder step(s).*/\1 \2/p')
      [ -n "$w" ] && { windows=${w% *}; steps=${w#* }; }
    done
    sorted=$(printf '%s\n' "${times[@]}" | sort -n)
    med=$(printf '%s\n' "$sorted" | sed -n "$(( (RUNS + 1) / 2 ))p")
    min=$(printf '%s\n' "$sorted" | head -1)
    cpu=$(printf '%s\n' "${cpus[@]}" | sort -n | sed -n "$(( (RUNS + 1) / 2 ))p")
    printf '%-28s %-6s %9s %9s %9s %8s %8s\n' "$(basename "$model")" "${mode#--}" "$med" "$min" "$cpu" "$windows" "$steps"
  done
done
