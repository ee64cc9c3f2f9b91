"""A stalled Redis never stalls the HTTP server (issue 14, follow-up).

A real redis-server on a free loopback port is SIGSTOPped: its socket stays open but
nothing answers, so every command waits for the client's timeout (1 s).  While four
clients keep asking GET /jobs/ID and GET /jobs (their store calls run on the server's
I/O thread, never on libmicrohttpd's polling thread):
  - /health answers 200 within 1 s on every probe (and fast: at most one probe of 20
    over 250 ms; with the store calls on the polling thread a probe waited up to the
    whole Redis timeout behind them);
  - /ready answers within 1 s too, and turns 503 naming the job store;
  - the synchronous endpoint still transcribes (200);
  - the /jobs clients get 503 jobs_unavailable (JSON), never a hang or another 5xx.
After SIGCONT everything recovers without a restart: the job's status (byte-identical
to the one before the stall), its result, /ready 200, and a new job runs.
"""
import http.client
import json
import os
import signal
import sys
import threading
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mdc_testserver import (FAST, SHORT_CLIP, Checks, RedisServer, Server, error_code,  # noqa: E402
                            probe_health, require_binary, submit, wait_status)

require_binary()
c = Checks("test_jobs_redis_stall")


def get(port, path, timeout):
    """(status, body, seconds) of one GET on a new connection."""
    t = time.monotonic()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path)
        r = conn.getresponse()
        return r.status, r.read(), time.monotonic() - t
    finally:
        conn.close()


def hammer(port, path, stop, seen):
    while not stop.is_set():
        try:
            st, body, dt = get(port, path, 30)
            seen.append((st, error_code(body) if st != 200 else None, dt))
        except OSError as e:
            seen.append((0, str(e), 30.0))
        time.sleep(0.005)  # keep a request in flight, not a core busy


with RedisServer() as rs, Server(env={"JOBS_REDIS_URL": rs.url}) as s:
    st, jid, body = submit(s)
    c.check(st == 202, "POST /jobs → 202", body)
    js = wait_status(s, jid, lambda js: js.get("status") == "done")
    c.check(js.get("status") == "done", "the job ran", js)
    st, status_before, _ = get(s.port, "/jobs/" + jid, 30)
    st, result_before, _ = get(s.port, "/jobs/%s/result" % jid, 30)
    c.check(st == 200 and b"#" in result_before, "its result (Markdown)", result_before[:80])

    os.kill(rs.proc.pid, signal.SIGSTOP)
    stop, seen = threading.Event(), []
    try:
        th = [threading.Thread(target=hammer, args=(s.port, p, stop, seen), daemon=True)
              for p in ("/jobs/" + jid, "/jobs/" + jid, "/jobs/%s/result" % jid, "/jobs")]
        for t in th:
            t.start()
        time.sleep(0.3)
        lat, bad = [], 0
        for _ in range(20):
            try:
                ms, ok = probe_health("127.0.0.1", s.port, timeout=1.0)
                lat.append(ms)
                bad += 0 if ok else 1
            except OSError:  # the 1 s socket timeout
                bad += 1
            time.sleep(0.2)
        c.check(bad == 0, "Redis stopped: every /health probe answered 200 within 1 s (%d failed)" % bad)
        slow = [x for x in lat if x > 250]
        c.check(len(slow) <= 1, "… and fast: max %.1f ms, %d of %d over 250 ms"
                % (max(lat) if lat else -1, len(slow), len(lat)), sorted(lat)[-3:])
        ready, ready_slow = None, 0
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                st, body, dt = get(s.port, "/ready", 1.0)
            except OSError:
                ready_slow += 1
                continue
            if st == 503:
                ready = body
                break
            time.sleep(0.2)
        c.check(ready_slow == 0, "/ready answered within 1 s each time")
        c.check(ready is not None and b"jobs_store" in ready, "/ready → 503 naming the job store", ready)
        st, h, body = s.upload(SHORT_CLIP, FAST)
        c.check(st == 200, "the synchronous endpoint still answers 200 (%d)" % st)
        time.sleep(1.5)  # past a timeout and a back-off: the clients saw their answers
        stop.set()
        for t in th:
            t.join(40)
    finally:
        os.kill(rs.proc.pid, signal.SIGCONT)
    codes = {(st, code) for st, code, _ in seen}
    c.check(seen and codes == {(503, "jobs_unavailable")},
            "the /jobs clients got 503 jobs_unavailable (%d answers, max %.1f s)"
            % (len(seen), max(dt for _, _, dt in seen) if seen else -1), codes)
    c.check(all(dt < 10 for _, _, dt in seen), "no /jobs request hung")

    # ---- SIGCONT: recovery without a restart ------------------------------------------
    deadline = time.monotonic() + 20
    st = 0
    while time.monotonic() < deadline and st != 200:
        st, status_after, _ = get(s.port, "/jobs/" + jid, 30)
        time.sleep(0.1)
    c.check(st == 200 and status_after == status_before,
            "Redis resumed: GET /jobs/ID answers as before the stall", (status_before, status_after))
    st, result_after, _ = get(s.port, "/jobs/%s/result" % jid, 30)
    c.check(st == 200 and result_after == result_before, "… and the same result")
    deadline = time.monotonic() + 10
    st = 0
    while time.monotonic() < deadline and st != 200:
        st, _, _ = get(s.port, "/ready", 5)
        time.sleep(0.1)
    c.check(st == 200, "/ready 200 again")
    st, jid2, _ = submit(s)
    js = wait_status(s, jid2, lambda js: js.get("status") in ("done", "failed"), timeout=60)
    c.check(js.get("status") == "done", "a new job runs after the stall", js)
    st, lst, _ = get(s.port, "/jobs", 30)
    ids = [j["id"] for j in json.loads(lst).get("jobs", [])] if st == 200 else []
    c.check(ids == [jid2, jid], "GET /jobs lists both, newest first", ids)
    c.check(s.proc.poll() is None, "the server still runs")

c.finish()
