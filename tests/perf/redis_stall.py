#!/usr/bin/python3
"""/health latency of `md-converter serve` while its Redis job store is stalled.

Starts a real redis-server on a free loopback port and the binary ($MDC_BUILD_DIR or
build/) with JOBS_REDIS_URL pointing at it, stores one finished job, then SIGSTOPs the
redis-server (it keeps its socket open but answers nothing: the worst case, a hung or
swapping Redis, where every command waits for the client's timeout).  While CLIENTS
threads keep asking GET /jobs/ID (each gets 503 jobs_unavailable once its command
times out), N /health probes on fresh connections are timed; the same probes run
before the stall and after SIGCONT.  The stalled phase spreads its probes over
--stall seconds, so it spans several reconnect back-offs.  Prints p50/p90/p99/max per phase and the /jobs
answers seen during the stall.

    tests/perf/redis_stall.py [--n 100] [--clients 4] [--stall 6]
"""
import argparse
import collections
import http.client
import os
import signal
import sys
import threading
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
from mdc_testserver import (RedisServer, Server, percentile, probe_health,  # noqa: E402
                            submit, wait_status)


def phase(name, port, n, gap=0.01, timeout=30):
    lat, failed = [], 0
    for _ in range(n):
        try:
            ms, ok = probe_health("127.0.0.1", port, timeout=timeout)
            lat.append(ms)
            failed += 0 if ok else 1
        except OSError:
            failed += 1
        time.sleep(gap)
    if lat:
        print("%-28s n=%d  p50 %7.2f ms  p90 %7.2f ms  p99 %7.2f ms  max %7.2f ms  failed %d"
              % (name, n, percentile(lat, 50), percentile(lat, 90), percentile(lat, 99), max(lat),
                 failed), flush=True)
    else:
        print("%-28s n=%d  every probe failed" % (name, n), flush=True)
    return lat


def hammer(port, jid, stop, seen):
    while not stop.is_set():
        t = time.monotonic()
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            c.request("GET", "/jobs/" + jid)
            r = c.getresponse()
            r.read()
            seen.append((r.status, time.monotonic() - t))
            c.close()
        except OSError:
            seen.append((0, time.monotonic() - t))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=100, help="/health probes per phase")
    ap.add_argument("--clients", type=int, default=4, help="threads asking GET /jobs/ID")
    ap.add_argument("--stall", type=float, default=6.0, help="seconds of probes while stopped")
    a = ap.parse_args()
    with RedisServer() as rs, Server(env={"JOBS_REDIS_URL": rs.url}) as s:
        st, jid, body = submit(s)
        if st != 202:
            raise SystemExit("POST /jobs answered %d: %r" % (st, body[:200]))
        wait_status(s, jid, lambda js: js.get("status") == "done")
        phase("Redis up", s.port, a.n)
        stop, seen = threading.Event(), []
        os.kill(rs.proc.pid, signal.SIGSTOP)
        try:
            th = [threading.Thread(target=hammer, args=(s.port, jid, stop, seen), daemon=True)
                  for _ in range(a.clients)]
            for t in th:
                t.start()
            time.sleep(0.2)
            phase("Redis stopped (SIGSTOP)", s.port, a.n, gap=a.stall / a.n)
            stop.set()
            for t in th:
                t.join(60)
        finally:
            os.kill(rs.proc.pid, signal.SIGCONT)
        by = collections.Counter(code for code, _ in seen)
        slow = [dt for _, dt in seen]
        print("GET /jobs/ID during the stall: %s; answer time p50 %.0f ms, max %.0f ms, "
              "%d over 500 ms" % (dict(by), percentile(slow, 50) * 1000 if slow else 0,
                                  max(slow) * 1000 if slow else 0,
                                  sum(1 for dt in slow if dt > 0.5)), flush=True)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and s.request("GET", "/jobs/" + jid)[0] != 200:
            time.sleep(0.1)
        phase("Redis resumed (SIGCONT)", s.port, a.n)


if __name__ == "__main__":
    main()
