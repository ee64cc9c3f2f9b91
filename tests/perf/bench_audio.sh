#!/usr/bin/env bash
# Decode benchmark (figures in docs/perf/audio.md):
#   tests/perf/bench_audio.sh [RUNS]        (default 5)
# Decode time per audio minute of the Portuguese meeting (170.078 s) in every container
# of ../shared/fixtures/audio (wav s16, flac, mp3, m4a, opus, webm, mp4 with video,
# mu-law wav), median of RUNS runs, and the ratio to the engine's time for the first
# 60 s of the same audio (tiny-dims random-weight model, 2 threads) when the model exists
# (tests/data/make-models.sh builds it).  Env: BUILD (build dir, default build),
# MDC_SHARED_DIR, MDC_MODELS_DIR, BENCH_THREADS (2), BENCH_ENGINE_RUNS (1).
# Run it on a quiet machine: `nice` is not used, other load skews the figures.
set -eu
cd "$(dirname "$0")/../.."
RUNS=${1:-5}
BUILD=${BUILD:-build}
SHARED=${MDC_SHARED_DIR:-$(cd .. && pwd)/shared}
MODELS=${MDC_MODELS_DIR:-build/models}
FX=$SHARED/fixtures/audio
BIN=$BUILD/tools/bench_audio
[ -x "$BIN" ] || make -j2 BUILD="$BUILD" "$BIN" >/dev/null
files=()
for f in meeting_ptbr_16k_mono_s16.wav meeting_ptbr_16k_mono.flac \
         meeting_ptbr_44k1_mono_48k_id3art.mp3 meeting_ptbr_aac_48k_mono_moov_at_end.m4a \
         meeting_ptbr_opus_24k.opus meeting_ptbr_mediarecorder_opus.webm \
         meeting_ptbr_black_video_h264_aac.mp4 meeting_ptbr_8k_mulaw_phone.wav; do
  [ -f "$FX/$f" ] && files+=("$FX/$f")
done
[ ${#files[@]} -gt 0 ] || { echo "no fixtures under $FX" >&2; exit 77; }
engine=()
model=$MODELS/ggml-tiny-dims-random.bin
if [ -f "$model" ]; then
  engine=(-e "$model" -t "${BENCH_THREADS:-2}" -s 60 -n "${BENCH_ENGINE_RUNS:-1}")
else
  echo "# $model not found: engine ratio skipped (run tests/data/make-models.sh)"
fi
echo "# $(date -u +%FT%TZ) $(uname -m), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), runs=$RUNS"
"$BIN" -r "$RUNS" "${engine[@]}" "${files[@]}"
