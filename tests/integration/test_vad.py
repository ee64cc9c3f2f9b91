"""Transcribing only speech through the real server (issue 13 part 1), with the real
Silero model (whisper-ref/models/ggml-silero-v6.2.0.bin) and the micro Whisper model:
- WHISPER_VAD_MODEL set, WHISPER_VAD=auto: on by default; /ready and /metrics show the VAD
  holder's own state (unloaded at start, ready after the first use);
- vad=false keeps today's behaviour exactly (same bytes as a server without any VAD);
- vad / chunking_strategy parsing: every bad value is a 400 invalid_field naming the
  problem, on the report route, the OpenAI route and /jobs; vad=true on a server without
  a VAD model is a 400 too;
- silence (edge_silence_1s.wav and a generated 10 minutes of zeros): 200, no segment, the
  report says no speech was detected, and mdconv_decoder_windows_total does not move
  (while vad=false on the same second of silence does decode a window);
- edge_5min_two_utterances.flac: every segment starts and ends inside one of the two
  utterances (62.000-66.141 s, 251.500-256.575 s, +-1 s), with 1 encoder window instead
  of the 10 the whole recording takes.
"""
import io
import json
import os
import struct
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mdc_testserver import (FAST, FIXTURES, SHARED, SHORT_CLIP, Checks, Server, error_code,  # noqa: E402
                            metric, require_binary)

require_binary()
SILERO = os.path.join(SHARED, "whisper-ref", "models", "ggml-silero-v6.2.0.bin")
if not os.path.exists(SILERO):
    print("Silero model missing at %s" % SILERO)
    sys.exit(77)
c = Checks("test_vad")
SILENCE_1S = os.path.join(FIXTURES, "edge_silence_1s.wav")
FIVE_MIN = os.path.join(FIXTURES, "edge_5min_two_utterances.flac")
VAD_ENV = {"WHISPER_VAD_MODEL": SILERO}
OPENAI = "/v1/audio/transcriptions"


def wav_silence(seconds):
    n = int(seconds * 16000)
    b = io.BytesIO()
    b.write(b"RIFF" + struct.pack("<I", 36 + 2 * n) + b"WAVEfmt ")
    b.write(struct.pack("<IHHIIHH", 16, 1, 1, 16000, 32000, 2, 16))
    b.write(b"data" + struct.pack("<I", 2 * n))
    b.write(bytes(2 * n))
    return b.getvalue()


def windows(s):
    return metric(s.metrics(), "mdconv_decoder_windows_total") or 0


def fields(**kw):
    f = dict(FAST)
    f.update(kw)
    return f


