#!/usr/bin/env bash
# `md-converter model quantize IN OUT TYPE` against whisper-quantize: every file listed in
# whisper-ref/models/QUANTIZED.json (micro ×5 from the shipped ggml-micro-random.bin,
# tiny-dims ×5 and base-dims q5_0/q8_0 from the generated f16 models, whose sha256 must be
# the manifest's source_sha256) is re-made here and must have the manifest's sha256 —
# byte-identical output.  Then the failures: an already quantized input, an unknown TYPE,
# a missing / truncated / non-model input, an unwritable output — each exit 1 (2 for
# usage) with one line naming the problem, no OUT left behind, an existing OUT untouched.
# `model info` on a quantized file lists the tensor types.  Exit 77 = reference data absent.
set -u
cd "$(dirname "$0")/../.."
BIN=${MDC_BUILD_DIR:-build}/md-converter
SHARED=${MDC_SHARED_DIR:-../shared}
REF=$SHARED/whisper-ref
MODELS=${MDC_MODELS_DIR:-build/models}
PY=/usr/bin/python3

[ -x "$BIN" ] || { echo "FAIL: $BIN not built"; exit 1; }
[ -f "$REF/models/QUANTIZED.json" ] || { echo "reference data absent ($REF/models/QUANTIZED.json)"; exit 77; }

