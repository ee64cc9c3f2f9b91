"""Concurrency never changes a result (issue 11, "what must show" 3): four transcriptions
running at once on the same model give byte-identical answers to the same requests run
one by one.  This guards continuous batching across requests (decoder rows of several
transcriptions in one batched pass) and anything else shared between concurrent
requests (engine pools, model tables, the holder's states).

The requests differ in clip and decoding: greedy, beam search (beam_size 5 and 3),
seeded sampling at temperature > 0 with best-of 5, and temperature fallback; answers are verbose_json (segments
with times, tokens, avg_logprob, temperature) or json with include[]=logprobs (every
token's log-probability as printed floats), so any change in a logit bit that moves a
printed digit, a token or a time fails the comparison.  Rounds run the four at once, in
two different pairings and with one request duplicated, on a server with four
concurrent transcriptions of one thread each.  No timing is asserted: whether the
requests overlapped is only reported.
"""
import json
import os
import re
import sys
import threading

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mdc_testserver import (FIXTURES, SHARED, SHORT_CLIP, Checks, Server, check_no_5xx,  # noqa: E402
                            error_code, require_binary)

require_binary()
c = Checks("test_concurrent_identity")
DATA = os.path.join(SHARED, "whisper-ref", "data")
EP = "/v1/audio/transcriptions"

# name → (clip, fields).  Short clips and the micro model; no_fallback except for
# "fallback" (T = 0, then every temperature with best-of 5: the micro model's random
# weights fail every attempt), so the test takes seconds, not minutes.
NF = {"no_fallback": "true"}
REQS = {
    "greedy": (os.path.join(DATA, "jfk.wav"),
               dict(NF, language="en", response_format="verbose_json")),
    "beam5": (os.path.join(FIXTURES, "edge_35s_word_across_30s.wav"),
              dict(NF, language="en", beam_size="5", response_format="verbose_json")),
    "sampled": (os.path.join(DATA, "jfk.wav"),
                dict(NF, language="en", temperature="0.6", seed="7",
                     response_format="verbose_json")),
    "beam3_logprobs": (os.path.join(FIXTURES, "edge_clipped_plus24db.wav"),
                       dict(NF, language="en", beam_size="3", response_format="json",
                            **{"include[]": "logprobs"})),
    "fallback": (os.path.join(FIXTURES, "edge_speech_0.5s.wav"),
                 {"language": "pt", "seed": "3", "response_format": "verbose_json"}),
}
for name, (clip, _) in REQS.items():
    if not os.path.exists(clip):
        print("SKIP: %s not found" % clip)
        sys.exit(77)

ENV = {"MAX_CONCURRENT_TRANSCRIPTIONS": "4", "WHISPER_THREADS": "1",
       "WHISPER_ALLOW_OVERSUBSCRIBE": "true", "QUEUE_LENGTH": "16"}


def run(s, name):
    clip, fields = REQS[name]
    st, _, body = s.upload(clip, fields, endpoint=EP, timeout=600)
    return st, body


def together(s, names):
    """Starts one thread per request at the same moment; returns [(status, body)] in
    order and how many were in flight at once at the most (from a shared counter)."""
    out = [None] * len(names)
    gate = threading.Barrier(len(names))
    lock = threading.Lock()
    live = [0, 0]  # current, max

    def one(i):
        gate.wait()
        with lock:
            live[0] += 1
            live[1] = max(live[1], live[0])
        try:
            out[i] = run(s, names[i])
        except Exception as e:  # noqa: BLE001 — reported as a failed request below
            out[i] = (None, repr(e).encode())
        with lock:
            live[0] -= 1

    ths = [threading.Thread(target=one, args=(i,)) for i in range(len(names))]
    for t in ths:
        t.start()
    for t in ths:
        t.join(900)
    return out, live[1]


with Server(env=ENV, name="4 concurrent") as s:
    c.check(re.search(r"MAX_CONCURRENT_TRANSCRIPTIONS=4 x WHISPER_THREADS=1 = 4 compute threads",
                      s.logtext()) is not None,
            "the server runs 4 transcriptions at once (split logged)", s.logtext()[-600:])
    print("beam_size is checked before any work")
    for bad in ("0", "8", "-1", "five", "5x"):
        for ep in (EP, "/relatorio/process-meeting"):
            st, _, body = s.upload(SHORT_CLIP, {"beam_size": bad}, endpoint=ep)
            c.check(st == 400 and error_code(body) == "invalid_field" and b"beam_size" in body,
                    "%s beam_size=%r → 400 naming beam_size" % (ep, bad), (st, body[:200]))
    print("each request alone (the reference answers)")
    solo = {}
    for name in REQS:
        st, body = run(s, name)
        c.check(st == 200, "%s alone → 200" % name, body[:300])
        solo[name] = body
    # the answers carry what the comparison is about (not empty shells)
    v = json.loads(solo["beam5"])
    c.check(len(v.get("segments", [])) >= 1 and v["segments"][0].get("tokens"),
            "beam5: verbose_json has segments with tokens", solo["beam5"][:300])
    v = json.loads(solo["sampled"])
    c.check(v.get("segments") and all(abs(g["temperature"] - 0.6) < 1e-6 for g in v["segments"]),
            "sampled: every segment decoded at temperature 0.6", solo["sampled"][:300])
    v = json.loads(solo["fallback"])
    c.check(v.get("segments") and all(g["temperature"] > 0 for g in v["segments"]),
            "fallback: decoded after falling back to a temperature > 0", solo["fallback"][:300])
    v = json.loads(solo["beam3_logprobs"])
    c.check(len(v.get("logprobs", [])) >= 1, "beam3: json with per-token logprobs",
            solo["beam3_logprobs"][:300])
    st, body = run(s, "sampled")
    c.check(st == 200 and body == solo["sampled"], "sampled again alone: same bytes (seeded)",
            (st, body[:200]))

    rounds = [["greedy", "beam5", "sampled", "beam3_logprobs"],
              ["fallback", "sampled", "beam3_logprobs", "beam5"],
              ["beam5", "beam5", "sampled", "greedy"]]
    for r, names in enumerate(rounds):
        print("round %d: %s at once" % (r + 1, ", ".join(names)))
        out, peak = together(s, names)
        print("  (%d requests were in flight at once at the most)" % peak)
        for i, name in enumerate(names):
            st, body = out[i]
            c.check(st == 200 and body == solo[name],
                    "round %d: %s (slot %d) byte-identical to its solo run" % (r + 1, name, i),
                    "status %s, %d vs %d bytes; first difference at %s" % (
                        st, len(body), len(solo[name]),
                        next((k for k in range(min(len(body), len(solo[name])))
                              if body[k] != solo[name][k]), "the end")))
    check_no_5xx(c, s)

c.finish()