print("1. VAD configured (auto → on): its own holder state in /ready and /metrics")
with Server(env=VAD_ENV) as s:
    st, r = s.get_json("/ready")
    v = (r or {}).get("vad") or {}
    c.check(st == 200 and v.get("state") == "unloaded" and v.get("default") is True,
            "/ready: vad {state unloaded, default true}", r)
    st, cf = s.get_json("/config")
    c.check(st == 200 and (cf or {}).get("vad") == {"available": True, "default": True},
            "/config: vad {available, default}", (cf or {}).get("vad"))
    m = s.metrics()
    c.check(metric(m, "mdconv_model_state", model="ggml-silero-v6.2.0.bin") == 0,
            "mdconv_model_state{model=ggml-silero-v6.2.0.bin} 0 at start")
    c.check(metric(m, "mdconv_model_state", model="ggml-micro-random.bin") == 0,
            "the Whisper model's own series next to it")
    c.check(metric(m, "mdconv_decoder_windows_total") == 0, "mdconv_decoder_windows_total 0 at start")

    print("2. silence: no decoder work, the report says so")
    JSON = {"Accept": "application/json"}
    st, h, body = s.upload(SILENCE_1S, fields(), headers=JSON)
    c.check(st == 200, "edge_silence_1s.wav → 200", body[:200])
    j = json.loads(body) if st == 200 else {}
    md = j.get("markdown", "")
    c.check("Nenhuma fala detectada." in md, "the report says 'Nenhuma fala detectada.'", md[-300:])
    c.check(j.get("segments") == [], "no segment", j.get("segments"))
    m = s.metrics()
    c.check(metric(m, "mdconv_decoder_windows_total") == 0, "mdconv_decoder_windows_total still 0")
    c.check(metric(m, "mdconv_decoder_steps_total") == 0, "mdconv_decoder_steps_total 0")
    c.check(metric(m, "mdconv_vad_runs_total", speech="no") == 1, "mdconv_vad_runs_total{speech=no} 1")
    c.check(metric(m, "mdconv_model_state", model="ggml-silero-v6.2.0.bin") == 2, "VAD model ready (2)")
    c.check(metric(m, "mdconv_model_state", model="ggml-micro-random.bin") == 0,
            "the Whisper model was never loaded for it")
    st, r = s.get_json("/ready")
    c.check(((r or {}).get("vad") or {}).get("state") == "ready", "/ready: vad state ready")

    st, h, body = s.upload(SILENCE_1S, fields(report_locale="en"), headers=JSON)
    c.check(st == 200 and "No speech detected." in json.loads(body).get("markdown", ""),
            "en report: 'No speech detected.'")

    t0 = time.monotonic()
    st, h, body = s.upload(file_bytes=wav_silence(600), filename="ten_minutes.wav",
                           fields=fields(response_format="verbose_json"), endpoint=OPENAI)
    dt = time.monotonic() - t0
    j = json.loads(body) if st == 200 else {}
    c.check(st == 200 and j.get("segments") == [] and j.get("text", "x").strip() == "",
            "10 minutes of generated silence → 200, empty transcript (%.1f s)" % dt, body[:200])
    c.check(abs(j.get("duration", 0) - 600) < 0.01, "duration 600 s", j.get("duration"))
    c.check(windows(s) == 0, "still zero decoder windows after 10 minutes of silence")

    st, h, body = s.upload(SILENCE_1S, fields(vad="false"))
    c.check(st == 200 and windows(s) >= 1, "vad=false on the same second decodes (windows %s)" % windows(s))

    print("3. field errors: 400 invalid_field naming the problem")
    bad = [
        ({"vad": "maybe"}, "vad must be true or false"),
        ({"chunking_strategy": "manual"}, "chunking_strategy must be"),
        ({"chunking_strategy": "{\"type\": \"client_vad\"}"}, "server_vad"),
        ({"chunking_strategy": "{\"type\": \"server_vad\", \"threshold\": 2}"}, "threshold"),
        ({"chunking_strategy": "{\"type\": \"server_vad\", \"silence_duration_ms\": -3}"}, "silence_duration_ms"),
        ({"chunking_strategy": "{\"type\": \"server_vad\", \"prefix_padding_ms\": \"x\"}"}, "prefix_padding_ms"),
        ({"chunking_strategy": "{\"type\": \"server_vad\", \"foo\": 1}"}, "unknown field"),
        ({"chunking_strategy": "{not json"}, "JSON object"),
        ({"vad": "false", "chunking_strategy": "auto"}, "contradicts"),
    ]
    for endpoint in ("/relatorio/process-meeting", OPENAI, "/jobs"):
        for f, needle in bad:
            st, h, body = s.upload(SHORT_CLIP, fields(**f), endpoint=endpoint)
            msg = ""
            try:
                msg = json.loads(body)["error"]["message"]
            except (ValueError, KeyError, TypeError):
                pass
            c.check(st == 400 and error_code(body) == "invalid_field" and needle in msg,
                    "%s %s → 400 (%s)" % (endpoint, f, msg[:70]), body[:200])

    print("4. chunking_strategy accepted: auto and server_vad")
    for cs in ("auto", "{\"type\": \"server_vad\", \"threshold\": 0.6, \"silence_duration_ms\": 500, \"prefix_padding_ms\": 300}"):
        st, h, body = s.upload(SILENCE_1S, fields(chunking_strategy=cs, response_format="json"), endpoint=OPENAI)
        c.check(st == 200 and json.loads(body).get("text", "x").strip() == "",
                "chunking_strategy=%s → 200, empty text for silence" % cs[:30], body[:200])

    print("5. edge_5min_two_utterances.flac: segments only inside the two utterances")
    w0 = windows(s)
    st, h, body = s.upload(FIVE_MIN, fields(response_format="verbose_json"), endpoint=OPENAI)
    w1 = windows(s)
    j = json.loads(body) if st == 200 else {}
    segs = j.get("segments") or []
    utt = [(62.000 - 1, 66.141 + 1), (251.500 - 1, 256.575 + 1)]
    inside = lambda t: any(a <= t <= b for a, b in utt)  # noqa: E731
    c.check(st == 200 and len(segs) >= 1, "200 with %d segment(s)" % len(segs), body[:200])
    c.check(all(inside(sg["start"]) and inside(sg["end"]) for sg in segs),
            "every segment starts and ends inside an utterance: %s" % [(sg["start"], sg["end"]) for sg in segs])
    c.check(w1 - w0 == 1, "1 encoder window with VAD (got %d)" % (w1 - w0))
    st, h, body = s.upload(FIVE_MIN, fields(response_format="verbose_json", vad="false"), endpoint=OPENAI)
    w2 = windows(s)
    c.check(st == 200 and w2 - w1 == 10, "10 windows for the whole recording with vad=false (got %d)" % (w2 - w1))

print("6. vad=false is today's behaviour, byte for byte")
outs = {}
for name, env, extra in (("no VAD configured", {}, {}), ("VAD configured, vad=false", VAD_ENV, {"vad": "false"})):
    with Server(env=env) as s:
        got = []
        for fmt in ("json", "verbose_json", "srt"):
            st, h, body = s.upload(SHORT_CLIP, fields(response_format=fmt, **extra), endpoint=OPENAI)
            got.append((st, body))
        outs[name] = got
        if not env:
            st, h, body = s.upload(SHORT_CLIP, fields(vad="true"))
            c.check(st == 400 and "WHISPER_VAD_MODEL" in body.decode(),
                    "vad=true without a VAD model → 400 naming WHISPER_VAD_MODEL", body[:200])
            st, r = s.get_json("/ready")
            c.check("vad" not in (r or {}), "/ready has no vad entry when none is configured")
            st, cf = s.get_json("/config")
            c.check((cf or {}).get("vad") == {"available": False, "default": False},
                    "/config: vad unavailable", (cf or {}).get("vad"))
a, b = outs.values()
c.check(all(x[0] == 200 for x in a + b), "all 200")
c.check(a == b, "json, verbose_json and srt bodies identical")

print("7. WHISPER_VAD=true without a model stops start-up with a clear message")
try:
    with Server(env={"WHISPER_VAD": "true"}) as s:
        c.check(False, "server started")
except RuntimeError as e:
    c.check("WHISPER_VAD_MODEL" in str(e), "start-up refused naming WHISPER_VAD_MODEL")

c.finish()
