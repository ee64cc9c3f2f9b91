#!/usr/bin/env bash
# The whole equivalence matrix of the streaming session (test_whisper_session with
# MDC_SESSION_FULL=1): the log-mel clamp over every seek of every reference clip and
# audio fixture with the 80- and 128-band filterbanks (the table in docs/whisper.md
# "Streaming"), GLOBAL sessions vs wsp_transcribe on f16 and quantized models, greedy and
# beam, every chunking, DTW; then the session heap after 10 vs 60 minutes of audio.
# Takes several minutes on 2 cores, so it is not part of `make test` (which runs a cut).
# Usage: tests/perf/session_equivalence.sh [BUILD_DIR]
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD=${1:-build}
make -s "$BUILD/tests/test_whisper_session" >/dev/null
MDC_SESSION_FULL=1 "$BUILD/tests/test_whisper_session" 2>&1 | grep -v ' WARN '
MDC_TEST_FILTER=test_heap_flat MDC_SESSION_HEAP_MINUTES=10 "$BUILD/tests/test_whisper_session" 2>&1 |
  grep -E 'session heap|OK|FAIL'
