#!/usr/bin/env bash
# The md-converter command line: --version/--help, `model info` on good and bad files,
# `transcribe` of jfk.wav with the micro model in every format (verbose_json checked for
# OpenAI's fields), -o, bad audio / missing model / bad options → non-zero exit with one
# clear message, `serve` refusing a bad setting.  Exit 77 = skipped (reference data absent).
set -u
cd "$(dirname "$0")/../.."
BIN=${MDC_BUILD_DIR:-build}/md-converter
SHARED=${MDC_SHARED_DIR:-../shared}
MICRO=$SHARED/whisper-ref/models/ggml-micro-random.bin
JFK=$SHARED/whisper-ref/data/jfk.wav
AUDIO=$SHARED/fixtures/audio
PY=/usr/bin/python3

[ -x "$BIN" ] || { echo "FAIL: $BIN not built"; exit 1; }
[ -f "$MICRO" ] && [ -f "$JFK" ] || { echo "reference data absent ($MICRO, $JFK)"; exit 77; }

TMP=$(mktemp -d /tmp/mdc-cli-test.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
. tests/integration/cli_lib.sh

# ---- version, help, usage errors ------------------------------------------------------
run version 0 "$BIN" --version
has version out "md-converter "
run help 0 "$BIN" --help
has help out "transcribe FILE"
has help out "model info PATH"
run noargs 2 "$BIN"
run unknown_cmd 2 "$BIN" frobnicate
has unknown_cmd err "unknown command"
run bad_format 2 "$BIN" transcribe "$JFK" -f docx
has bad_format err "docx"
run two_files 2 "$BIN" transcribe "$JFK" "$JFK"
run bad_threads 2 "$BIN" transcribe "$JFK" -t zero
has bad_threads err "--threads"
run bad_locale 2 "$BIN" transcribe "$JFK" --locale fr
has bad_locale err "pt-BR|en"
run bad_model_name 2 "$BIN" transcribe "$JFK" -m gigantic
has bad_model_name err "gigantic"

# ---- model info ------------------------------------------------------------------------
run info_micro 0 "$BIN" model info "$MICRO"
for f in "n_vocab:        51865" "n_audio_layer:  2" "n_text_state:   64" "n_mels:         80" \
         "weight type:    f16" "tensors:        89" "tensor bytes:" "file size:      8244633 bytes" \
         "load time:" "multilingual"; do
  has info_micro out "$f"
done
head -c 100000 "$MICRO" >"$TMP/truncated.bin"
run info_truncated 1 "$BIN" model info "$TMP/truncated.bin"
has info_truncated err "$TMP/truncated.bin"
has info_truncated err "trunc"
one_line info_truncated
run info_missing 1 "$BIN" model info "$TMP/nope.bin"
has info_missing err "file not found"
run info_not_a_model 1 "$BIN" model info "$JFK"
has info_not_a_model err "magic"
run info_usage 2 "$BIN" model info

# ---- transcribe: every format ------------------------------------------------------------
# The random-weight micro model never ends a window (220 tokens, whisper-ref README), so
# no fallback keeps each run to seconds, as the goldens were made.
T=(-m "$MICRO" -l en --no-fallback -t 2)
run tr_md 0 "$BIN" transcribe "$JFK" "${T[@]}" -f md --title "Reunião de teste" \
    --date 2026-11-29 --participants "Ana, Bruno"
has tr_md out "# Reunião de teste"
has tr_md out "2026-11-29"
has tr_md out "Bruno"
has tr_md out "ggml-micro-random.bin"
has tr_md out "**[00:00:"
run tr_md_en 0 "$BIN" transcribe "$JFK" "${T[@]}" --locale en
has tr_md_en out "Meeting report"
run tr_txt 0 "$BIN" transcribe "$JFK" "${T[@]}" -f txt
[ -s "$TMP/tr_txt.out" ] && ok "txt not empty" || bad "txt output empty"
run tr_srt 0 "$BIN" transcribe "$JFK" "${T[@]}" -f srt
has tr_srt out " --> "
run tr_vtt 0 "$BIN" transcribe "$JFK" "${T[@]}" -f vtt
head -n 1 "$TMP/tr_vtt.out" | grep -q '^WEBVTT' && ok "vtt header" || bad "vtt lacks WEBVTT header"
run tr_json 0 "$BIN" transcribe "$JFK" "${T[@]}" -f json
"$PY" -c 'import json,sys; d=json.load(open(sys.argv[1])); assert isinstance(d["text"], str); assert d["usage"] == {"type": "duration", "seconds": 11}, d["usage"]' \
    "$TMP/tr_json.out" && ok "json has text and usage (11 s)" || bad "json output invalid"
run tr_verbose 0 "$BIN" transcribe "$JFK" "${T[@]}" -f verbose_json -o "$TMP/v.json"
[ -s "$TMP/tr_verbose.out" ] && bad "-o: stdout should be empty" || ok "-o leaves stdout empty"
"$PY" -m json.tool "$TMP/v.json" >/dev/null && ok "verbose_json parses (json.tool)" || bad "verbose_json does not parse"
"$PY" - "$TMP/v.json" <<'EOF' && ok "verbose_json has OpenAI's fields" || bad "verbose_json fields"
import json, sys
d = json.load(open(sys.argv[1]))
for k in ("task", "language", "duration", "text", "segments"):
    assert k in d, k
assert d["task"] == "transcribe", d["task"]
assert abs(d["duration"] - 11.0) < 0.1, d["duration"]
assert d["segments"], "no segments"
for s in d["segments"]:
    for k in ("id", "seek", "start", "end", "text", "tokens", "temperature", "avg_logprob",
              "compression_ratio", "no_speech_prob"):
        assert k in s, k
    assert isinstance(s["tokens"], list) and all(isinstance(t, int) for t in s["tokens"])
    assert isinstance(s["start"], (int, float)) and isinstance(s["end"], (int, float))
EOF
run tr_auto 0 "$BIN" transcribe "$JFK" -m "$MICRO" -l auto --no-fallback -t 2 -f verbose_json
"$PY" -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["language"]' \
    "$TMP/tr_auto.out" && ok "auto language detected" || bad "auto language missing"

# ---- transcribe: failures are one clear line and a non-zero exit ---------------------------
if [ -f "$AUDIO/bad_meeting_notes.txt" ]; then
  run tr_text_file 1 "$BIN" transcribe "$AUDIO/bad_meeting_notes.txt" "${T[@]}"
  has tr_text_file err "bad_meeting_notes.txt"
  has tr_text_file err "not an audio"
  one_line tr_text_file
  run tr_empty 1 "$BIN" transcribe "$AUDIO/bad_empty_0_bytes.wav" "${T[@]}"
  has tr_empty err "empty"
  one_line tr_empty
fi
run tr_missing_audio 1 "$BIN" transcribe "$TMP/none.wav" "${T[@]}"
has tr_missing_audio err "none.wav"
run tr_missing_model 1 "$BIN" transcribe "$JFK" -m "$TMP/ggml-none.bin"
has tr_missing_model err "cannot load model $TMP/ggml-none.bin: file not found"
one_line tr_missing_model
run tr_named_model 1 env WHISPER_MODELS_DIR="$TMP/models" "$BIN" transcribe "$JFK" -m tiny
has tr_named_model err "$TMP/models/ggml-tiny.bin"
run tr_truncated_model 1 "$BIN" transcribe "$JFK" -m "$TMP/truncated.bin"
has tr_truncated_model err "$TMP/truncated.bin"
run tr_bad_lang 2 "$BIN" transcribe "$JFK" -m "$MICRO" -l xx   # a usage error, before any work
has tr_bad_lang err "unknown language"
has tr_bad_lang err "pt-BR"
# DTW and speaker turns: usage errors before any work, a preset the model lacks → exit 1
run tr_dtw_bad 2 "$BIN" transcribe "$JFK" -m "$MICRO" --dtw tiny.fr --words -f verbose_json
has tr_dtw_bad err "--dtw"
run tr_dtw_nowords 2 "$BIN" transcribe "$JFK" -m "$MICRO" --dtw tiny
has tr_dtw_nowords err "--dtw sets word times"
run tr_dtw_nofit 1 "$BIN" transcribe "$JFK" -m "$MICRO" --dtw tiny --words -f verbose_json --no-fallback -t 2
has tr_dtw_nofit err "do not fit this model (2 text layers"
one_line tr_dtw_nofit
run tr_turns_bad 2 "$BIN" transcribe "$JFK" -m "$MICRO" --diarize --speaker-turns words
has tr_turns_bad err "--speaker-turns must be auto, segment or audio"
run tr_turns_nodiar 2 "$BIN" transcribe "$JFK" -m "$MICRO" --speaker-turns audio
has tr_turns_nodiar err "--speaker-turns needs --diarize"
run tr_turns_fmt 2 "$BIN" transcribe "$JFK" -m "$MICRO" --diarize --speaker-turns audio -f srt
has tr_turns_fmt err "applies to -f md and -f diarized_json only"
# the server's language forms: a BCP-47 tag in any case, a full name
run tr_lang_tag 0 "$BIN" transcribe "$JFK" -m "$MICRO" -l EN-us --no-fallback -t 2 -f verbose_json
"$PY" -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["language"] == "english", d["language"]' \
    "$TMP/tr_lang_tag.out" && ok "-l EN-us transcribes as english" || bad "-l EN-us not honoured"
run tr_lang_name 0 "$BIN" transcribe "$JFK" -m "$MICRO" -l Portuguese --no-fallback -t 2 -f verbose_json
"$PY" -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["language"] == "portuguese", d["language"]' \
    "$TMP/tr_lang_name.out" && ok "-l Portuguese transcribes as portuguese" || bad "-l Portuguese not honoured"

# ---- transcribe reads the same settings table as serve: .env, environment, validation ----
mkdir -p "$TMP/envdir"
ABIN=$(realpath "$BIN"); AJFK=$(realpath "$JFK")
printf 'WHISPER_MODEL=%s\nREPORT_LOCALE=en\n' "$MICRO" >"$TMP/envdir/.env"
( cd "$TMP/envdir" && env -u MDC_ENV_FILE -u WHISPER_MODEL -u REPORT_LOCALE \
    "$ABIN" transcribe "$AJFK" -l en --no-fallback -t 2 -f md ) >"$TMP/tr_dotenv.out" 2>"$TMP/tr_dotenv.err" \
  && ok "tr_dotenv (model and locale from ./.env)" || bad "tr_dotenv: $(head -c 400 "$TMP/tr_dotenv.err")"
has tr_dotenv out "Meeting report"
printf 'WHISPER_MODEL=%s/from-dotenv.bin\n' "$TMP" >"$TMP/envdir/.env"
( cd "$TMP/envdir" && env -u MDC_ENV_FILE -u WHISPER_MODEL "$ABIN" transcribe "$AJFK" ) \
  >"$TMP/tr_dotenv_model.out" 2>"$TMP/tr_dotenv_model.err"
has tr_dotenv_model err "$TMP/from-dotenv.bin"
run tr_env_bad_model 2 env WHISPER_MODEL=huge "$BIN" transcribe "$JFK"
has tr_env_bad_model err "invalid WHISPER_MODEL=\"huge\" (environment)"
run tr_env_typo 2 env WHISPER_PRELAOD=1 "$BIN" transcribe "$JFK"
has tr_env_typo err "unknown setting WHISPER_PRELAOD"
run tr_bad_m 2 "$BIN" transcribe "$JFK" -m huge
has tr_bad_m err "invalid WHISPER_MODEL=\"huge\" (-m)"
run settings_env 0 "$BIN" settings env
cmp -s "$TMP/settings_env.out" .env.example && ok "settings env = .env.example" || bad "settings env differs from .env.example"

# ---- scripts/get-model.sh (make run): reads the settings through the binary; no network
# → exit 3 and a loud "MODEL MISSING" (make run then serves with /ready 503 missing)
run getmodel_offline 3 env -u MDC_ENV_FILE -u WHISPER_MODEL MDC_BIN="$ABIN" WHISPER_MODELS_DIR="$TMP/gm" \
    MDC_MODEL_BASE_URL=http://127.0.0.1:9 scripts/get-model.sh
has getmodel_offline err "MODEL MISSING: $TMP/gm/ggml-base.bin"
run getmodel_path_ok 0 env MDC_BIN="$ABIN" WHISPER_MODEL="$MICRO" scripts/get-model.sh
run getmodel_bad_setting 2 env MDC_BIN="$ABIN" WHISPER_MODEL=huge scripts/get-model.sh
has getmodel_bad_setting err "invalid WHISPER_MODEL"
run settings_get 0 env WHISPER_MODEL=tiny WHISPER_MODELS_DIR=/m "$BIN" settings get MODEL_PATH
has settings_get out "/m/ggml-tiny.bin"

# ---- serve refuses bad settings before listening --------------------------------------------
run serve_bad_port 2 env -u MDC_ENV_FILE PORT=notaport "$BIN" serve
has serve_bad_port err "PORT"
has serve_bad_port err "0 to 65535"
run serve_typo 2 env WHISPER_PRELAOD=true "$BIN" serve
has serve_typo err "WHISPER_PRELAOD"

echo
[ $fails -eq 0 ] && echo "test_cli: all passed" || echo "test_cli: $fails failed"
[ $fails -eq 0 ]
