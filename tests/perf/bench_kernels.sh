#!/usr/bin/env bash
# Quantized and f16 matrix products alone (tools/kern_bench through wsp__linear): the
# decoder step's largest product (base-dims logits: 51865 × 512, streamed from memory as
# in a step, 1 and 2 threads) and an encoder batch (2048 × 512 with 1500 activation rows,
# cache-resident, 1 thread), per kernel variant the CPU has.  Prints a Markdown table of
# the median wall ms, with 1 thread the median CPU ms (the product's cost even on a busy
# shared host), and each type's ratio to f16 (CPU with 1 thread, wall with 2).
#   BENCH_REPS=N (default 60)  BUILD=dir
set -u
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
REPS=${BENCH_REPS:-60}
BIN=$BUILD/tools/kern_bench
[ -x "$BIN" ] || make -s BUILD="$BUILD" "$BIN" || exit 1
echo "kern_bench, $(nproc) cores, load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "| kernels | product | threads | type | median ms | CPU ms (1 thread) | vs f16 (CPU; 2 threads: wall) |"
echo "|---|---|---:|---|---:|---:|---:|"
for k in avx512 avx2 scalar; do
  got=$(MDC_KERNELS=$k "$BIN" f16 64 64 -r 1 -c 1 | sed -n 's/.*kernels=\([a-z0-9]*\).*/\1/p')
  [ "$got" = "$k" ] || continue # the CPU lacks this variant
  for spec in "logits|51865 512|1|-c 0" "logits|51865 512|2|-c 0" "batch 1500|2048 512 -x 1500|1|-c 1"; do
    IFS='|' read -r name shape th extra <<<"$spec"
    reps=$REPS
    case $name in batch*) reps=$(( REPS / 10 > 3 ? REPS / 10 : 3 ));; esac
    [ $k = scalar ] && reps=3
    f16v=
    for t in f16 q8_0 q5_0 q4_0 q4_1; do
      # shellcheck disable=SC2086
      line=$(MDC_KERNELS=$k "$BIN" $t $shape -t "$th" -r "$reps" $extra) || exit 1
      med=$(sed -n 's/.* median_ms=\([0-9.]*\).*/\1/p' <<<"$line")
      cpu=$(sed -n 's/.*cpu_median_ms=\([0-9.]*\).*/\1/p' <<<"$line")
      [ "$th" = 1 ] || cpu=- # with a pool the caller's CPU is only its share
      base=$([ "$th" = 1 ] && echo "$cpu" || echo "$med")
      [ $t = f16 ] && f16v=$base
      ratio=$(awk -v a="$base" -v b="$f16v" 'BEGIN { if (b > 0) printf "%.2f", a / b }')
      echo "| $k | $name | $th | $t | $med | $cpu | $ratio |"
    done
  done
done
echo
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
