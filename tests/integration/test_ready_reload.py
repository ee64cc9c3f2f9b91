"""/ready tells the truth at start, and SIGHUP reloads the model (issue 9 items 4 and 6):
1. a model file that does not exist → /ready 503 "model_state":"missing" before any
   request, naming the path; the start-up log warns; once the file appears, 200;
2. with API_KEY set the public /ready names no server path (not in model_path, not in
   last_error after a failed load);
3. SIGHUP while a transcription runs: the server stays up, that transcription completes
   with 200, the log shows the reload, the model is dropped only afterwards and the
   next request maps it again (mdconv_model_loads_total +1);
3b. the file replaced by rename while a transcription runs, then SIGHUP: that
   transcription still completes (its mapped inode is intact), the next request maps
   the new file with exactly one load;
4. SIGHUP after the file was replaced: the next request maps the new file (a broken
   file → 503 model_unavailable; the good one back + SIGHUP → 200 at once, without
   waiting out WHISPER_LOAD_RETRY_MS).
"""
import os
import shutil
import signal
import sys
import tempfile
import threading

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mdc_testserver import (FAST, LONG_CLIP, MICRO, SHORT_CLIP, Checks, Server,  # noqa: E402
                            error_code, metric, require_binary, wait_for)

require_binary()
c = Checks("test_ready_reload")


def loads(s):
    return metric(s.metrics(), "mdconv_model_loads_total") or 0


d = tempfile.mkdtemp(prefix="mdc-it-reload-")
try:
    print("1. missing model file: /ready says so at start")
    missing = os.path.join(d, "ggml-later.bin")
    with Server(env={"WHISPER_MODEL": missing}) as s:
        st, j = s.get_json("/ready")
        c.check(st == 503 and j.get("status") == "not_ready" and j.get("model_state") == "missing",
                "/ready 503 model_state missing before any request", j)
        c.check(j.get("model_path") == missing and j.get("model_file_error") == "file not found",
                "  names the path and says file not found", j)
        c.check("file not found" in s.logtext() and missing in s.logtext() and "/ready" in s.logtext(),
                "  the start-up log warns that the model file is missing")
        c.check(loads(s) == 0, "  no load was attempted for /ready")
        shutil.copyfile(MICRO, missing)
        st, j = s.get_json("/ready")
        c.check(st == 200 and j.get("model_state") == "unloaded",
                "file copied into place → /ready 200 unloaded (checked on each call)", j)
        os.unlink(missing)

    print("2. API_KEY set: the public /ready names no path")
    with Server(env={"WHISPER_MODEL": missing, "API_KEY": "k3y", "WHISPER_LOAD_RETRY_MS": "0"}) as s:
        st, h, body = s.request("GET", "/ready")
        txt = body.decode()
        c.check(st == 503 and '"missing"' in txt, "/ready 503 missing with API_KEY", txt)
        c.check(d not in txt and "model_path" not in txt, "  no server path in the body", txt)
        st, h, body = s.upload(SHORT_CLIP, FAST, headers={"Authorization": "Bearer k3y"})
        c.check(st == 503 and missing in body.decode(),
                "the authenticated 503 still names the path for the operator", body)
        st, h, body = s.request("GET", "/ready")
        txt = body.decode()
        c.check("last_error" in txt and "ggml-later.bin" in txt and d not in txt,
                "  after a failed load last_error names the file, not its directory", txt)

    print("3. SIGHUP while a transcription runs")
    model = os.path.join(d, "ggml-swap.bin")
    shutil.copyfile(MICRO, model)
    with Server(env={"WHISPER_MODEL": model, "WHISPER_LOAD_RETRY_MS": "60000"}) as s:
        box = {}
        t = threading.Thread(target=lambda: box.update(r=s.upload(LONG_CLIP, FAST)))
        t.start()
        # decode runs before the model is acquired: once loaded, the job holds it
        ok = wait_for(lambda: loads(s) == 1, 60)
        c.check(ok and t.is_alive(), "transcription running with the model loaded")
        s.proc.send_signal(signal.SIGHUP)
        ok = wait_for(lambda: "SIGHUP received" in s.logtext(), 5)
        c.check(ok and s.proc.poll() is None, "SIGHUP logged, server alive", s.logtext()[-600:])
        c.check("will be dropped when the 1 running" in s.logtext(),
                "  the model is kept while the transcription holds it", s.logtext()[-600:])
        st, j = s.get_json("/health")
        c.check(st == 200, "  /health 200 during the deferred reload")
        t.join(120)
        st, h, body = box.get("r", (None, None, b""))
        c.check(st == 200 and b"#" in body, "the running transcription completed normally",
                (st, body[:200]))
        ok = wait_for(lambda: "reload: unloaded model ggml-swap.bin" in s.logtext(), 5)
        c.check(ok, "  then the model was dropped (log)", s.logtext()[-600:])
        c.check(loads(s) == 1, "  loads_total still 1")
        st, h, body = s.upload(SHORT_CLIP, FAST)
        c.check(st == 200 and loads(s) == 2, "the next request maps the model again (loads_total 2)",
                (st, loads(s)))

        print("3b. the file replaced by rename during a transcription, then SIGHUP")
        box = {}
        t = threading.Thread(target=lambda: box.update(r=s.upload(LONG_CLIP, FAST)))
        t.start()
        ok = wait_for(lambda: metric(s.metrics(), "mdconv_transcriptions_running") == 1, 60)
        c.check(ok and t.is_alive() and loads(s) == 2, "transcription running on the loaded model")
        shutil.copyfile(MICRO, model + ".new")
        os.replace(model + ".new", model)  # the operator's procedure: a new inode
        s.proc.send_signal(signal.SIGHUP)
        t.join(120)
        st, h, body = box.get("r", (None, None, b""))
        c.check(st == 200, "that transcription completes normally (the mapped old inode is intact)",
                (st, body[:300]))
        st, h, body = s.upload(SHORT_CLIP, FAST)
        c.check(st == 200 and loads(s) == 3, "the next request maps the new file: exactly one load",
                (st, loads(s)))
        st, h, body = s.upload(SHORT_CLIP, FAST)
        c.check(st == 200 and loads(s) == 3, "and the one after reuses it (no leftover reload)",
                (st, loads(s)))

        print("4. SIGHUP after replacing the file")
        with open(model + ".new", "wb") as f:
            f.write(b"not a model" * 100)
        os.replace(model + ".new", model)
        s.proc.send_signal(signal.SIGHUP)
        ok = wait_for(lambda: "model ggml-swap.bin dropped" in s.logtext(), 5)
        c.check(ok, "idle SIGHUP drops the model at once", s.logtext()[-600:])
        st, h, body = s.upload(SHORT_CLIP, FAST)
        c.check(st == 503 and error_code(body) == "model_unavailable",
                "the next request maps the replaced (broken) file → 503", body)
        shutil.copyfile(MICRO, model + ".new")
        os.replace(model + ".new", model)
        s.proc.send_signal(signal.SIGHUP)
        wait_for(lambda: s.logtext().count("SIGHUP received") >= 3, 5)
        st, h, body = s.upload(SHORT_CLIP, FAST)
        c.check(st == 200 and loads(s) == 4,
                "good file back + SIGHUP → 200 at once, not after the 60 s back-off", (st, body[:200]))
        c.check(s.proc.poll() is None, "server alive after three SIGHUPs")
finally:
    shutil.rmtree(d, ignore_errors=True)
c.finish()
