#!/usr/bin/env bash
# Builds the deterministic random-weight test models with the generator shipped in
# ../shared/whisper-ref/generator (whisper.cpp's ggml format, real architecture), into
# build/models/, and checks them against the sha256 in whisper-ref/README.md.  Cached:
# a model whose hash already matches is not rebuilt.
# Usage: tests/data/make-models.sh [tiny-dims] [base-dims]   (default: tiny-dims base-dims)
set -euo pipefail
cd "$(dirname "$0")/../.."
REF=${MDC_SHARED_DIR:-$(cd .. && pwd)/shared}/whisper-ref
OUT=build/models
if [ ! -d "$REF" ]; then
  echo "make-models: $REF not found; skipping model generation" >&2
  exit 0
fi
mkdir -p "$OUT"
declare -A SHA=(
  [micro]=4209330359e4fd300e593a83871e22875dc943289b8f51692cd9eb3e71715a2c
  [tiny-dims]=ca8f4d04130937f02caafded551a5bad7d0b534470c7fede901f0cca2e8c86e8
  [base-dims]=17b44544ff3b79ab6406875b1936c85048ed6c24d5fbfaefd869ff077bc5e6cb
)
gen=$OUT/gen_whisper_model
if [ ! -x "$gen" ] || [ "$REF/generator/gen_whisper_model.c" -nt "$gen" ]; then
  cc -std=c99 -O2 -ffp-contract=off -o "$gen" "$REF/generator/gen_whisper_model.c" -lm
fi
presets=("$@")
[ ${#presets[@]} -gt 0 ] || presets=(tiny-dims base-dims)
for p in "${presets[@]}"; do
  f=$OUT/ggml-$p-random.bin
  if [ -f "$f" ] && [ "$(sha256sum "$f" | cut -d' ' -f1)" = "${SHA[$p]}" ]; then
    continue
  fi
  "$gen" --preset "$p" --seed 1 --std 0.05 --filters "$REF/data/mel_filters_80x201.f32" \
    --vocab "$REF/data/multilingual.tiktoken" -o "$f.tmp" >/dev/null
  got=$(sha256sum "$f.tmp" | cut -d' ' -f1)
  if [ "$got" != "${SHA[$p]}" ]; then
    echo "make-models: $p hash $got != ${SHA[$p]}" >&2
    exit 1
  fi
  mv "$f.tmp" "$f"
  echo "make-models: built $f"
done

# Quantized tiny-dims (golden/tiny-dims-q*/), made by our own `md-converter model quantize`
# and checked against whisper-quantize's sha256 (whisper-ref/models/QUANTIZED.json).
# Skipped while the binary has no `model quantize` (its usage line does not name it).
BIN=${MDC_BUILD_DIR:-build}/md-converter
if [ ! -f "$OUT/ggml-tiny-dims-random.bin" ]; then
  :
elif [ -x "$BIN" ] && "$BIN" model --help 2>&1 | grep quantize >/dev/null; then
  for q in q4_0 q4_1 q5_0 q5_1 q8_0; do
    f=$OUT/ggml-tiny-dims-random-$q.bin
    want=$(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["models"]["tiny-dims-"+sys.argv[2]]["sha256"])' "$REF/models/QUANTIZED.json" "$q")
    if [ -f "$f" ] && [ "$(sha256sum "$f" | cut -d' ' -f1)" = "$want" ]; then
      continue
    fi
    "$BIN" model quantize "$OUT/ggml-tiny-dims-random.bin" "$f.tmp" "$q" >/dev/null
    got=$(sha256sum "$f.tmp" | cut -d' ' -f1)
    if [ "$got" != "$want" ]; then
      echo "make-models: tiny-dims-$q hash $got != whisper-quantize's $want" >&2
      exit 1
    fi
    mv "$f.tmp" "$f"
    echo "make-models: quantized $f"
  done
else
  echo "make-models: no 'model quantize' in $BIN yet; tiny-dims-q* goldens skip" >&2
fi
