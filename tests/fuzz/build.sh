#!/usr/bin/env bash
# Builds every libFuzzer harness tests/fuzz/fuzz_<module>_*.c into build-fuzz/ with
# clang -fsanitize=fuzzer,address,undefined (Debian: clang-14, libclang-rt-14-dev).
# A harness is linked with its module's sources (src/<module>/*.c) and src/common/*.c,
# compiled with the same sanitizers.  FFmpeg and other system libraries are not
# instrumented (coverage feedback is from our code only).  `make fuzz` runs this.
set -eu
cd "$(dirname "$0")/../.."
OUT=${FUZZ_BUILD:-build-fuzz}
CC=${FUZZ_CC:-$(command -v clang-14 || command -v clang)}
PKGS="libavformat libavcodec libswresample libavutil libmicrohttpd fftw3f jansson"
PKG_CFLAGS=$(pkg-config --cflags $PKGS 2>/dev/null || true)
PKG_LIBS=$(pkg-config --libs $PKGS 2>/dev/null || true)
CFLAGS="-std=c11 -D_GNU_SOURCE -O1 -g -fno-omit-frame-pointer -Wall -Wextra -Werror
 -Wno-unused-parameter -Iinclude -Isrc $PKG_CFLAGS -pthread
 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined"
mkdir -p "$OUT"
built=0
for h in tests/fuzz/fuzz_*.c; do
  [ -e "$h" ] || continue
  name=$(basename "$h" .c)
  module=$(echo "$name" | cut -d_ -f2)
  srcs=$(ls src/"$module"/*.c src/common/*.c 2>/dev/null | sort -u)
  echo "fuzz: $name ($module)"
  # shellcheck disable=SC2086
  $CC $CFLAGS -o "$OUT/$name" "$h" $srcs $PKG_LIBS -lopenblas -lz -lm -pthread
  built=$((built+1))
done
echo "fuzz: $built harness(es) in $OUT/"
