#!/usr/bin/python3
"""End-to-end throughput of the real server: 1 and 4 concurrent 60 s requests
(whisper-ref data/jfk_x5_60s.wav, POST /v1/audio/transcriptions, language en, no
temperature fallback, greedy or --beam N) for each split of the cores between
concurrent transcriptions (MAX_CONCURRENT_TRANSCRIPTIONS x WHISPER_THREADS).  Prints
per configuration the median over --runs rounds of: the wall time from the first upload
to the last answer, audio seconds per wall second (requests x 60 s / wall), and the
median and slowest single-request latency; the 1-minute load average before and after.
Every answer must be 200 and every configuration must give the same text (a result that
changed with concurrency is reported, not averaged).

    tests/perf/throughput.py [--model tiny-dims|base-dims|PATH] [--runs 3] [--beam N]
                             [--configs 1x2,2x1,4x1]

The model is mapped and warmed (one request) before the clock starts.  Say what else ran
on the machine when you quote figures: every configuration shares its cores.
"""
import argparse
import json
import os
import statistics
import sys
import threading
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
from mdc_testserver import ROOT, SHARED, Server  # noqa: E402

CLIP = os.path.join(SHARED, "whisper-ref", "data", "jfk_x5_60s.wav")
CLIP_S = 60.0
CORES = len(os.sched_getaffinity(0))


def load():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def model_path(name):
    if os.path.exists(name):
        return name
    p = os.path.join(ROOT, "build", "models", "ggml-%s-random.bin" % name)
    if not os.path.exists(p):
        sys.exit("no model %s (run tests/data/make-models.sh %s)" % (p, name))
    return p


def one_round(s, n, fields):
    """n uploads started together; returns (wall s, [latency s], [text])."""
    out = [None] * n
    gate = threading.Barrier(n + 1)

    def one(i):
        gate.wait()
        t = time.monotonic()
        st, _, body = s.upload(CLIP, fields, endpoint="/v1/audio/transcriptions", timeout=1800)
        out[i] = (st, time.monotonic() - t, body)

    ths = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for t in ths:
        t.start()
    gate.wait()
    t0 = time.monotonic()
    for t in ths:
        t.join()
    wall = time.monotonic() - t0
    for st, _, body in out:
        if st != 200:
            raise RuntimeError("request answered %s: %s" % (st, body[:300]))
    return wall, [o[1] for o in out], [json.loads(o[2])["text"] for o in out]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default="tiny-dims")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--beam", type=int, default=0)
    ap.add_argument("--configs", default="1x%d,%dx1,4x1" % (CORES, CORES) if CORES > 1 else "1x1,4x1",
                    help="MAX_CONCURRENT_TRANSCRIPTIONSxWHISPER_THREADS, comma-separated")
    a = ap.parse_args()
    model = model_path(a.model)
    fields = {"language": "en", "no_fallback": "true", "response_format": "json"}
    if a.beam:
        fields["beam_size"] = str(a.beam)
    print("throughput: %s, %s, %d cores, median of %d rounds" %
          (os.path.basename(model), "beam %d" % a.beam if a.beam else "greedy", CORES, a.runs))
    print("load average before: %s\n" % load())
    print("| MAX_CONCURRENT x WHISPER_THREADS | concurrent requests | wall s | audio s / wall s "
          "| latency median s | latency max s | load after |")
    print("|---|---:|---:|---:|---:|---:|---|")
    texts = {}
    for cfg in a.configs.split(","):
        mct, thr = (int(x) for x in cfg.split("x"))
        env = {"WHISPER_MODEL": model, "MAX_CONCURRENT_TRANSCRIPTIONS": str(mct),
               "WHISPER_THREADS": str(thr), "QUEUE_LENGTH": "16",
               "WHISPER_ALLOW_OVERSUBSCRIBE": "true" if mct * thr > CORES else "false"}
        with Server(env=env, name=cfg) as s:
            one_round(s, 1, fields)  # maps the model and warms the page cache
            for n in (1, 4):
                walls, lats = [], []
                for _ in range(a.runs):
                    wall, lat, txt = one_round(s, n, fields)
                    walls.append(wall)
                    lats.extend(lat)
                    for t in txt:
                        texts.setdefault(t, []).append("%s/%d" % (cfg, n))
                w = statistics.median(walls)
                print("| %d x %d | %d | %.2f | %.1f | %.2f | %.2f | %s |" %
                      (mct, thr, n, w, n * CLIP_S / w, statistics.median(lats), max(lats), load()),
                      flush=True)
    print()
    if len(texts) == 1:
        print("every answer has the same text (%d characters)" % len(next(iter(texts))))
    else:
        print("WARNING: %d different texts:" % len(texts))
        for t, where in texts.items():
            print("  %r… from %s" % (t[:60], sorted(set(where))))
        sys.exit(1)


if __name__ == "__main__":
    main()
