"""200 sequential transcriptions of a short clip, then 50 concurrent uploads (issue 4,
item 6): no failure — a 503 queue_full counts only when retried after its Retry-After —
and RSS after the run within 10 % of RSS after the first transcription.
MDC_STRESS_SEQ / MDC_STRESS_CONC change the counts (defaults 200 / 50).
"""
import os
import sys
import threading
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mdc_testserver import FAST, SHORT_CLIP, Checks, Server, error_code, metric, require_binary  # noqa: E402

require_binary()
c = Checks("test_stress")
N_SEQ = int(os.environ.get("MDC_STRESS_SEQ", "200"))
N_CONC = int(os.environ.get("MDC_STRESS_CONC", "50"))

with open(SHORT_CLIP, "rb") as f:
    CLIP = f.read()

env = {"MAX_CONCURRENT_TRANSCRIPTIONS": "2", "WHISPER_THREADS": "1", "QUEUE_LENGTH": "8"}
with Server(env=env) as s:
    # warm both workers once so per-thread allocator arenas exist before the baseline
    def one():
        return s.upload(file_bytes=CLIP, filename="clip.wav", fields=FAST)

    warm = [None, None]
    ts = [threading.Thread(target=lambda i=i: warm.__setitem__(i, one())) for i in range(2)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    c.check(all(w and w[0] == 200 for w in warm), "first transcriptions → 200")
    rss_first = s.rss()
    print("    RSS after the first transcriptions: %.1f MB" % (rss_first / 2**20))

    print("%d sequential transcriptions" % N_SEQ)
    t0 = time.monotonic()
    fails = []
    for i in range(N_SEQ):
        st, h, body = one()
        if st != 200 or not body.startswith(b"# "):
            fails.append((i, st, body[:200]))
    dt = time.monotonic() - t0
    print("    %d done in %.1f s (%.2f s each), RSS %.1f MB" % (N_SEQ, dt, dt / max(N_SEQ, 1), s.rss() / 2**20))
    c.check(not fails, "%d sequential transcriptions without a failure" % N_SEQ, fails[:3])

    print("%d concurrent uploads" % N_CONC)
    outcomes = [None] * N_CONC
    retries = [0] * N_CONC

    def client(i):
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            st, h, body = one()
            if st == 503 and error_code(body) == "queue_full":
                ra = h.get("retry-after")
                if ra is None or not ra.isdigit():
                    outcomes[i] = ("503 without Retry-After", body[:100])
                    return
                retries[i] += 1
                time.sleep(min(int(ra), 3) * (0.5 + (i % 7) / 7.0))  # honour it, spread the retries
                continue
            outcomes[i] = (st, body[:100])
            return
        outcomes[i] = ("gave up", b"")

    t0 = time.monotonic()
    ts = [threading.Thread(target=client, args=(i,)) for i in range(N_CONC)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(timeout=900)
    dt = time.monotonic() - t0
    bad = [(i, o) for i, o in enumerate(outcomes) if not o or o[0] != 200]
    print("    %d uploads in %.1f s, %d answers were 503 queue_full with Retry-After (all retried)"
          % (N_CONC, dt, sum(retries)))
    c.check(not bad, "%d concurrent uploads all end in 200" % N_CONC, bad[:3])

    m = s.metrics()
    c.check(metric(m, "mdconv_queue_depth") == 0, "queue empty afterwards")
    c.check(metric(m, "mdconv_model_loads_total") == 1, "one model load for the whole run")
    ok = metric(m, "mdconv_transcriptions_total", endpoint="process-meeting", status="ok") or 0
    c.check(ok >= 2 + N_SEQ + N_CONC, "transcriptions_total{status=ok} = %d" % ok)
    rss_end = s.rss()
    growth = (rss_end - rss_first) / rss_first
    print("RSS after first %.1f MB, after the run %.1f MB (%+.1f %%)" % (rss_first / 2**20, rss_end / 2**20, growth * 100))
    c.check(abs(growth) <= 0.10, "RSS after the run within 10 %% of RSS after the first (%+.1f %%)" % (growth * 100))
    c.check(s.tmp_leftovers() == [], "no temp file left", s.tmp_leftovers())

c.finish()
