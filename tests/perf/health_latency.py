#!/usr/bin/python3
"""/health latency of `md-converter serve`, idle and under load.

Starts the binary ($MDC_BUILD_DIR or build/) on a free loopback port with the micro
model (or probes an already running server with --url), then times N /health requests
(a new connection each, as probes do) in three phases: idle; while a slowed model load
is pending (MDC_TEST_LOAD_DELAY_MS); while BUSY transcriptions run on the workers.
Prints p50/p90/p99/max per phase.  Target: p99 < 20 ms in every phase.

    tests/perf/health_latency.py [--n 200] [--busy 2] [--url http://127.0.0.1:8080]
"""
import argparse
import os
import sys
import time
import urllib.parse

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
from mdc_testserver import (SHORT_CLIP, Server, metric, percentile, probe_health,  # noqa: E402
                            start_raw_upload)


def probe(host, port):
    ms, ok = probe_health(host, port)
    if not ok:
        raise RuntimeError("/health did not answer 200")
    return ms


def phase(name, host, port, n):
    lat = []
    for _ in range(n):
        lat.append(probe(host, port))
        time.sleep(0.002)
    print("%-34s n=%d  p50 %6.2f ms  p90 %6.2f ms  p99 %6.2f ms  max %6.2f ms"
          % (name, n, percentile(lat, 50), percentile(lat, 90), percentile(lat, 99), max(lat)), flush=True)
    return lat


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument("--busy", type=int, default=2, help="transcriptions kept running")
    ap.add_argument("--url", help="probe this server instead of starting one (idle phase only)")
    a = ap.parse_args()
    if a.url:
        u = urllib.parse.urlparse(a.url)
        phase("idle (%s)" % a.url, u.hostname, u.port or 80, a.n)
        return
    env = {"MAX_CONCURRENT_TRANSCRIPTIONS": str(max(a.busy, 1)), "WHISPER_THREADS": "1",
           "MDC_TEST_LOAD_DELAY_MS": "4000"}
    with Server(env=env) as s:
        print("server: exec → healthy %.1f ms" % ((s.t_healthy - s.t_spawn) * 1000))
        phase("idle", "127.0.0.1", s.port, a.n)
        clients = [start_raw_upload(s.port, SHORT_CLIP, {"language": "pt"}) for _ in range(a.busy)]
        time.sleep(0.1)
        phase("model load pending (4 s slowed)", "127.0.0.1", s.port, a.n)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and metric(s.metrics(), "mdconv_model_state") != 2:
            time.sleep(0.05)
        phase("%d transcriptions running" % a.busy, "127.0.0.1", s.port, a.n)
        for c in clients:
            c.close()


if __name__ == "__main__":
    main()