TMP=$(mktemp -d /tmp/mdc-quantize-test.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
. tests/integration/cli_lib.sh
sha() { sha256sum "$1" | cut -d' ' -f1; }

# ---- byte-identical to whisper-quantize ---------------------------------------------------
"$PY" - "$REF/models/QUANTIZED.json" >"$TMP/manifest.txt" <<'EOF'
import json, sys
for k, v in json.load(open(sys.argv[1]))["models"].items():
    src = k.rsplit("-", 1)[0]
    print(k, src, k.rsplit("-", 1)[1], v["sha256"], v["source_sha256"], v["header_ftype"])
EOF
n_checked=0
while read -r name src type want src_want ftype; do
  if [ "$src" = micro ]; then in=$REF/models/ggml-micro-random.bin; else in=$MODELS/ggml-$src-random.bin; fi
  if [ ! -f "$in" ]; then
    bad "$name: input $in absent (tests/data/make-models.sh makes it)"
    continue
  fi
  [ "$(sha "$in")" = "$src_want" ] && ok "$name: input sha256 is the manifest's source" \
    || { bad "$name: $in sha256 $(sha "$in") != source_sha256 $src_want"; continue; }
  out=$TMP/ggml-$name.bin
  run "q_$name" 0 "$BIN" model quantize "$in" "$out" "$type"
  [ ! -s "$TMP/q_$name.err" ] && ok "$name: nothing on stderr when it is not a terminal" \
    || bad "$name: stderr not empty: $(head -c 200 "$TMP/q_$name.err")"
  got=$(sha "$out")
  [ "$got" = "$want" ] && ok "$name: sha256 = whisper-quantize's" || bad "$name: sha256 $got != $want"
  got_ftype=$("$PY" -c 'import struct,sys; print(struct.unpack("<12i", open(sys.argv[1],"rb").read(48))[11])' "$out")
  [ "$got_ftype" = "$ftype" ] && ok "$name: header ftype $ftype" || bad "$name: header ftype $got_ftype != $ftype"
  ls "$TMP"/ggml-"$name".bin.tmp.* >/dev/null 2>&1 && bad "$name: temp file left behind" || true
  n_checked=$((n_checked+1))
  rm -f "$out"
done <"$TMP/manifest.txt"
[ "$n_checked" -eq 12 ] && ok "all 12 files of QUANTIZED.json checked" || bad "checked $n_checked of 12 files"

# ---- failures -------------------------------------------------------------------------------
MICRO=$REF/models/ggml-micro-random.bin
run already 1 "$BIN" model quantize "$REF/models/ggml-micro-random-q5_0.bin" "$TMP/x.bin" q8_0
has already err "already quantized"
has already err "2008 = q5_0"
one_line already
[ -e "$TMP/x.bin" ] && bad "already: OUT created" || ok "already: no OUT"

run bad_type 2 "$BIN" model quantize "$MICRO" "$TMP/x.bin" q6_k
has bad_type err "q6_k"
has bad_type err "q4_0|q4_1|q5_0|q5_1|q8_0"
run usage 2 "$BIN" model quantize "$MICRO" "$TMP/x.bin"
has usage err "IN OUT TYPE"

run missing 1 "$BIN" model quantize "$TMP/nope.bin" "$TMP/x.bin" q8_0
has missing err "$TMP/nope.bin"
one_line missing

head -c 3000000 "$MICRO" >"$TMP/truncated.bin"
run truncated 1 "$BIN" model quantize "$TMP/truncated.bin" "$TMP/x.bin" q8_0
has truncated err "$TMP/truncated.bin"
has truncated err "WSP_ETRUNC"
one_line truncated
[ -e "$TMP/x.bin" ] && bad "truncated: OUT created" || ok "truncated: no OUT"

run not_model 1 "$BIN" model quantize "$REF/data/jfk.wav" "$TMP/x.bin" q8_0
has not_model err "magic"

run no_dir 1 "$BIN" model quantize "$MICRO" "$TMP/no/such/dir/x.bin" q8_0
has no_dir err "$TMP/no/such/dir/x.bin"
one_line no_dir

if [ "$(id -u)" -ne 0 ]; then  # root writes anywhere: the read-only directory case needs a user
  mkdir "$TMP/ro" && chmod 555 "$TMP/ro"
  run ro_dir 1 "$BIN" model quantize "$MICRO" "$TMP/ro/x.bin" q8_0
  has ro_dir err "$TMP/ro/x.bin"
fi

# a failed run leaves an existing OUT as it was
echo "previous contents" >"$TMP/keep.bin"
run keep 1 "$BIN" model quantize "$TMP/truncated.bin" "$TMP/keep.bin" q4_0
[ "$(cat "$TMP/keep.bin")" = "previous contents" ] && ok "keep: existing OUT untouched" || bad "keep: OUT changed"
ls "$TMP"/keep.bin.tmp.* >/dev/null 2>&1 && bad "keep: temp file left behind" || ok "keep: no temp file"

# Ctrl-C: exit 130, no OUT, no temp file (or, on a fast machine, a complete correct OUT)
BASE=$MODELS/ggml-base-dims-random.bin
if [ -f "$BASE" ]; then
  timeout --preserve-status -s INT 0.15 "$BIN" model quantize "$BASE" "$TMP/int.bin" q8_0 \
    >/dev/null 2>"$TMP/int.err"
  rc=$?
  if [ $rc -eq 130 ]; then
    grep -q "interrupted" "$TMP/int.err" && ok "SIGINT: exit 130, says interrupted" || bad "SIGINT: message $(cat "$TMP/int.err")"
    [ -e "$TMP/int.bin" ] && bad "SIGINT: OUT exists" || ok "SIGINT: no OUT"
  elif [ $rc -eq 0 ]; then
    [ "$(sha "$TMP/int.bin")" = "b7ba5641219b2084dc5a0bff2495f9afe5ed0fedb2fa6265e9e0b38fe46af6cb" ] \
      && ok "SIGINT came after the end: OUT complete" || bad "SIGINT: rc 0 but OUT wrong"
  else
    bad "SIGINT: exit $rc"
  fi
  ls "$TMP"/int.bin.tmp.* >/dev/null 2>&1 && bad "SIGINT: temp file left behind" || ok "SIGINT: no temp file"
fi

# ---- model info on the quantized files ------------------------------------------------------
run info_f16 0 "$BIN" model info "$MICRO"
has info_f16 out "f16"
has info_f16 out "bytes/weight"
echo
[ $fails -eq 0 ] && echo "test_model_quantize: all passed" || echo "test_model_quantize: $fails failed"
[ $fails -eq 0 ]
