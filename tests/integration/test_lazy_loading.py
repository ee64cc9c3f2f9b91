"""Lazy loading through the real server (issue 4, "What must show" item 1):
- after start-up nothing is loaded: mdconv_model_state 0, loads 0, RSS small;
- the first transcription loads, the second reuses (mdconv_model_loads_total 1);
- a missing model → 503 model_unavailable naming the path; after the file is copied
  into place a later request succeeds; a corrupt model → 503 too;
- WHISPER_MODEL=tiny + WHISPER_MODELS_DIR resolves to DIR/ggml-tiny.bin;
- WHISPER_PRELOAD=true → /health 200 at once, /ready 503 while loading, then 200;
- idle unload (WHISPER_IDLE_UNLOAD_SECONDS=1) and reload.
"""
import json
import os
import shutil
import sys
import tempfile
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mdc_testserver import (FAST, MICRO, SHORT_CLIP, Checks, Server, error_code, metric,  # noqa: E402
                            require_binary, wait_for)

require_binary()
c = Checks("test_lazy_loading")
IDLE_RSS_LIMIT = 64 << 20  # loose bound; docs/perf/service.md has the measured figure


print("1. nothing loaded at start; first request loads, second reuses")
with Server() as s:
    m = s.metrics()
    state = metric(m, "mdconv_model_state")
    loads = metric(m, "mdconv_model_loads_total") or 0
    rss = metric(m, "process_resident_memory_bytes")
    c.check(state == 0, "mdconv_model_state 0 (unloaded) after start", state)
    c.check(loads == 0, "mdconv_model_loads_total 0 after start", loads)
    c.check(rss is not None and rss < IDLE_RSS_LIMIT, "idle RSS %.1f MB < %d MB" % ((rss or 0) / 2**20, IDLE_RSS_LIMIT >> 20))
    c.check("lazy loading" not in s.logtext().lower().replace("lazy loading on the first", ""),
            "no load logged at start-up")
    t0 = time.monotonic()
    st, h, body = s.upload(SHORT_CLIP, FAST)
    t1 = time.monotonic()
    c.check(st == 200, "first transcription → 200 (%.2f s, includes the load)" % (t1 - t0), body[:200])
    m = s.metrics()
    c.check(metric(m, "mdconv_model_state") == 2, "mdconv_model_state 2 (ready) after it")
    c.check(metric(m, "mdconv_model_loads_total") == 1, "one load")
    st, h, body = s.upload(SHORT_CLIP, FAST)
    print("    second transcription %.2f s" % (time.monotonic() - t1))
    m = s.metrics()
    c.check(st == 200 and metric(m, "mdconv_model_loads_total") == 1, "second transcription reuses the model (loads_total 1)")
    log = s.logtext()
    c.check("Lazy Loading" in log, "the log shows 'Lazy Loading' lines")

