#!/usr/bin/env python3
"""Word times from cross-attention DTW over the real HTTP API (issue 13, dtw):
- micro model (2 text layers × 2 heads, no official size): dtw with a bad value, dtw
  without words, dtw=auto (no preset for the size) and dtw=tiny (heads outside the
  model) → 400 naming dtw, never a crash; dtw=off keeps the heuristic;
- tiny-dims model (whisper.cpp's tiny layout), jfk.wav: with dtw=tiny and dtw=auto the
  verbose_json words[] keep their shape and monotonic times and start exactly at the
  whisper.cpp DTW golden's t_dtw (golden/tiny-dims/timestamps/transcript_jfk_dtw.json),
  which differs from the heuristic's starts (dtw=off): the source of the times changed;
- WHISPER_DTW=auto as the server default does the same without the form field, and the
  form field dtw=off overrides it."""
import json
import os
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mdc_testserver import (BUILD, FAST, SHARED, Checks, Server, error_code,  # noqa: E402
                            multipart, require_binary)

require_binary()
c = Checks("test_dtw_api")
JFK = os.path.join(SHARED, "whisper-ref", "data", "jfk.wav")
GOLDEN = os.path.join(SHARED, "whisper-ref", "golden", "tiny-dims", "timestamps",
                      "transcript_jfk_dtw.json")
TINY = os.path.join(os.environ.get("MDC_MODELS_DIR") or os.path.join(BUILD, "models"),
                    "ggml-tiny-dims-random.bin")
WORDS = dict(FAST, language="en", response_format="verbose_json",
             **{"timestamp_granularities[]": "word"})


def words(s, **fields):
    ctype, body = multipart(dict(WORDS, **fields), file_path=JFK)
    st, _, out = s.request("POST", "/v1/audio/transcriptions", body=body,
                           headers={"Content-Type": ctype})
    return st, out, (json.loads(out).get("words", []) if st == 200 else [])


def error_field(body):
    try:
        return json.loads(body)["error"].get("param")
    except (ValueError, KeyError, AttributeError):
        return None


with Server() as s:  # micro model
    for bad in ("on", "tiny.fr", "large"):
        st, body, _ = words(s, dtw=bad)
        c.check(st == 400 and error_code(body) == "invalid_field" and error_field(body) == "dtw",
                "dtw=%s: 400 naming dtw" % bad, body)
    ctype, body = multipart(dict(FAST, dtw="tiny"), file_path=JFK)
    st, _, body = s.request("POST", "/v1/audio/transcriptions", body=body,
                            headers={"Content-Type": ctype})
    c.check(st == 400 and b"words" in body and error_field(body) == "dtw",
            "dtw without words: 400", body)
    st, body, _ = words(s, dtw="auto")
    c.check(st == 400 and error_field(body) == "dtw" and b"no single alignment-head preset" in body,
            "dtw=auto on a size without a preset: 400", body)
    st, body, _ = words(s, dtw="tiny")
    c.check(st == 400 and error_field(body) == "dtw" and b"do not fit" in body
            and b"2 text layers" in body, "dtw=tiny on the 2-layer micro model: 400", body)
    st, body, w = words(s, dtw="off")
    c.check(st == 200 and len(w) > 0, "dtw=off: words as before", body[:200])
    st, _, _ = s.request("GET", "/health")
    c.check(st == 200, "the server is still up")

with open(GOLDEN) as f:
    gold = json.load(f)
# each word starts at its first text token (a token beginning with a space starts a word;
# this golden has one text token per segment)
want = [t["t_dtw"] / 100.0 for sg in gold["segments"] for t in sg["tokens"] if t["id"] < 50257]
if not os.path.exists(TINY):
    c.check(False, "tiny-dims model at %s (tests/data/make-models.sh)" % TINY)
else:
    with Server(env={"WHISPER_MODEL": TINY}) as s:
        st, body, heur = words(s)
        c.check(st == 200 and len(heur) == len(want), "heuristic words", body[:300])
        for preset in ("tiny", "auto"):
            st, body, w = words(s, dtw=preset)
            c.check(st == 200 and all(set(x) == {"word", "start", "end"} for x in w),
                    "dtw=%s: words[] shape" % preset, body[:300])
            c.check(all(w[i]["start"] <= w[i]["end"] for i in range(len(w))) and
                    all(w[i]["start"] <= w[i + 1]["start"] for i in range(len(w) - 1)),
                    "dtw=%s: monotonic times" % preset, str(w))
            c.check([x["start"] for x in w] == want,
                    "dtw=%s: starts = whisper.cpp's t_dtw" % preset,
                    "%s vs %s" % ([x["start"] for x in w], want))
            c.check([x["start"] for x in w] != [x["start"] for x in heur],
                    "dtw=%s: not the heuristic's times" % preset,
                    str([x["start"] for x in heur]))
            c.check([x["word"] for x in w] == [x["word"] for x in heur],
                    "dtw=%s: same words" % preset)
    with Server(env={"WHISPER_MODEL": TINY, "WHISPER_DTW": "auto"}) as s:
        st, body, w = words(s)
        c.check(st == 200 and [x["start"] for x in w] == want,
                "WHISPER_DTW=auto: DTW times by default", body[:300])
        st, body, w = words(s, dtw="off")
        c.check(st == 200 and [x["start"] for x in w] == [x["start"] for x in heur],
                "dtw=off overrides WHISPER_DTW", body[:300])

c.finish()
