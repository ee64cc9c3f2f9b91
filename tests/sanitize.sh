#!/usr/bin/env bash
# Sanitizer run (one command: `make sanitize`):
#   ASan+UBSan build (build-asan/) of every module; runs all unit tests under it
#     (leak checking on: LeakSanitizer is part of ASan on Linux);
#   TSan build (build-tsan/) of the model holder, metrics and the engine's continuous
#   batching (test_whisper_batch: 4 transcriptions at once on one engine); runs them.
set -u
cd "$(dirname "$0")/.."
export MDC_SHARED_DIR=${MDC_SHARED_DIR:-$(cd .. && pwd)/shared}
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=1:second_deadlock_stack=1}
# Tests that are too slow under ASan (full-size engine goldens) honour MDC_SANITIZE=1.
export MDC_SANITIZE=1
tests/data/make-models.sh >/dev/null || exit 1
fail=0; pass=0
make -k -j"$(nproc)" SAN=asan tests >/dev/null 2>build-asan.log || { echo "asan build failed:"; tail -20 build-asan.log; exit 1; }
for src in tests/unit/test_*.c; do
  t=build-asan/tests/$(basename "$src" .c)
  [ -x "$t" ] || { fail=$((fail+1)); echo "ASAN FAIL $(basename "$t") (did not build)"; continue; }
  if "$t" >"$t.log" 2>&1; then pass=$((pass+1)); echo "ASAN PASS $(basename "$t")";
  else fail=$((fail+1)); echo "ASAN FAIL $(basename "$t")"; tail -30 "$t.log"; fi
done
TSAN_TESTS="test_service_holder test_metrics test_whisper_batch"
make -k -j"$(nproc)" SAN=tsan $(for t in $TSAN_TESTS; do echo build-tsan/tests/$t; done) >/dev/null 2>build-tsan.log || { echo "tsan build failed:"; tail -20 build-tsan.log; exit 1; }
for n in $TSAN_TESTS; do
  t=build-tsan/tests/$n
  [ -x "$t" ] || continue
  if "$t" >"$t.log" 2>&1; then pass=$((pass+1)); echo "TSAN PASS $n";
  else fail=$((fail+1)); echo "TSAN FAIL $n"; tail -30 "$t.log"; fi
done
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
