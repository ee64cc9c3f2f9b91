#!/usr/bin/env python3
"""Time to the first text with stream=true vs the whole answer without it, through the
real server (POST /v1/audio/transcriptions, language and no_fallback fixed).

Prints, per mode, the median over RUNS requests (after one warm-up that loads the model)
of: seconds to the first delta, seconds to the done event, and the non-streamed request's
seconds; plus the ratio first-delta / non-streamed.  Random-weight models produce text,
not words, so the figures are about latency, not quality.

  tests/perf/stream_latency.py [MODEL [CLIP [RUNS]]]
  defaults: build/models/ggml-tiny-dims-random.bin (tiny's shapes),
            fixtures meeting_ptbr_16k_mono.flac, 5 runs
"""
import json
import os
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
from mdc_testserver import BUILD, FIXTURES, Server, require_binary  # noqa: E402
from test_openai_api import read_sse  # noqa: E402


def main():
    require_binary()
    model = sys.argv[1] if len(sys.argv) > 1 else os.path.join(BUILD, "models", "ggml-tiny-dims-random.bin")
    clip = sys.argv[2] if len(sys.argv) > 2 else os.path.join(FIXTURES, "meeting_ptbr_16k_mono.flac")
    runs = int(sys.argv[3]) if len(sys.argv) > 3 else 5
    fields = {"language": "pt", "no_fallback": "true"}
    first, done, plain = [], [], []
    with Server(env={"WHISPER_MODEL": model, "WHISPER_THREADS": os.environ.get("WHISPER_THREADS", "2")}) as s:
        s.upload(clip, fields, endpoint="/v1/audio/transcriptions")  # warm-up: loads the model
        for _ in range(runs):
            t = time.monotonic()
            st, _, body = s.upload(clip, fields, endpoint="/v1/audio/transcriptions")
            plain.append(time.monotonic() - t)
            assert st == 200, body[:300]
            st, _, events = read_sse(s.port, dict(fields, stream="true"), clip=clip)
            assert st == 200, events
            deltas = [e for e in events if e[1] == "transcript.text.delta"]
            end = [e for e in events if e[1] == "transcript.text.done"]
            assert deltas and end and end[0][2]["text"] == json.loads(body)["text"]
            first.append(deltas[0][0])
            done.append(end[0][0])
    m = statistics.median
    print("model %s, clip %s, %d runs, load: %s" % (os.path.basename(model), os.path.basename(clip), runs,
                                                     os.getloadavg()))
    print("non-streamed answer     median %.2f s" % m(plain))
    print("stream: first delta     median %.2f s" % m(first))
    print("stream: done event      median %.2f s" % m(done))
    print("first delta / non-streamed = %.2f" % (m(first) / m(plain)))


if __name__ == "__main__":
    main()
