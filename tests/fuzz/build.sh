#!/usr/bin/env bash
# Builds every libFuzzer harness tests/fuzz/fuzz_<module>_*.c into build-fuzz/ with
# clang -fsanitize=fuzzer,address,undefined (Debian: clang-14, libclang-rt-14-dev).
# A harness is linked with its module's sources (src/<module>/*.c), src/common/*.c and
# the modules named on a line "fuzz-modules: a b" in the harness (for harnesses whose
# module depends on others), all compiled with the same sanitizers; *_avx2.c/*_avx512.c
# get their ISA flags as in the Makefile.  FFmpeg and other system libraries are not
# instrumented (coverage feedback is from our code only).  `make fuzz` runs this.
# Arguments, optional: harness names (fuzz_service_multipart …) to build only those.
set -eu
cd "$(dirname "$0")/../.."
OUT=${FUZZ_BUILD:-build-fuzz}
CC=${FUZZ_CC:-$(command -v clang-14 || command -v clang)}
PKGS="libavformat libavcodec libswresample libavutil libmicrohttpd fftw3f jansson"
PKG_CFLAGS=$(pkg-config --cflags $PKGS 2>/dev/null || true)
PKG_LIBS=$(pkg-config --libs $PKGS 2>/dev/null || true)
CFLAGS="-std=c11 -D_GNU_SOURCE -O1 -g -fno-omit-frame-pointer -Wall -Wextra -Werror
 -Wno-unused-parameter -Iinclude -Isrc $PKG_CFLAGS -pthread
 -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined"
LDFLAGS="-fsanitize=fuzzer,address,undefined"
isa_flags() {
  case "$1" in
    *_avx2.c) echo "-mavx2 -mfma -mf16c" ;;
    *_avx512.c) echo "-mavx512f -mavx512bw -mavx512vl -mavx512dq -mavx512vnni -mfma -mf16c" ;;
  esac
}
mkdir -p "$OUT/obj"
built=0
for h in tests/fuzz/fuzz_*.c; do
  [ -e "$h" ] || continue
  name=$(basename "$h" .c)
  if [ $# -gt 0 ] && ! printf '%s\n' "$@" | grep -qx "$name"; then continue; fi
  modules="$(echo "$name" | cut -d_ -f2) common $(sed -n 's/.*fuzz-modules:\([a-z ]*\).*/\1/p' "$h")"
  objs=()
  for m in $(echo $modules | tr ' ' '\n' | sort -u); do
    for src in src/"$m"/*.c; do
      [ -e "$src" ] || continue
      obj=$OUT/obj/${src//\//_}.o
      # shellcheck disable=SC2046
      $CC $CFLAGS $(isa_flags "$src") -c "$src" -o "$obj"  # no caching: headers change
      objs+=("$obj")
    done
  done
  echo "fuzz: $name ($modules)"
  # shellcheck disable=SC2086
  $CC $CFLAGS $LDFLAGS -o "$OUT/$name" "$h" "${objs[@]}" $PKG_LIBS -lopenblas -lz -lm -pthread
  built=$((built+1))
done
echo "fuzz: $built harness(es) in $OUT/"
