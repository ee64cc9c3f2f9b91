#!/usr/bin/env bash
# Obtains the configured Whisper model, and the voice-activity-detection model when one
# is configured, if they are missing, so `make run` can serve them.
#
#   WHISPER_MODEL       name (default base) or a path; from the environment, else ./.env
#   WHISPER_MODELS_DIR  where names resolve (default models): DIR/ggml-NAME.bin
#   WHISPER_VAD_MODEL   Silero VAD name (silero-v6.2.0) or a path; empty (default) = none.
#                       A name is downloaded from whisper.cpp's VAD host (ggml-org/whisper-vad,
#                       as its models/download-vad-model.sh does).  whisper.cpp publishes no
#                       checksum for these files: the download is checked structurally (ggml
#                       magic + "silero" type) and its SHA-256 printed; the sha256 of
#                       silero-v6.2.0 below is that of whisper.cpp's test copy of the model.
#                       A VAD model that cannot be fetched is reported, not fatal (exit code
#                       as for the Whisper model alone).
#
# A name is downloaded from whisper.cpp's model host and its SHA-1 checked against the
# checksums whisper.cpp publishes (models/README.md, models/download-ggml-model.sh).
# A path is used as given: nothing is downloaded.
#
# Never blocks start-up: when the download fails (no network, checksum mismatch, unknown
# name) it prints what to do and exits 3 quickly (5 s connect timeout); 0 = the model is
# there.  `make run` starts the server anyway; /ready answers 503 "model_state":"missing"
# and transcriptions 503 model_unavailable until the file is there.
# WHISPER_MODEL / WHISPER_MODELS_DIR come from `md-converter settings get` (MDC_BIN, default
# build/md-converter), so .env is read exactly as `serve` reads it.
set -u

