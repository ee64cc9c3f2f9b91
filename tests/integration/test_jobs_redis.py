"""Jobs shared through Redis by two md-converter processes (A and B) and a real
redis-server on a free loopback port (nothing persisted):
  - submit on A, follow the events and fetch the result on B;
  - the speaker fields travel with the job: diarize=true, speaker_turns on the stereo
    reference clip give B's result both speakers;
  - kill -9 A in the middle of a transcription: B takes the job over, re-runs it, stores
    its result once, and the client following on B sees it complete;
  - cancel on B a job running on A (it stops within a second);
  - restart Redis during a job: clear errors (503 jobs_unavailable, /ready 503, the
    follower's stream ends with an error, synchronous endpoints unaffected), then
    recovery without restarting either replica; the lost job is 404, never half served.
"""
import json
import os
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mdc_testserver import (FAST, LONG_CLIP, SHARED, SHORT_CLIP, Checks, Follower,  # noqa: E402
                            RedisServer, Server, error_code, metric, require_binary, submit,
                            wait_status)

require_binary()
c = Checks("test_jobs_redis")


def env(rs, **kw):
    e = {"JOBS_REDIS_URL": rs.url, "MAX_CONCURRENT_TRANSCRIPTIONS": "1", "QUEUE_LENGTH": "2",
         "JOBS_CLAIM_AFTER_SECONDS": "2"}
    e.update(kw)
    return e


def events_in_redis(rs, jid):
    entries = rs.command("XRANGE", "mdc:job:%s:ev" % jid, "-", "+") or []
    return [dict(zip(f[0::2], f[1::2])).get("e") for _, f in entries]