print("2. missing model → 503 model_unavailable naming the path, then fixed")
d = tempfile.mkdtemp(prefix="mdc-it-models-")
try:
    missing = os.path.join(d, "ggml-later.bin")
    with Server(env={"WHISPER_MODEL": missing, "WHISPER_LOAD_RETRY_MS": "0"}) as s:
        st, j = s.get_json("/ready")
        c.check(st == 503 and j.get("model_state") == "missing",
                "/ready 503 model_state missing before the file exists (test_ready_reload has more)", j)
        st, h, body = s.upload(SHORT_CLIP, FAST)
        c.check(st == 503 and error_code(body) == "model_unavailable" and missing in body.decode(),
                "missing model → 503 model_unavailable naming %s" % missing, body)
        c.check(h.get("retry-after", "").isdigit(), "  with Retry-After", h)
        st2, h, body2 = s.upload(SHORT_CLIP, FAST)
        c.check(st2 == 503 and json.loads(body2)["error"]["message"] == json.loads(body)["error"]["message"],
                "a second request gets the same clear error")
        st, j = s.get_json("/ready")
        c.check(j.get("model_state") == "missing" and missing in j.get("last_error", ""),
                "/ready reports the file missing with the last error", j)
        m = s.metrics()
        c.check((metric(m, "mdconv_model_load_failures_total") or 0) >= 1, "load failures counted")
        shutil.copyfile(MICRO, missing)
        st, h, body = s.upload(SHORT_CLIP, FAST)
        c.check(st == 200, "after copying the model into place a request succeeds", (st, body[:200]))

    print("3. corrupt model → 503")
    corrupt = os.path.join(d, "ggml-corrupt.bin")
    with open(MICRO, "rb") as f:
        head = f.read(4096)
    with open(corrupt, "wb") as f:
        f.write(head)  # valid header, truncated tensors
    garbage = os.path.join(d, "ggml-garbage.bin")
    with open(garbage, "wb") as f:
        f.write(b"this is not a model" * 100)
    for path, what in [(corrupt, "truncated"), (garbage, "garbage")]:
        with Server(env={"WHISPER_MODEL": path}) as s:
            st, h, body = s.upload(SHORT_CLIP, FAST)
            c.check(st == 503 and error_code(body) == "model_unavailable" and path in body.decode(),
                    "%s model → 503 model_unavailable naming the path" % what, body)
            st, _, _ = s.request("GET", "/health")
            c.check(st == 200 and s.proc.poll() is None, "server still healthy after a %s model" % what)

    print("4. WHISPER_MODEL=tiny resolves to $WHISPER_MODELS_DIR/ggml-tiny.bin")
    shutil.copyfile(MICRO, os.path.join(d, "ggml-tiny.bin"))
    with Server(env={"WHISPER_MODEL": "tiny", "WHISPER_MODELS_DIR": d}) as s:
        st, j = s.get_json("/v1/models")
        c.check(st == 200 and j["data"][0]["id"] == "tiny" and j["data"][0]["file"] == "ggml-tiny.bin",
                "/v1/models: id tiny, file ggml-tiny.bin", j)
        c.check(j["data"][0].get("weight_type", "missing") is None,
                "/v1/models: weight_type null before the first load", j)
        st, h, body = s.upload(SHORT_CLIP, FAST)
        c.check(st == 200, "transcription with the resolved model → 200", body[:200])
        c.check(os.path.join(d, "ggml-tiny.bin") in s.logtext(), "the log names the resolved path")
        st, j = s.get_json("/v1/models")
        c.check(st == 200 and j["data"][0].get("weight_type") == "f16",
                "/v1/models: weight_type f16 once loaded", j)
finally:
    shutil.rmtree(d, ignore_errors=True)

print("5. WHISPER_PRELOAD=true: healthy at once, ready after the load")
with Server(env={"WHISPER_PRELOAD": "true", "MDC_TEST_LOAD_DELAY_MS": "3000"}) as s:
    healthy_ms = (s.t_healthy - s.t_spawn) * 1000
    # the load takes >= 3 s: healthy well before that means liveness did not wait for it
    c.check(healthy_ms < 2500, "/health 200 %.0f ms after spawn while the model loads" % healthy_ms)
    st, j = s.get_json("/ready")
    c.check(st == 503 and j.get("model_state") in ("unloaded", "loading"),
            "/ready 503 while the preload runs (%s)" % j.get("model_state"), j)
    t0 = time.monotonic()
    ok = wait_for(lambda: s.get_json("/ready")[0] == 200, 20)
    c.check(ok, "/ready 200 after the preload (%.2f s later)" % (time.monotonic() - t0))
    m = s.metrics()
    c.check(metric(m, "mdconv_model_state") == 2 and metric(m, "mdconv_model_loads_total") == 1,
            "preloaded: state ready, one load")

print("6. idle unload and reload")
with Server(env={"WHISPER_IDLE_UNLOAD_SECONDS": "1"}) as s:
    st, h, body = s.upload(SHORT_CLIP, FAST)
    c.check(st == 200, "transcription → 200")
    ok = wait_for(lambda: metric(s.metrics(), "mdconv_model_state") == 0, 20, 0.2)
    m = s.metrics()
    # on failure say which half failed, per holder, and what the holder logged
    why = "" if ok else "state %s; log: %s" % (
        {k: v for k, v in m.items() if k.startswith(("mdconv_model_state", "mdconv_model_unloads"))},
        [l for l in s.logtext().splitlines() if "Lazy Loading" in l or "model" in l.lower()][-8:])
    c.check(ok and metric(m, "mdconv_model_unloads_total") == 1,
            "unloaded after ~1 s idle (unloads_total 1)",
            why or {k: v for k, v in m.items() if k.startswith("mdconv_model_unloads")})
    st, h, body = s.upload(SHORT_CLIP, FAST)
    m = s.metrics()
    c.check(st == 200 and metric(m, "mdconv_model_loads_total") == 2, "next request reloads (loads_total 2)")

c.finish()
