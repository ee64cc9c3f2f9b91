"""A model file that changes under the server never kills it (issue 8 item 2, "what must
show" 2):
1. truncating the mapped model in place during a transcription → that request gets
   503 model_unavailable (SIGBUS absorbed by the mapping guard), the process lives,
   /health is 200, and once the file is restored the next request succeeds (200);
2. a model file replaced between two requests (new content, same path) is noticed by the
   identity check (device, inode, size, mtime) and reloaded: the second request loads
   it again (mdconv_model_loads_total 2, mdconv_model_retired_total 1).
Uses the base-dims random model (148 MB) and a 5-minute recording so a transcription is
still running when the file is cut.
"""
import os
import shutil
import sys
import threading
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mdc_testserver import (FAST, FIXTURES, MICRO, SHORT_CLIP, Checks, Server,  # noqa: E402
                            check_no_5xx, error_code, metric, require_binary, wait_for)

require_binary()
c = Checks("test_model_resilience")
MODELS = os.environ.get("MDC_MODELS_DIR") or os.path.join(
    os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "build", "models")
BASE = os.path.join(MODELS, "ggml-base-dims-random.bin")
LONG = os.path.join(FIXTURES, "edge_5min_two_utterances.flac")
if not os.path.exists(BASE) or not os.path.exists(LONG):
    print("base-dims model or the 5-minute fixture missing (tests/data/make-models.sh)")
    sys.exit(77)


print("1. truncate the mapped model in place during a transcription")
work = os.path.join(os.path.dirname(os.path.abspath(BASE)), "resilience-%d" % os.getpid())
os.makedirs(work, exist_ok=True)
model = os.path.join(work, "model.bin")
try:
    shutil.copyfile(BASE, model)
    with Server(env={"WHISPER_MODEL": model, "WHISPER_LOAD_RETRY_MS": "0"}) as s:
        out = {}

        def long_upload():
            out["r"] = s.upload(LONG, {"language": "en"}, endpoint="/v1/audio/transcriptions")

        t = threading.Thread(target=long_upload)
        t.start()
        loaded = wait_for(lambda: "ready in" in s.logtext(), 30)
        c.check(loaded, "the model loaded for the long transcription")
        time.sleep(1.0)  # decoding done, the engine is in its first windows
        c.check(t.is_alive(), "the transcription is still running when the file is cut")
        os.truncate(model, 4096)  # in place: same inode, pages under the mapping gone
        t.join(120)
        st, _, body = out.get("r", (None, None, b""))
        c.check(st == 503 and error_code(body) == "model_unavailable",
                "the in-flight request fails with 503 model_unavailable", "%s %r" % (st, body[:300]))
        c.check(b"truncated" in body, "the message names the reason", body[:300])
        c.check(s.proc.poll() is None, "the server is still running (no SIGBUS death)",
                "exit %s" % s.proc.poll())
        st, _, _ = s.request("GET", "/health")
        c.check(st == 200, "/health 200 after the fault")
        st, _, body = s.upload(SHORT_CLIP, FAST, endpoint="/v1/audio/transcriptions")
        c.check(st == 503 and error_code(body) == "model_unavailable",
                "while the file is truncated: 503 model_unavailable", "%s %r" % (st, body[:200]))
        shutil.copyfile(BASE, model)  # restore in place (same path, same inode)
        st, _, body = s.upload(SHORT_CLIP, FAST, endpoint="/v1/audio/transcriptions")
        c.check(st == 200, "after restoring the file the next request succeeds",
                "%s %r" % (st, body[:200]))
        m = s.metrics()
        c.check(metric(m, "mdconv_model_retired_total") == 1, "mdconv_model_retired_total 1",
                metric(m, "mdconv_model_retired_total"))
        check_no_5xx(c, s, allow={503: 2})

    print("2. a model file replaced between requests is reloaded (identity check)")
    shutil.copyfile(MICRO, model)
    with Server(env={"WHISPER_MODEL": model}) as s:
        st, _, _ = s.upload(SHORT_CLIP, FAST)
        c.check(st == 200, "first request 200")
        time.sleep(0.05)  # a different mtime even on coarse clocks
        tmp = model + ".new"
        shutil.copyfile(MICRO, tmp)
        os.rename(tmp, model)  # the usual atomic replacement: new inode
        st, _, _ = s.upload(SHORT_CLIP, FAST)
        c.check(st == 200, "second request 200")
        m = s.metrics()
        c.check(metric(m, "mdconv_model_loads_total") == 2, "the changed file was loaded again",
                metric(m, "mdconv_model_loads_total"))
        c.check(metric(m, "mdconv_model_retired_total") == 1, "the old copy was retired once")
        c.check("retired" in s.logtext(), "the log says why the model was dropped")
        check_no_5xx(c, s)
finally:
    shutil.rmtree(work, ignore_errors=True)
c.finish()
