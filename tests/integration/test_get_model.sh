#!/usr/bin/env bash
# scripts/get-model.sh against a local "model host" (MDC_MODEL_BASE_URL=file://…, curl reads
# it like the real one): a published name with a SHA-1 is verified and a mismatch discarded;
# a published quantized name without a SHA-1 is checked by loading it (model info) and a
# download that is not a model is discarded; a name whisper.cpp does not publish is not
# fetched.  Exit 0 when the model is there, 3 ("MODEL MISSING") otherwise — quickly, start-up
# never blocks.  Exit 77 = curl or data absent.
set -u
cd "$(dirname "$0")/../.."
BIN=$(pwd)/${MDC_BUILD_DIR:-build}/md-converter
case ${MDC_BUILD_DIR:-build} in /*) BIN=${MDC_BUILD_DIR}/md-converter ;; esac
SHARED=${MDC_SHARED_DIR:-../shared}
MICRO=$SHARED/whisper-ref/models/ggml-micro-random.bin
[ -x "$BIN" ] || { echo "FAIL: $BIN not built"; exit 1; }
command -v curl >/dev/null || { echo "curl absent"; exit 77; }
[ -f "$MICRO" ] || { echo "reference data absent ($MICRO)"; exit 77; }

TMP=$(mktemp -d /tmp/mdc-getmodel-test.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
mkdir -p "$TMP/host" "$TMP/models"
cp "$MICRO" "$TMP/host/ggml-tiny-q8_0.bin"                        # loads: accepted
cp "$SHARED/whisper-ref/data/jfk.wav" "$TMP/host/ggml-base-q5_1.bin" # not a model
cp "$MICRO" "$TMP/host/ggml-tiny.bin"                             # wrong SHA-1 for tiny
fails=0
ok() { echo "ok   $*"; }
bad() { echo "FAIL $*"; fails=$((fails+1)); }
get() {  # NAME EXPECTED_RC → stderr in $TMP/NAME.err
  MDC_ENV_FILE=/dev/null MDC_MODEL_BASE_URL="file://$TMP/host" MDC_BIN="$BIN" \
    WHISPER_MODEL="$1" WHISPER_MODELS_DIR="$TMP/models" bash scripts/get-model.sh 2>"$TMP/$1.err"
  local rc=$?
  [ $rc -eq "$2" ] && ok "$1: exit $rc" || { bad "$1: exit $rc, expected $2"; sed 's/^/    /' "$TMP/$1.err"; }
}
has() { grep -qF -- "$2" "$TMP/$1.err" && ok "$1: \"$2\"" || { bad "$1: stderr lacks \"$2\""; sed 's/^/    /' "$TMP/$1.err"; }; }

get tiny-q8_0 0
has tiny-q8_0 "checked by loading it"
cmp -s "$MICRO" "$TMP/models/ggml-tiny-q8_0.bin" && ok "tiny-q8_0 saved" || bad "tiny-q8_0 not saved"

get base-q5_1 3
has base-q5_1 "not a model md-converter can load"
has base-q5_1 "magic"
[ -e "$TMP/models/ggml-base-q5_1.bin" ] && bad "base-q5_1: a non-model was kept" || ok "base-q5_1 discarded"

get tiny 3
has tiny "checksum mismatch"
[ -e "$TMP/models/ggml-tiny.bin" ] && bad "tiny: a mismatching file was kept" || ok "tiny discarded"

get base-q4_0 3
has base-q4_0 "not a model whisper.cpp publishes"
has base-q4_0 "large-v3-turbo-q8_0"

ls "$TMP/models" | grep -q part && bad "partial downloads left behind" || ok "no partial files left"
echo
[ $fails -eq 0 ] && echo "test_get_model: all passed" || echo "test_get_model: $fails failed"
[ $fails -eq 0 ]
