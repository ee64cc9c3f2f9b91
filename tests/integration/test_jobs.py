"""Asynchronous jobs: POST /jobs → 202 {id} at once; GET /jobs/{id}; GET
/jobs/{id}/events as Server-Sent Events (progress never decreasing, ending with
`event: done`, a `segment` event with the text of each segment as it is produced, and
`error` with shutting_down when the server stops under a running job past
SHUTDOWN_GRACE_SECONDS, `done` when it drains in time); GET /jobs/{id}/result (Markdown,
or JSON with Accept); a failing job keeps its JSON error; unknown ids → 404; the
upload's temp file is gone afterwards.  Cancel and list: test_jobs_api.py.
"""
import http.client
import json
import os
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mdc_testserver import (FAST, FIXTURES, SHORT_CLIP, Checks, Server, error_code,  # noqa: E402
                            require_binary, sse_events)

require_binary()
c = Checks("test_jobs")


# a slowed load keeps the job busy long enough to see it queued/running
with Server(env={"MDC_TEST_LOAD_DELAY_MS": "1500"}) as s:
    t0 = time.monotonic()
    st, h, body = s.upload(SHORT_CLIP, dict(FAST, title="Reunião de teste"), endpoint="/jobs")
    dt = time.monotonic() - t0
    j = json.loads(body) if st == 202 else {}
    c.check(st == 202 and len(j.get("id", "")) == 32, "POST /jobs → 202 with an id in %.0f ms" % (dt * 1000), body)
    c.check(h.get("location") == "/jobs/%s" % j.get("id"), "Location header points at the job")
    jid = j.get("id", "x")
    st, js = s.get_json("/jobs/" + jid)
    c.check(st == 200 and js.get("status") in ("queued", "running"), "GET /jobs/{id} while it runs: %s" % js.get("status"), js)
    st, h, body = s.request("GET", "/jobs/%s/result" % jid)
    c.check(st == 202 and h.get("retry-after"), "result before it is done → 202 + Retry-After", (st, body))
    st, ctype, events = sse_events(s.port, "/jobs/%s/events" % jid)
    c.check(st == 200 and ctype.startswith("text/event-stream"), "events: 200 text/event-stream")
    names = [e for e, _ in events]
    progress = [d["progress"] for e, d in events if d and e != "segment"]
    c.check(len(events) >= 2 and names[-1] == "done", "events end with `done` (%d events: %s)" % (len(events), names[:3] + ["…"]))
    c.check(progress == sorted(progress) and progress[-1] == 100, "progress never decreases and ends at 100", progress)
    st, h, body = s.request("GET", "/jobs/%s/result" % jid)
    c.check(st == 200 and h.get("content-type", "").startswith("text/markdown") and "Reunião de teste" in body.decode(),
            "result → 200 Markdown with the title", body[:200])
    st, h, body = s.request("GET", "/jobs/%s/result" % jid, headers={"Accept": "application/json"})
    res = json.loads(body) if st == 200 else {}
    c.check(st == 200 and "markdown" in res, "result with Accept: application/json → {markdown, segments}")
    segs = [d for e, d in events if e == "segment"]
    c.check(segs and names.index("segment") < names.index("done"), "`segment` events come before `done`", names)
    c.check([d["index"] for d in segs] == list(range(len(segs))), "segment events are numbered 0, 1, …")
    c.check([(d["start"], d["end"], d["text"]) for d in segs]
            == [(r["start"], r["end"], r["text"]) for r in res.get("segments", [])],
            "segment events carry the result's segments (start, end, text)",
            (segs[:2], res.get("segments", [])[:2]))
    st, js = s.get_json("/jobs/" + jid)
    c.check(js.get("status") == "done" and js.get("progress") == 100, "status done, progress 100", js)
    # events of a finished job: the segments replayed, one final event, then the stream ends
    st, ctype, events = sse_events(s.port, "/jobs/%s/events" % jid, timeout=10)
    c.check([e for e, _ in events] == ["segment"] * len(segs) + ["done"],
            "events of a finished job: its segments again, then `done`", [e for e, _ in events])

    st, h, body = s.upload(os.path.join(FIXTURES, "bad_meeting_notes.txt"), FAST, endpoint="/jobs")
    bid = json.loads(body).get("id", "x") if st == 202 else "x"
    c.check(st == 202, "a bad upload is still accepted as a job")
    st, ctype, events = sse_events(s.port, "/jobs/%s/events" % bid)
    c.check(events and events[-1][0] == "error" and events[-1][1]["error"]["code"] == "unsupported_media",
            "its events end with `error` naming unsupported_media", events[-1:] if events else None)
    st, h, body = s.request("GET", "/jobs/%s/result" % bid)
    c.check(st == 415 and error_code(body) == "unsupported_media", "its result → 415 JSON error", body)
    st, h, body = s.upload(file_bytes=b"", filename="e.wav", endpoint="/jobs")
    c.check(st == 422, "empty upload → 422 at once, no job")
    st, h, body = s.request("GET", "/jobs/ffffffffffffffffffffffffffffffff/events")
    c.check(st == 404 and error_code(body) == "not_found", "unknown job events → 404")
    c.check(s.tmp_leftovers() == [], "no temp file left", s.tmp_leftovers())


def sigterm_during_job(env):
    """Submits a job, follows its events, sends SIGTERM; returns (first line, stream
    text, seconds from SIGTERM to the stream's end)."""
    with Server(env=env) as s:
        st, h, body = s.upload(SHORT_CLIP, FAST, endpoint="/jobs")
        jid = json.loads(body).get("id", "x") if st == 202 else "x"
        conn = http.client.HTTPConnection("127.0.0.1", s.port, timeout=30)
        conn.request("GET", "/jobs/%s/events" % jid)
        r = conn.getresponse()
        first = r.readline()  # the stream is open (retry: line)
        s.proc.send_signal(15)
        t0 = time.monotonic()
        text = r.read().decode()
        conn.close()
        return first, text, time.monotonic() - t0


def last_event(text):
    blocks = [b for b in text.split("\n\n") if "event:" in b]
    return blocks[-1] if blocks else ""


# SIGTERM drains: a job that can finish within SHUTDOWN_GRACE_SECONDS ends with `done`
first, text, dt = sigterm_during_job({"MDC_TEST_LOAD_DELAY_MS": "1500", "SHUTDOWN_GRACE_SECONDS": "20"})
c.check(first.startswith(b"retry:") and "event: done" in last_event(text),
        "SIGTERM during a job with grace: it drains, its events end with `done` (%.1f s)" % dt, text[-300:])
# … and past the grace it is failed: its stream ends with an `error` event, not silence
first, text, dt = sigterm_during_job({"MDC_TEST_LOAD_DELAY_MS": "4000", "SHUTDOWN_GRACE_SECONDS": "1"})
last = last_event(text)
c.check(first.startswith(b"retry:") and "event: error" in last and '"shutting_down"' in last and dt < 3.5,
        "SIGTERM past SHUTDOWN_GRACE_SECONDS=1: its events end with `error` shutting_down after %.1f s" % dt,
        text[-300:])

c.finish()
