#!/usr/bin/env bash
# Builds the deterministic random-weight test models with the generator shipped in
# ../shared/whisper-ref/generator (whisper.cpp's ggml format, real architecture), into
# build/models/, and checks them against the sha256 in whisper-ref/README.md (f16 models),
# README-round2.md §5 (v3tiny) and models/QUANTIZED.json (quantized files, made by our own
# `md-converter model quantize`, which must be byte-identical to whisper-quantize's).
# Cached: a file whose hash already matches is not rebuilt.
# Usage: tests/data/make-models.sh [NAME...]
#   NAME: tiny-dims base-dims v3tiny tiny-dims-q4_0 … tiny-dims-q8_0 base-dims-q5_0
#   base-dims-q8_0 (default: all of them)
set -euo pipefail
cd "$(dirname "$0")/../.."
REF=${MDC_SHARED_DIR:-$(cd .. && pwd)/shared}/whisper-ref
OUT=build/models
BIN=${MDC_BUILD_DIR:-build}/md-converter
if [ ! -d "$REF" ]; then
  echo "make-models: $REF not found; skipping model generation" >&2
  exit 0
fi
mkdir -p "$OUT"
declare -A SHA=(
  [micro]=4209330359e4fd300e593a83871e22875dc943289b8f51692cd9eb3e71715a2c
  [tiny-dims]=ca8f4d04130937f02caafded551a5bad7d0b534470c7fede901f0cca2e8c86e8
  [base-dims]=17b44544ff3b79ab6406875b1936c85048ed6c24d5fbfaefd869ff077bc5e6cb
  [v3tiny]=90479ac6ceb30e43c8c2b53eecc000333a4fb310204d192e5291e19275fa56a9
)
# Quantized files: sha256 and source sha256 from models/QUANTIZED.json.
QUANT=(tiny-dims-q4_0 tiny-dims-q4_1 tiny-dims-q5_0 tiny-dims-q5_1 tiny-dims-q8_0
       base-dims-q5_0 base-dims-q8_0)
declare -A SRC_SHA=()
while read -r name sha src; do
  SHA[$name]=$sha
  SRC_SHA[$name]=$src
done < <(/usr/bin/python3 - "$REF/models/QUANTIZED.json" <<'EOF'
import json, sys
for k, v in json.load(open(sys.argv[1]))["models"].items():
    print(k, v["sha256"], v["source_sha256"])
EOF
)

gen=$OUT/gen_whisper_model
if [ ! -x "$gen" ] || [ "$REF/generator/gen_whisper_model.c" -nt "$gen" ]; then
  cc -std=c99 -O2 -ffp-contract=off -o "$gen" "$REF/generator/gen_whisper_model.c" -lm
fi

# File of NAME: ggml-tiny-dims-random.bin, ggml-tiny-dims-random-q5_0.bin (the names of
# README and QUANTIZED.json, like the shipped ggml-micro-random-q5_0.bin).
path_of() {
  case $1 in
    *-q*) echo "$OUT/ggml-${1%-q*}-random-${1##*-}.bin" ;;
    *) echo "$OUT/ggml-$1-random.bin" ;;
  esac
}
have() {  # NAME: the file exists with the expected hash
  local f; f=$(path_of "$1")
  [ -f "$f" ] && [ "$(sha256sum "$f" | cut -d' ' -f1)" = "${SHA[$1]}" ]
}
accept() {  # NAME TMPFILE: check the hash, move into place
  local got; got=$(sha256sum "$2" | cut -d' ' -f1)
  if [ "$got" != "${SHA[$1]}" ]; then
    echo "make-models: $1 hash $got != ${SHA[$1]}" >&2
    rm -f "$2"
    exit 1
  fi
  mv "$2" "$(path_of "$1")"
  echo "make-models: built $(path_of "$1")"
}

build_f16() {  # tiny-dims | base-dims
  local f=$OUT/ggml-$1-random.bin
  "$gen" --preset "$1" --seed 1 --std 0.05 --filters "$REF/data/mel_filters_80x201.f32" \
    --vocab "$REF/data/multilingual.tiktoken" -o "$f.tmp" >/dev/null
  accept "$1" "$f.tmp"
}

# large-v3 layout: 128 mel bands (OpenAI's mel_128 from mel_filters.npz as raw LE float32
# [128][201]) and 51866 tokens.  ref: README-round2.md §5.
build_v3tiny() {
  local mel=$OUT/mel128.f32 f=$OUT/ggml-v3tiny-random.bin
  /usr/bin/python3 - "$REF/data/mel_filters.npz" "$mel" <<'EOF'
import sys, numpy as np
m = np.load(sys.argv[1])["mel_128"].astype("<f4")
assert m.shape == (128, 201), m.shape
m.tofile(sys.argv[2])
EOF
  "$gen" --preset tiny-dims --n_mels 128 --n_vocab 51866 --seed 1 --std 0.05 --filters "$mel" \
    --vocab "$REF/data/multilingual.tiktoken" -o "$f.tmp" >/dev/null
  accept v3tiny "$f.tmp"
}

build_quant() {  # tiny-dims-q5_0 …: quantize the f16 model with our own tool
  local base=${1%-q*} type=${1##*-} f; f=$(path_of "$1")
  have "$base" || build_f16 "$base"
  local src=$OUT/ggml-$base-random.bin
  if [ "$(sha256sum "$src" | cut -d' ' -f1)" != "${SRC_SHA[$1]}" ]; then
    echo "make-models: $src is not the input QUANTIZED.json lists for $1" >&2
    exit 1
  fi
  if [ ! -x "$BIN" ]; then  # e.g. `make sanitize` alone: its golden tests then skip
    echo "make-models: $BIN not built (run make first); skipping $1" >&2
    return 0
  fi
  "$BIN" model quantize "$src" "$f.tmp" "$type"
  accept "$1" "$f.tmp"
}

names=("$@")
[ ${#names[@]} -gt 0 ] || names=(tiny-dims base-dims v3tiny "${QUANT[@]}")
for p in "${names[@]}"; do
  [ -n "${SHA[$p]:-}" ] || { echo "make-models: unknown model $p" >&2; exit 2; }
  have "$p" && continue
  case $p in
    tiny-dims|base-dims) build_f16 "$p" ;;
    v3tiny) build_v3tiny ;;
    *-q*) build_quant "$p" ;;
    *) echo "make-models: cannot build $p here" >&2; exit 2 ;;
  esac
done