HOST_URL=${MDC_MODEL_BASE_URL:-https://huggingface.co/ggerganov/whisper.cpp/resolve/main}

# Every name whisper.cpp publishes on its model host (models/download-ggml-model.sh's list,
# whisper.cpp 41e789e; small.en-tdrz, hosted elsewhere, is left out): f16 files and the
# quantized ones it ships (-q5_0, -q5_1, -q8_0).
MODELS="tiny tiny.en tiny-q5_1 tiny.en-q5_1 tiny-q8_0
base base.en base-q5_1 base.en-q5_1 base-q8_0
small small.en small-q5_1 small.en-q5_1 small-q8_0
medium medium.en medium-q5_0 medium.en-q5_0 medium-q8_0
large-v1 large-v2 large-v2-q5_0 large-v2-q8_0 large-v3 large-v3-q5_0
large-v3-turbo large-v3-turbo-q5_0 large-v3-turbo-q8_0"

# SHA-1 where whisper.cpp lists one (models/README.md "Available models"); the download
# script itself lists none.  large-v3-turbo-q8_0's is not in whisper.cpp's README: it is
# the SHA-1 of the file on the host as many projects pin it (kept from earlier).  A name
# without a SHA-1 is downloaded and then checked by loading it (md-converter model info:
# header, every tensor's name/shape/type/size) instead.
declare -A SHA1=(
  [tiny]=bd577a113a864445d4c299885e0cb97d4ba92b5f
  [tiny.en]=c78c86eb1a8faa21b369bcd33207cc90d64ae9df
  [base]=465707469ff3a37a2b9b8d8f89f2f99de7299dac
  [base.en]=137c40403d78fd54d454da0f9bd998f78703390c
  [small]=55356645c2b361a969dfd0ef2c5a50d530afd8d5
  [small.en]=db8a495a91d927739e50b3fc1cc4c6b8f6c2d022
  [medium]=fd9727b6e1217c2f614f9b698455c4ffd82463b4
  [medium.en]=8c30f0e44ce9560643ebd10bbe50cd20eafd3723
  [large-v1]=b1caaf735c4cc1429223d5a74f0f4d0b9b59a299
  [large-v2]=0f4c8e34f21cf1a914c59d8b3ce882345ad349d6
  [large-v2-q5_0]=00e39f2196344e901b3a2bd5814807a769bd1630
  [large-v3]=ad82bf6a9043ceed055076d0fd39f5f186ff8062
  [large-v3-q5_0]=e6e2ed78495d403bef4b7cff42ef4aaadcfea8de
  [large-v3-turbo]=4af2b29d7ec73d781377bfd1758ca957a807e941
  [large-v3-turbo-q5_0]=e050f7970618a659205450ad97eb95a18d69c9ee
  [large-v3-turbo-q8_0]=01bf15bedffe9f39d65c1b6ff9b687ea91f59e0e
)

say() { echo "get-model: $*" >&2; }
# The model is still missing: say so loudly and exit 3 (`make run` starts the server
# anyway; its /ready answers 503 "model_state":"missing" until the file is there).
missing() {
  say "*** MODEL MISSING: $DEST ***"
  say "The server starts anyway, but /ready answers 503 \"model_state\":\"missing\" and"
  say "transcriptions 503 model_unavailable until the file is there (then: kill -HUP the server"
  say "or just send a request; nothing needs a restart)."
  exit 3
}

# The settings as `serve` reads them (environment, then ./.env or MDC_ENV_FILE, the one
# settings table, validated): ask the binary rather than parse .env a second time.
BIN=${MDC_BIN:-${MDC_BUILD_DIR:-build}/md-converter}
[ -x "$BIN" ] || { say "$BIN is not built (make)"; exit 2; }
MODEL=$("$BIN" settings get WHISPER_MODEL) || exit 2 # a bad setting: the binary says which
DEST=$("$BIN" settings get MODEL_PATH) || exit 2
DIR=$(dirname "$DEST")

VAD_HOST_URL=${MDC_VAD_MODEL_BASE_URL:-https://huggingface.co/ggml-org/whisper-vad/resolve/main}
declare -A VAD_SHA256=(
  [silero-v6.2.0]=2aa269b785eeb53a82983a20501ddf7c1d9c48e33ab63a41391ac6c9f7fb6987
)

# The configured VAD model (WHISPER_VAD_MODEL), fetched when it is a missing name.
get_vad() {
  local name dest
  name=$("$BIN" settings get WHISPER_VAD_MODEL) || return 0
  [ -n "$name" ] || return 0
  dest=$("$BIN" settings get VAD_MODEL_PATH) || return 0
  case "$name" in
    */*|*.bin)
      if [ -f "$name" ]; then
        say "WHISPER_VAD_MODEL is a path ($name): present, nothing to download"
      else
        say "WHISPER_VAD_MODEL is a path ($name) that does not exist; nothing is downloaded for a path."
      fi
      return 0 ;;
  esac
  if [ -s "$dest" ]; then
    say "VAD model $name present at $dest"
    return 0
  fi
  mkdir -p "$(dirname "$dest")" 2>/dev/null || { say "cannot create $(dirname "$dest"); not downloading"; return 0; }
  local tmp="$dest.part.$$" url="$VAD_HOST_URL/ggml-$name.bin" ok=1
  say "downloading VAD model $name from $url to $dest ..."
  if command -v curl >/dev/null 2>&1; then
    curl -fL -sS --connect-timeout 5 --retry 1 --retry-max-time 10 \
         --speed-limit 1024 --speed-time 60 -o "$tmp" "$url" && ok=0
  elif command -v wget >/dev/null 2>&1; then
    wget -q --connect-timeout=5 --tries=2 --read-timeout=60 -O "$tmp" "$url" && ok=0
  fi
  if [ $ok -ne 0 ] || [ ! -s "$tmp" ]; then
    rm -f "$tmp"
    say "could not download $url; voice-activity detection stays off (WHISPER_VAD=auto) or"
    say "answers 503 model_unavailable (WHISPER_VAD=true / vad=true) until $dest exists."
    return 0
  fi
  # structure: "ggml" magic (6c 6d 67 67 little-endian) then a "silero…" type string
  if [ "$(head -c 4 "$tmp" | od -An -tx1 | tr -d ' \n')" != 6c6d6767 ] ||
     [ "$(head -c 14 "$tmp" | tail -c 6 | tr -d '\000')" != silero ]; then
    rm -f "$tmp"
    say "$url is not a ggml Silero VAD file; discarded."
    return 0
  fi
  local got want=${VAD_SHA256[$name]:-}
  got=$(sha256sum "$tmp" | cut -d' ' -f1)
  if [ -n "$want" ] && [ "$got" != "$want" ]; then
    say "note: $name has SHA-256 $got, not that of whisper.cpp's test copy ($want);"
    say "the server validates the whole file when it loads it."
  fi
  mv -f "$tmp" "$dest"
  say "VAD model $name saved to $dest (SHA-256 $got)"
  return 0
}
get_vad

case "$MODEL" in
  */*|*.bin)
    if [ -f "$MODEL" ]; then
      say "WHISPER_MODEL is a path ($MODEL): present, nothing to download"
    else
      say "WHISPER_MODEL is a path ($MODEL) that does not exist; nothing is downloaded for a path."
      missing
    fi
    exit 0 ;;
esac

if [ -s "$DEST" ]; then
  say "model $MODEL present at $DEST"
  exit 0
fi

known=0
for m in $MODELS; do [ "$m" = "$MODEL" ] && known=1; done
if [ $known -eq 0 ]; then
  say "\"$MODEL\" is not a model whisper.cpp publishes, so it is not downloaded automatically."
  say "Published: $(echo $MODELS)"
  say "Place the file at $DEST yourself (md-converter model quantize makes -q4_0 … -q8_0 files from an f16 one), or set WHISPER_MODEL to one of the names above."
  missing
fi
SUM=${SHA1[$MODEL]:-}

mkdir -p "$DIR" 2>/dev/null || { say "cannot create $DIR; not downloading"; missing; }
TMP="$DEST.part.$$"
trap 'rm -f "$TMP"' EXIT
URL="$HOST_URL/ggml-$MODEL.bin"
say "downloading model $MODEL from $URL to $DEST ..."
ok=1
if command -v curl >/dev/null 2>&1; then
  progress=-sS
  [ -t 2 ] && progress=--progress-bar
  curl -fL $progress --connect-timeout 5 --retry 1 --retry-max-time 10 \
       --speed-limit 1024 --speed-time 60 -o "$TMP" "$URL" && ok=0
elif command -v wget >/dev/null 2>&1; then
  wget -q --connect-timeout=5 --tries=2 --read-timeout=60 -O "$TMP" "$URL" && ok=0
else
  say "neither curl nor wget is installed"
fi

if [ $ok -ne 0 ] || [ ! -s "$TMP" ]; then
  say "could not download $URL (no network, or the host is unreachable)."
  say "To fix: copy ggml-$MODEL.bin${SUM:+ (SHA-1 $SUM)} to $DEST, or set WHISPER_MODEL to a path."
  missing
fi

if [ -n "$SUM" ]; then
  GOT=$(sha1sum "$TMP" | cut -d' ' -f1)
  if [ "$GOT" != "$SUM" ]; then
    say "checksum mismatch for $URL: got SHA-1 $GOT, expected $SUM; the download was discarded."
    missing
  fi
  how="SHA-1 verified"
else
  if ! err=$("$BIN" model info "$TMP" 2>&1 >/dev/null); then
    say "the download of $URL is not a model md-converter can load: ${err#md-converter: }; discarded."
    missing
  fi
  how="no SHA-1 published; checked by loading it with $BIN model info"
fi
mv -f "$TMP" "$DEST"
trap - EXIT
say "model $MODEL saved to $DEST ($how)"
exit 0
