#!/usr/bin/env bash
# Runs every test of md-converter and ends with one line "N passed, N failed, N skipped".
#   1. builds everything (make -k: a module that fails to build fails its tests, not all);
#   2. generates the random-weight test models (cached in build/models);
#   3. unit tests: every build/tests/test_* (cmocka), one per tests/unit/test_*.c;
#   4. lint checks tests/lint/test_*.sh (headers alone, banned functions); integration
#      tests: tests/integration/test_*.py (real server on loopback) and
#      tests/integration/test_*.sh, and deploy checks tests/deploy/test_*.sh.
# A test exiting 77 counts as skipped.  Logs: build/test-logs/.  Filter: tests/run.sh PATTERN
set -u
cd "$(dirname "$0")/.."
ROOT=$(pwd)
export MDC_SHARED_DIR=${MDC_SHARED_DIR:-$(cd .. && pwd)/shared}
export MDC_BUILD_DIR=${BUILD:-$ROOT/build}
export MDC_MODELS_DIR=${MDC_MODELS_DIR:-$ROOT/build/models}
PY=/usr/bin/python3
FILTER=${1:-}
mkdir -p build/test-logs

echo "== build"
make -k -j"$(nproc)" BUILD="$MDC_BUILD_DIR" all tests tools >build/test-logs/build.log 2>&1
build_rc=$?
if [ $build_rc -ne 0 ]; then
  echo "build had errors (see build/test-logs/build.log):"
  grep -E 'error|Error' build/test-logs/build.log | head -30
fi
tests/data/make-models.sh >build/test-logs/models.log 2>&1 || { echo "model generation failed"; cat build/test-logs/models.log; }

pass=0; fail=0; skip=0; failed_names=()
run_one() {  # name, command...
  local name=$1; shift
  local log=build/test-logs/$name.log
  local t0=$(date +%s.%N)
  "$@" >"$log" 2>&1
  local rc=$?
  local dt=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b-a}')
  if [ $rc -eq 0 ]; then
    pass=$((pass+1)); echo "PASS $name (${dt}s)"
  elif [ $rc -eq 77 ]; then
    skip=$((skip+1)); echo "SKIP $name: $(tail -n 1 "$log")"
  else
    fail=$((fail+1)); failed_names+=("$name"); echo "FAIL $name (rc=$rc, ${dt}s) — last lines of $log:"
    tail -n 25 "$log" | sed 's/^/    /'
  fi
}

echo "== unit tests"
for src in tests/unit/test_*.c; do
  [ -e "$src" ] || continue
  name=$(basename "$src" .c)
  [ -z "$FILTER" ] || [[ $name == *$FILTER* ]] || continue
  if [ -x "$MDC_BUILD_DIR/tests/$name" ]; then
    run_one "$name" "$MDC_BUILD_DIR/tests/$name"
  else
    fail=$((fail+1)); failed_names+=("$name"); echo "FAIL $name (did not build)"
  fi
done

echo "== lint, integration and deploy tests"
for t in tests/lint/test_*.sh tests/integration/test_*.py tests/integration/test_*.sh tests/deploy/test_*.sh; do
  [ -e "$t" ] || continue
  name=$(basename "$t"); name=${name%.*}
  [ -z "$FILTER" ] || [[ $name == *$FILTER* ]] || continue
  case "$t" in
    *.py) run_one "$name" "$PY" "$t" ;;
    *.sh) run_one "$name" bash "$t" ;;
  esac
done

[ $build_rc -eq 0 ] || { fail=$((fail+1)); failed_names+=("build"); }
echo
[ ${#failed_names[@]} -eq 0 ] || echo "failed: ${failed_names[*]}"
echo "$pass passed, $fail failed, $skip skipped"
[ $fail -eq 0 ]