with RedisServer() as rs:
    # ---- submit on A, follow and fetch on B (B is API-only: A runs it) --------------
    with Server(env=env(rs), name="A") as a, Server(env=env(rs, JOBS_ROLE="api"), name="B") as b:
        st, jid, body = submit(a)
        c.check(st == 202 and jid, "POST /jobs on A → 202", body)
        f = Follower(b.port, jid)
        f.join(60)
        names = [e for e, _ in f.events]
        c.check(names and names[-1] == "done" and "segment" in names,
                "B follows A's job live: segments, then done (%d events)" % len(names), names)
        st, h, body = b.request("GET", "/jobs/%s/result" % jid)
        c.check(st == 200 and h.get("content-type", "").startswith("text/markdown") and b"#" in body,
                "B serves the result (Markdown)", (st, body[:100]))
        st, js = b.get_json("/jobs/%s" % jid)
        c.check(js.get("status") == "done", "B's status: done", js)
        st, js = b.get_json("/jobs")
        c.check(st == 200 and [j["id"] for j in js.get("jobs", [])] == [jid], "B lists it", js)
        st, h, body = b.upload(SHORT_CLIP, FAST, endpoint="/jobs")
        st2, jid2, _ = submit(b)
        c.check(st2 == 202, "an api replica accepts uploads (A runs them)")
        stereo = os.path.join(SHARED, "whisper-ref", "data", "stereo_diarization.wav")
        for turns, want in (("audio", True), ("segment", False)):
            st, h, body = b.upload(stereo, dict(FAST, diarize="true", speaker_turns=turns,
                                                report_locale="en"), endpoint="/jobs")
            jid3 = json.loads(body).get("id") if st == 202 else None
            c.check(st == 202 and jid3, "stereo job (speaker_turns=%s) accepted" % turns, body)
            if jid3:
                wait_status(b, jid3, lambda js: js.get("status") in ("done", "failed"))
                st, h, body = b.request("GET", "/jobs/%s/result" % jid3)
                c.check(st == 200 and b"**Speaker 0:**" in body
                        and (b"**Speaker 1:**" in body) == want,
                        "the job kept diarize and speaker_turns=%s through Redis" % turns,
                        body[:500])
        ma = a.metrics()
        c.check(metric(ma, "mdconv_job_claims_total") >= 1, "A counted its claims", metric(ma, "mdconv_job_claims_total"))
        c.check(metric(b.metrics(), "mdconv_job_claims_total") in (0, None), "B (api) claimed nothing")
        wait_status(b, jid2, lambda js: js.get("status") == "done")
        c.check(a.tmp_leftovers() == [] and b.tmp_leftovers() == [], "no temp file left on either replica")
        with Server(env=env(rs, JOBS_ROLE="worker"), name="W") as w:
            st, _, body = submit(w)
            c.check(st == 403 and error_code(body) == "wrong_role", "a worker replica refuses uploads: 403 wrong_role", body)

    # ---- cancel on B a job running on A ------------------------------------------------
    rs.command("FLUSHALL")
    with Server(env=env(rs), name="A") as a, Server(env=env(rs, JOBS_ROLE="api"), name="B") as b:
        st, jid, _ = submit(b, LONG_CLIP)
        js = wait_status(b, jid, lambda js: js.get("status") == "running" and js.get("progress", 0) > 5)
        f = Follower(b.port, jid)
        time.sleep(0.2)
        before = metric(a.metrics(), "mdconv_transcriptions_total", endpoint="jobs", status="cancelled") or 0
        t0 = time.monotonic()
        st, h, body = b.request("DELETE", "/jobs/" + jid)
        c.check(st == 200 and json.loads(body).get("status") == "cancelled", "DELETE on B → cancelled", body)
        stopped = None
        while time.monotonic() - t0 < 5:
            if (metric(a.metrics(), "mdconv_transcriptions_total", endpoint="jobs", status="cancelled") or 0) > before:
                stopped = time.monotonic() - t0
                break
            time.sleep(0.05)
        c.check(stopped is not None and stopped < 1.0,
                "A's transcription stopped within 1 s (%s s)" % ("%.2f" % stopped if stopped else "never"))
        f.join(10)
        c.check(f.events and f.events[-1][0] == "error" and f.events[-1][1]["error"]["code"] == "cancelled",
                "the follower on B sees `error` cancelled", f.events[-1:])
        st, h, body = a.request("GET", "/jobs/%s/result" % jid)
        c.check(st == 410 and error_code(body) == "cancelled", "its result on A → 410 cancelled", body)

    # ---- kill -9 A mid-transcription: B takes it over -----------------------------------
    rs.command("FLUSHALL")
    a = Server(env=env(rs), name="A")
    try:
        st, jid, _ = submit(a, LONG_CLIP)
        js = wait_status(a, jid, lambda js: js.get("status") == "running" and js.get("progress", 0) > 5)
        c.check(js.get("status") == "running", "A runs the long job (%s %%)" % js.get("progress"))
        with Server(env=env(rs), name="B") as b:
            f = Follower(b.port, jid)
            time.sleep(0.3)
            a.proc.kill()  # SIGKILL: no drain, no goodbye
            a.proc.wait()
            t0 = time.monotonic()
            f.join(60)
            names = [e for e, _ in f.events]
            c.check(names and names[-1] == "done",
                    "the client following on B sees the job complete %.1f s after the kill" % (time.monotonic() - t0), names[-3:])
            mb = b.metrics()
            c.check(metric(mb, "mdconv_job_reruns_total") == 1, "B re-ran it once (re-runs %s)" % metric(mb, "mdconv_job_reruns_total"))
            evs = events_in_redis(rs, jid)
            c.check(evs.count("done") == 1 and rs.command("EXISTS", "mdc:job:%s:res" % jid) == 1,
                    "one done event and one stored result in Redis", evs[-3:])
            st, h, body = b.request("GET", "/jobs/%s/result" % jid)
            c.check(st == 200 and b"#" in body, "B serves the result")
            segs = [d["index"] for e, d in f.events if e == "segment"]
            c.check(segs == list(range(len(segs))), "the follower saw each segment once, in order", segs)
            c.check(b.tmp_leftovers() == [], "no temp file left on B")
    finally:
        a.stop()

    # ---- Redis restarts during a job ------------------------------------------------------
    rs.command("FLUSHALL")
    with Server(env=env(rs), name="A") as a, Server(env=env(rs, JOBS_ROLE="api"), name="B") as b:
        st, jid, _ = submit(b, LONG_CLIP)
        wait_status(b, jid, lambda js: js.get("status") == "running")
        f = Follower(b.port, jid)
        time.sleep(0.3)
        rs.stop()
        f.join(10)
        c.check(f.events and f.events[-1][0] == "error"
                and f.events[-1][1]["error"]["code"] in ("jobs_unavailable", "job_lost"),
                "Redis down: the follower's stream ends with an error naming it", f.events[-1:])
        st, h, body = b.request("GET", "/jobs/" + jid)
        c.check(st == 503 and error_code(body) == "jobs_unavailable", "GET /jobs/ID → 503 jobs_unavailable", (st, body))
        st, _, body = submit(b)
        c.check(st == 503 and error_code(body) == "jobs_unavailable", "POST /jobs → 503 jobs_unavailable", (st, body))
        st, h, body = b.request("GET", "/ready")
        c.check(st == 503 and b"jobs_store" in body, "/ready → 503 naming the job store", body)
        st, h, body = b.upload(SHORT_CLIP, FAST)
        c.check(st == 200, "the synchronous endpoint still answers 200 (%d)" % st)
        c.check(a.proc.poll() is None and b.proc.poll() is None, "both replicas still run")
        rs.start()  # empty: the old job is gone
        deadline = time.monotonic() + 10
        st = 0
        while time.monotonic() < deadline and st != 200:
            st, h, body = b.request("GET", "/ready")
            time.sleep(0.1)
        c.check(st == 200, "Redis back: /ready 200 again without a restart")
        st, h, body = b.request("GET", "/jobs/" + jid)
        c.check(st == 404, "the job lost with Redis's memory → 404, nothing half-written (%d)" % st, body)
        st, jid3, _ = submit(b)
        js = wait_status(b, jid3, lambda js: js.get("status") in ("done", "failed"), timeout=30)
        c.check(js.get("status") == "done", "a new job is accepted on B and run on A after the restart", js)
        mb = b.metrics()
        c.check((metric(mb, "mdconv_redis_errors_total") or 0) >= 1, "Redis errors were counted (%s)" % metric(mb, "mdconv_redis_errors_total"))
        time.sleep(0.5)

    # ---- the decoding fields travel with the job (beam_size, seed) -----------------
    rs.command("FLUSHALL")
    with Server(env=env(rs), name="A") as a, Server(env=env(rs, JOBS_ROLE="api"), name="B") as b:
        acc = {"Accept": "application/json"}

        def sync_segments(fields, clip=os.path.join(SHARED, "whisper-ref", "data", "jfk.wav")):
            st, _, body = a.upload(clip, fields, headers=acc)
            return json.loads(body)["segments"] if st == 200 else body

        def job_segments(fields, clip=os.path.join(SHARED, "whisper-ref", "data", "jfk.wav")):
            st, _, body = b.upload(clip, fields, endpoint="/jobs", headers=acc)
            jid = json.loads(body).get("id") if st == 202 else None
            js = wait_status(b, jid, lambda js: js.get("status") in ("done", "failed")) if jid else {}
            st, _, body = b.request("GET", "/jobs/%s/result" % jid, headers=acc)
            return json.loads(body)["segments"] if st == 200 and js.get("status") == "done" else body

        beam = {"language": "en", "no_fallback": "true", "beam_size": "3"}
        greedy = {"language": "en", "no_fallback": "true"}
        want = sync_segments(beam)
        c.check(want != sync_segments(greedy), "beam_size 3 decodes differently from greedy here")
        c.check(job_segments(beam) == want,
                "a beam_size 3 job submitted on B and run on A gives the synchronous answer")
        seeded = {"language": "pt", "seed": "5"}  # micro model: every fallback temperature
        want = sync_segments(seeded, SHORT_CLIP)
        c.check(want != sync_segments({"language": "pt", "seed": "6"}, SHORT_CLIP),
                "the seed changes the fallback's sampled tokens here")
        c.check(job_segments(seeded, SHORT_CLIP) == want,
                "a seeded job run through Redis gives the synchronous answer")

# settings that cannot work stop start-up with a message naming them
for env_bad, want in (({"JOBS_ROLE": "api"}, "JOBS_ROLE=api needs JOBS_REDIS_URL"),
                      ({"JOBS_REDIS_URL": "rediss://127.0.0.1:6379/0"},
                       "cannot use JOBS_REDIS_URL: rediss:// (TLS) is not supported: this build's hiredis 0.14"),
                      ({"JOBS_REDIS_URL": "rediss://127.0.0.1:6379/0"}, "TLS-terminating sidecar"),
                      ({"JOBS_REDIS_URL": "redis://127.0.0.1:0/0"}, "cannot use JOBS_REDIS_URL: port must be 1-65535")):
    s = Server(env=env_bad, wait=False, name="bad")
    try:
        rc = s.proc.wait(timeout=10)
        c.check(rc != 0 and want in s.logtext(), "%s → start-up fails naming it (rc %d)" % (env_bad, rc), s.logtext()[-300:])
    finally:
        s.stop()

c.finish()
