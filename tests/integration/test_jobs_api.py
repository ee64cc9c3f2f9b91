"""The jobs API beyond submit/follow (test_jobs.py): DELETE /jobs/{id} cancels a running
job (its worker is freed within a second, its event stream ends with `error`
cancelled, its result answers 410) or a queued one (it never starts) and forgets a
finished one; GET /jobs lists recent jobs newest first, filtered by ?status= and paged
by ?limit=&after=; JOBS_MAX and JOBS_TTL_SECONDS bound what is kept.

Run over both store backends: the in-process one and Redis (a real redis-server on a
free loopback port, flushed between servers); JOBS_MAX's refusal is the in-process
store's only (Redis bounds the listing, see docs/DEPLOY.md).
"""
import json
import os
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mdc_testserver import (LONG_CLIP, SHORT_CLIP, Checks, Follower, RedisServer,  # noqa: E402
                            Server, error_code, metric, require_binary, submit, wait_status)

require_binary()
c = Checks("test_jobs_api")
def cancelled_count(s):
    return metric(s.metrics(), "mdconv_transcriptions_total", endpoint="jobs", status="cancelled") or 0


def api_checks(name, env, fresh):
    """fresh() empties the store between servers."""
    tag = "[%s] " % name
    # ---- listing -------------------------------------------------------------------
    with Server(env=dict(env, MAX_CONCURRENT_TRANSCRIPTIONS="1")) as s:
        ids = []
        for _ in range(3):
            st, jid, body = submit(s)
            ids.append(jid)
        for jid in ids:
            wait_status(s, jid, lambda js: js.get("status") == "done")
        st, js = s.get_json("/jobs")
        got = [j["id"] for j in js.get("jobs", [])] if st == 200 else []
        c.check(got == ids[::-1] and js.get("next") is None,
                tag + "GET /jobs lists the jobs newest first, no next page", js)
        st, p1 = s.get_json("/jobs?limit=2")
        st2, p2 = s.get_json("/jobs?limit=2&after=%s" % (p1 or {}).get("next"))
        c.check([j["id"] for j in p1.get("jobs", [])] == ids[:0:-1] and p1.get("next") == ids[1]
                and [j["id"] for j in p2.get("jobs", [])] == ids[:1] and p2.get("next") is None,
                tag + "?limit=2 pages: 2 jobs + next, then the last one", (p1, p2))
        st, js = s.get_json("/jobs?status=done")
        st2, js2 = s.get_json("/jobs?status=running")
        c.check(len(js.get("jobs", [])) == 3 and js2.get("jobs") == [],
                tag + "?status=done → 3, ?status=running → none", (js, js2))
        deadline, gauge = time.monotonic() + 5, None
        while time.monotonic() < deadline and gauge != 3:
            gauge = metric(s.metrics(), "mdconv_jobs", state="done")
            time.sleep(0.2)
        c.check(gauge == 3 and metric(s.metrics(), "mdconv_jobs", state="running") == 0,
                tag + "mdconv_jobs{state} counts them (done %s)" % gauge)
        for q, what in (("status=bogus", "an unknown status"), ("limit=0", "limit 0"),
                        ("limit=101", "limit past 100"), ("after=ffff", "an unknown cursor")):
            st, h, body = s.request("GET", "/jobs?" + q)
            c.check(st == 400 and error_code(body) == "invalid_query", tag + "GET /jobs?%s → 400 invalid_query (%s)" % (q, what), body)

    # ---- cancel a running job, then a queued one ------------------------------------
    fresh()
    with Server(env=dict(env, MAX_CONCURRENT_TRANSCRIPTIONS="1", QUEUE_LENGTH="2")) as s:
        st, a, _ = submit(s, LONG_CLIP)
        st, b, _ = submit(s, LONG_CLIP)  # waits behind a
        fa, fb = Follower(s.port, a), Follower(s.port, b)
        js = wait_status(s, a, lambda js: js.get("status") == "running" and js.get("progress", 0) > 5)
        c.check(js.get("status") == "running", tag + "the long job runs (progress %s)" % js.get("progress"), js)
        before = cancelled_count(s)
        t0 = time.monotonic()
        st, h, body = s.request("DELETE", "/jobs/" + a)
        d = json.loads(body) if st == 200 else {}
        c.check(st == 200 and d.get("status") == "cancelled", tag + "DELETE a running job → 200 status cancelled", body)
        freed = None
        while time.monotonic() - t0 < 5:
            if cancelled_count(s) > before:
                freed = time.monotonic() - t0
                break
            time.sleep(0.02)
        c.check(freed is not None and freed < 1.0,
                tag + "its transcription stopped and the worker was freed within 1 s (%s s)"
                % ("%.2f" % freed if freed is not None else "never"))
        fa.join(10)
        c.check(fa.events and fa.events[-1][0] == "error" and fa.events[-1][1]["error"]["code"] == "cancelled"
                and fa.events[-1][1]["status"] == "cancelled",
                tag + "its event stream ends with `error` cancelled", fa.events[-1:])
        st, h, body = s.request("GET", "/jobs/%s/result" % a)
        c.check(st == 410 and error_code(body) == "cancelled", tag + "its result → 410 cancelled", (st, body))
        # b now runs (the worker is free): cancel it too while it runs
        js = wait_status(s, b, lambda js: js.get("status") == "running", timeout=10)
        c.check(js.get("status") == "running", tag + "the next job started on the freed worker", js)
        st, c3, _ = submit(s, SHORT_CLIP)  # queued behind b
        f3 = Follower(s.port, c3)
        st, h, body = s.request("DELETE", "/jobs/" + c3)
        c.check(st == 200 and json.loads(body).get("status") == "cancelled", tag + "DELETE a queued job → cancelled", body)
        s.request("DELETE", "/jobs/" + b)
        f3.join(10)
        fb.join(10)
        names = [e for e, _ in f3.events]
        c.check(names and names[-1] == "error" and "segment" not in names
                and all(d.get("status") != "running" for _, d in f3.events),
                tag + "the queued job never started: its stream ends with `error` cancelled", f3.events)
        time.sleep(0.3)
        st, js = s.get_json("/jobs/" + c3)
        c.check(js.get("status") == "cancelled" and js.get("progress") == 0, tag + "it stays cancelled at 0 %", js)
        ok = metric(s.metrics(), "mdconv_transcriptions_total", endpoint="jobs", status="ok") or 0
        c.check(ok == 0, tag + "no cancelled job produced a result (ok count %d)" % ok)
        # a finished job: DELETE forgets it
        st, d, _ = submit(s, SHORT_CLIP)
        wait_status(s, d, lambda js: js.get("status") == "done")
        st, h, body = s.request("DELETE", "/jobs/" + d)
        st2, h2, body2 = s.request("GET", "/jobs/" + d)
        c.check(st == 200 and json.loads(body).get("status") == "deleted" and st2 == 404,
                tag + "DELETE a finished job → deleted, then 404", (body, st2))
        st, h, body = s.request("DELETE", "/jobs/ffffffffffffffffffffffffffffffff")
        c.check(st == 404 and error_code(body) == "not_found", tag + "DELETE an unknown job → 404")
        c.check(s.tmp_leftovers() == [], tag + "no temp file left", s.tmp_leftovers())

    # ---- JOBS_MAX and JOBS_TTL_SECONDS -----------------------------------------------
    fresh()
    with Server(env=dict(env, JOBS_MAX="2", JOBS_TTL_SECONDS="1", MAX_CONCURRENT_TRANSCRIPTIONS="1",
                         QUEUE_LENGTH="4")) as s:
        if name != "memory":
            st, x, _ = submit(s)
            wait_status(s, x, lambda js: js.get("status") == "done")
            time.sleep(2.5)
            st, _ = s.get_json("/jobs/" + x)
            c.check(st == 404, tag + "JOBS_TTL_SECONDS=1: a finished job is gone 2.5 s later (%d)" % st)
            return
        st, a, _ = submit(s, LONG_CLIP)
        st, b, _ = submit(s, LONG_CLIP)
        st, _, body = submit(s)
        c.check(st == 503 and error_code(body) == "queue_full",
                tag + "JOBS_MAX=2 with two unfinished jobs: a third → 503 queue_full", body)
        s.request("DELETE", "/jobs/" + a)
        s.request("DELETE", "/jobs/" + b)
        st, x, _ = submit(s)
        c.check(st == 202, tag + "once they finished (cancelled), a new job is accepted (the oldest dropped)")
        wait_status(s, x, lambda js: js.get("status") == "done")
        time.sleep(2.5)
        st, _ = s.get_json("/jobs/" + x)
        c.check(st == 404, tag + "JOBS_TTL_SECONDS=1: a finished job is gone 2.5 s later (%d)" % st)


api_checks("memory", {}, lambda: None)
with RedisServer() as rs:
    api_checks("redis", {"JOBS_REDIS_URL": rs.url}, lambda: rs.command("FLUSHALL"))
c.finish()
