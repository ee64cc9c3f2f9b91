#!/usr/bin/python3
"""/health under a slowloris flood (issue 8 item 6), loopback only, bounded in count and
time.

Starts `md-converter serve` ($MDC_BUILD_DIR or build/) with HEALTH_PORT set, opens
--connections connections to PORT spread over --addresses loopback source addresses
(127.0.0.10 …; a distributed attacker, so MAX_CONNECTIONS_PER_ADDRESS alone does not
stop it) and keeps each one sending one header byte per second for --seconds, opening
a new connection for each one the server drops (as an attacker does).  Meanwhile it
times one /health probe (a new connection each, 1 s timeout like a kubelet probe) every
--interval seconds on PORT and on HEALTH_PORT, and prints p50/p99/max and failed probes
per port, plus the server's mdconv_connections_dropped_total.  Target (HEALTH_PORT):
p99 <= 50 ms, 0 failed probes.

    tests/perf/slowloris.py [--connections 1100] [--seconds 30] [--addresses 50]
"""
import argparse
import os
import socket
import sys
import threading
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
from mdc_testserver import Server, free_port, metric, percentile, probe_health  # noqa: E402


def probe(port, timeout=1.0):
    """(ms, ok) of one /health probe; a connection that fails or times out is not ok."""
    t = time.perf_counter()
    try:
        return probe_health("127.0.0.1", port, timeout)
    except OSError:
        return (time.perf_counter() - t) * 1000, False


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--connections", type=int, default=1100)
    ap.add_argument("--seconds", type=float, default=30)
    ap.add_argument("--addresses", type=int, default=50)
    ap.add_argument("--interval", type=float, default=0.1)
    a = ap.parse_args()
    a.connections = min(a.connections, 5000)
    a.seconds = min(a.seconds, 600)
    hport = free_port()
    with Server(env={"HEALTH_PORT": str(hport)}) as srv:
        stop = threading.Event()
        conns = [None] * a.connections
        opened = [0]

        def connect(k):
            try:
                s = socket.create_connection(("127.0.0.1", srv.port), timeout=1,
                                             source_address=("127.0.0.%d" % (10 + k % a.addresses), 0))
                s.setblocking(False)
                opened[0] += 1
                return s
            except OSError:
                return None

        def flood():
            for k in range(a.connections):
                conns[k] = connect(k)
            while not stop.is_set():
                t0 = time.monotonic()
                for k in range(a.connections):
                    s = conns[k]
                    try:
                        if s is None:
                            raise OSError
                        s.send(b"X")
                    except OSError:
                        if s is not None:
                            s.close()
                        conns[k] = connect(k)
                stop.wait(max(0.0, 1.0 - (time.monotonic() - t0)))

        t = threading.Thread(target=flood)
        t.start()
        time.sleep(2.0)  # let the flood build up
        res = {"PORT": ([], 0, srv.port), "HEALTH_PORT": ([], 0, hport)}
        lat = {k: [] for k in res}
        failed = {k: 0 for k in res}
        t_end = time.monotonic() + a.seconds
        while time.monotonic() < t_end:
            for name in res:
                ms, ok = probe(res[name][2])
                lat[name].append(ms)
                failed[name] += 0 if ok else 1
            time.sleep(a.interval)
        open_now = sum(1 for s in conns if s is not None)
        stop.set()
        t.join()
        for s in conns:
            if s is not None:
                s.close()
        m = srv.metrics()
        print("slowloris: %d connections (%d client sockets at the end, %d opened in all) from %d "
              "addresses, 1 byte/s, %.0f s" % (a.connections, open_now, opened[0], a.addresses,
                                               a.seconds))
        for name in res:
            xs = lat[name]
            print("  /health on %-11s p50 %6.1f ms  p99 %6.1f ms  max %7.1f ms  %d probes, %d failed"
                  % (name, percentile(xs, 50), percentile(xs, 99), max(xs), len(xs), failed[name]))
        for r in ("header_timeout", "slow_body", "client_gone", "per_address", "evicted"):
            print("  mdconv_connections_dropped_total{reason=%s} %d"
                  % (r, metric(m, "mdconv_connections_dropped_total", reason=r) or 0))
        print("  mdconv_http_server_messages_total %d; WARN lines in the log: %d"
              % (metric(m, "mdconv_http_server_messages_total") or 0,
                 sum(1 for l in srv.logtext().splitlines() if " WARN " in l)))


if __name__ == "__main__":
    main()
