#!/usr/bin/env bash
# Runs a fuzzer:  tests/fuzz/run.sh [audio|multipart|vad_model] [SECONDS]   (default audio, 600 s)
#
# vad_model: fuzz_vad_model (the Silero VAD loader, and vad_detect on what loads).  Inputs
# are edit scripts applied to a zero-weight file with ggml-silero-v6.2.0.bin's layout;
# seeds: tests/fuzz/regressions/vad_model/ (test_vad_model replays them on the real file).
#
# multipart: fuzz_service_multipart (the upload form and its multipart parser, each input
# parsed whole and in random chunks, results compared).  Seeds: the hand-made requests of
# tests/fuzz/regressions/multipart/ and the fixtures' .multipart bodies (their
# Content-Type line prepended); copy any crash-* file into that folder
# (test_service_multipart replays it).
#
# audio:
# Seed corpus: every file of ../shared/fixtures/audio (libFuzzer cuts inputs to
# -max_len) plus small clips in many containers made with the ffmpeg CLI, and the
# regression corpus.  The working corpus and crash files stay in build-fuzz/; copy any
# crash-* file into tests/fuzz/regressions/audio/ (test_audio_regressions replays it).
set -u
cd "$(dirname "$0")/../.."
TARGET=audio
case "${1:-}" in audio|multipart|vad_model) TARGET=$1; shift ;; esac
SECS=${1:-600}
OUT=${FUZZ_BUILD:-build-fuzz}
SHARED=${MDC_SHARED_DIR:-$(cd .. && pwd)/shared}
# FUZZ_FORK=1: fork mode (one worker) keeps going after a crash or timeout; it restarts
# the worker every few seconds, which costs throughput, so it is off by default.
FORK=
[ "${FUZZ_FORK:-0}" = 1 ] && FORK="-fork=1 -ignore_crashes=1 -ignore_timeouts=1 -ignore_ooms=1"

if [ "$TARGET" = multipart ]; then
  SEEDS=$OUT/seeds/multipart
  CORPUS=$OUT/corpus/multipart
  mkdir -p "$SEEDS" "$CORPUS" "$OUT/crashes/multipart" "$OUT/tmp"
  [ -x "$OUT/fuzz_service_multipart" ] || tests/fuzz/build.sh fuzz_service_multipart || exit 1
  cp tests/fuzz/regressions/multipart/* "$SEEDS"/
  for m in "$SHARED"/fixtures/audio/*.multipart; do
    [ -e "$m" ] || continue
    { printf 'multipart/form-data; boundary=----fixtureBoundary7Qp2xK9zR\n\x05'; cat "$m"; } \
      >"$SEEDS/fixture-$(basename "$m")"
  done
  echo "seeds: $(ls "$SEEDS" | wc -l) files"
  # the harness writes its spooled parts to TMPDIR: keep them out of /tmp
  TMPDIR=$OUT/tmp exec nice -n 19 "$OUT/fuzz_service_multipart" "$CORPUS" "$SEEDS" \
    -max_total_time="$SECS" -max_len=16384 -timeout=10 -print_final_stats=1 $FORK \
    -artifact_prefix="$OUT/crashes/multipart/" -close_fd_mask=0
fi

if [ "$TARGET" = vad_model ]; then
  CORPUS=$OUT/corpus/vad_model
  mkdir -p "$CORPUS" "$OUT/crashes/vad_model"
  [ -x "$OUT/fuzz_vad_model" ] || tests/fuzz/build.sh fuzz_vad_model || exit 1
  exec nice -n 19 "$OUT/fuzz_vad_model" "$CORPUS" tests/fuzz/regressions/vad_model \
    -max_total_time="$SECS" -max_len=4096 -timeout=10 -print_final_stats=1 $FORK \
    -artifact_prefix="$OUT/crashes/vad_model/" -close_fd_mask=0
fi

SEEDS=$OUT/seeds/audio
CORPUS=$OUT/corpus/audio
mkdir -p "$SEEDS" "$CORPUS" "$OUT/crashes/audio"
[ -x "$OUT/fuzz_audio_decode" ] || tests/fuzz/build.sh || exit 1
cp "$SHARED"/fixtures/audio/* "$SEEDS"/ 2>/dev/null
rm -f "$SEEDS/MANIFEST.md"
if command -v ffmpeg >/dev/null; then
  gen() { # name, ffmpeg output options...
    local name=$1; shift
    [ -s "$SEEDS/gen_$name" ] && return
    ffmpeg -nostdin -loglevel error -y -f lavfi -i "sine=frequency=440:duration=0.4:sample_rate=16000" \
      -ac 1 "$@" "$SEEDS/gen_$name" || rm -f "$SEEDS/gen_$name"
  }
  gen s16.wav -c:a pcm_s16le;     gen u8.wav -c:a pcm_u8;         gen alaw.wav -c:a pcm_alaw
  gen mulaw.wav -c:a pcm_mulaw;   gen f64.wav -c:a pcm_f64le;     gen adpcm.wav -c:a adpcm_ima_wav
  gen st.flac -ac 2;              gen a.mp3 -c:a libmp3lame;      gen a.aac -c:a aac
  gen a.m4a -c:a aac;             gen a.ogg -c:a libvorbis;       gen a.opus -c:a libopus
  gen a.webm -c:a libopus;        gen a.mka -c:a pcm_s24le;       gen a.aiff
  gen a.au;                       gen a.caf;                      gen a.wv
  gen a.ac3 -ar 48000;            gen a.mp2 -ar 32000;            gen a.w64
  gen a.tta;                      gen a.amr -ar 8000 -c:a libopencore_amrnb
  gen a.gsm -ar 8000 -c:a libgsm -f gsm; gen a.voc;                gen a.ape.mkv -c:a alac
  gen a.ts -c:a mp2 -ar 48000;    gen a.flv -c:a aac;             gen a.avi -c:a pcm_s16le
  gen a.spx -c:a libspeex 2>/dev/null; gen a.wma -c:a wmav2 -f asf
fi
cp tests/fuzz/regressions/audio/* "$SEEDS"/ 2>/dev/null
echo "seeds: $(ls "$SEEDS" | wc -l) files"
exec nice -n 19 "$OUT/fuzz_audio_decode" "$CORPUS" "$SEEDS" \
  -max_total_time="$SECS" -max_len=65536 -timeout=25 -print_final_stats=1 \
  $FORK \
  -artifact_prefix="$OUT/crashes/audio/" -close_fd_mask=0
