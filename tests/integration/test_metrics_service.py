"""/metrics of the service (issue 9): a build-info gauge, the worker gauges
(mdconv_workers, mdconv_workers_busy, mdconv_transcriptions_running) that move while a
transcription runs, and the per-route latency histogram
mdconv_http_request_duration_seconds{path} labelled with route templates ("/jobs/{id}"),
never raw paths.
"""
import json
import os
import subprocess
import sys
import threading

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mdc_testserver import (BIN, FAST, LONG_CLIP, SHORT_CLIP, Checks, Server, metric,  # noqa: E402
                            require_binary, wait_for)

require_binary()
c = Checks("test_metrics_service")


version = subprocess.run([BIN, "--version"], capture_output=True, text=True).stdout.split()[1]
with Server(env={"MAX_CONCURRENT_TRANSCRIPTIONS": "2"}) as s:
    st, h, body = s.request("GET", "/metrics")
    text = body.decode()
    line = [l for l in text.splitlines() if l.startswith("mdconv_build_info{")]
    c.check(len(line) == 1 and ('version="%s"' % version) in line[0] and 'commit="' in line[0]
            and line[0].endswith(" 1"), "mdconv_build_info{version=%s,commit} 1" % version, line)
    m = s.metrics()
    c.check(metric(m, "mdconv_workers") == 2, "mdconv_workers = MAX_CONCURRENT_TRANSCRIPTIONS (2)")
    c.check(metric(m, "mdconv_workers_busy") == 0 and metric(m, "mdconv_transcriptions_running") == 0,
            "idle: 0 busy workers, 0 running transcriptions")

    box = {}
    t = threading.Thread(target=lambda: box.update(r=s.upload(LONG_CLIP, FAST)))
    t.start()
    seen = wait_for(lambda: (lambda m: metric(m, "mdconv_transcriptions_running") == 1 and m)(s.metrics()), 60)
    c.check(bool(seen) and metric(seen, "mdconv_workers_busy") == 1,
            "while one transcription runs: workers_busy 1, transcriptions_running 1")
    t.join(120)
    c.check(box.get("r", (0,))[0] == 200, "that transcription → 200")
    # the answer goes out a moment before the worker finishes its task
    idle = lambda m: metric(m, "mdconv_workers_busy") == 0 and metric(m, "mdconv_transcriptions_running") == 0
    c.check(wait_for(lambda: idle(s.metrics()), 5), "afterwards both back to 0")

    st, h, body = s.upload(SHORT_CLIP, FAST, endpoint="/jobs")
    jid = json.loads(body)["id"]
    wait_for(lambda: s.get_json("/jobs/" + jid)[1].get("status") in ("done", "failed"), 60)
    s.request("GET", "/jobs/%s/result" % jid)
    s.request("GET", "/no/such/route")
    m = s.metrics()
    cnt = lambda p: metric(m, "mdconv_http_request_duration_seconds_count", path=p) or 0
    c.check(cnt("/jobs/{id}") >= 1 and cnt("/jobs/{id}/result") == 1,
            "latency histogram labelled /jobs/{id}, /jobs/{id}/result (templates)")
    c.check(not any(jid in k for k in m), "no series carries a raw job id")
    c.check(cnt("/relatorio/process-meeting") == 1 and cnt("unmatched") == 1 and cnt("/metrics") >= 4,
            "uploads, unmatched paths and /metrics itself are timed")
    up = metric(m, "mdconv_http_request_duration_seconds_sum", path="/relatorio/process-meeting")
    c.check(up is not None and up > 0.05, "the upload's latency includes its transcription (%.2f s)" % (up or 0))
    le = metric(m, "mdconv_http_request_duration_seconds_bucket", path="/health", le="0.001")
    c.check(le is not None, "buckets are rendered per path")
c.finish()
