#!/usr/bin/env python3
"""The OpenAI-compatible surface through the real server, from a plain HTTP client:
CORS (preflight and actual requests for an admitted origin, a refused origin, with
API_KEY), OpenAI's error object (type, param) on every route, /v1/models/{id}, the
stream=true event stream read as it arrives, include[]=logprobs and language forms.
The official SDK's view of the same is tests/clients/openai-node (test_openai_sdk.sh)."""
import http.client
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mdc_testserver import (BUILD, FAST, FIXTURES, SHORT_CLIP, Checks, Server, metric, multipart,  # noqa: E402
                            require_binary)

TWO_WINDOWS = os.path.join(FIXTURES, "edge_35s_word_across_30s.wav")
KEY = "cors-test-key"
APP = "http://app.example:5173"
AUTH = {"Authorization": "Bearer " + KEY}


def err(body):
    try:
        return json.loads(body)["error"]
    except (ValueError, KeyError, TypeError):
        return {}


def preflight(s, path, origin, method="POST", headers="authorization, content-type, x-stainless-os"):
    h = {"Origin": origin, "Access-Control-Request-Method": method}
    if headers:
        h["Access-Control-Request-Headers"] = headers
    return s.request("OPTIONS", path, headers=h)


def cors_checks(c):
    print("CORS: admitted origin, refused origin, API key")
    with Server(env={"CORS_ALLOW_ORIGINS": "https://other.example, " + APP + "/", "API_KEY": KEY}) as s:
        st, h, body = preflight(s, "/v1/audio/transcriptions", APP)
        c.check(st == 204, "preflight of an admitted origin → 204 without a key", (st, body[:200]))
        c.check(h.get("access-control-allow-origin") == APP and "origin" in h.get("vary", "").lower(),
                "preflight: Allow-Origin is the origin, Vary: Origin", h)
        c.check(h.get("access-control-allow-methods") == "POST, OPTIONS",
                "preflight: Allow-Methods lists the routed methods", h.get("access-control-allow-methods"))
        allow_h = h.get("access-control-allow-headers", "").lower()
        c.check(all(x in allow_h for x in ("authorization", "content-type", "x-stainless-os")),
                "preflight: Allow-Headers admits Authorization, Content-Type and the SDK's x-stainless-*",
                allow_h)
        c.check(int(h.get("access-control-max-age", "0")) > 0, "preflight: Max-Age", h)
        st, h, _ = preflight(s, "/v1/models", APP, method="GET", headers=None)
        c.check(st == 204 and h.get("access-control-allow-methods") == "GET, HEAD, OPTIONS"
                and "authorization" in h.get("access-control-allow-headers", "").lower(),
                "preflight of a GET route; default Allow-Headers", h)
        st, h, body = preflight(s, "/v1/audio/transcriptions", "https://evil.example")
        c.check(st == 403 and not any(k.startswith("access-control-") for k in h)
                and err(body).get("code") == "cors_origin_refused",
                "preflight of a refused origin → 403 without any Access-Control-* header", (st, h))
        st, h, _ = preflight(s, "/v1/nope", APP)
        c.check(st == 404, "preflight of an unknown path → 404", st)
        st, h, _ = preflight(s, "/v1/audio/transcriptions", APP, headers='authorization, x-evil"<b>; a=b')
        c.check(st == 204 and "x-evil" not in h.get("access-control-allow-headers", "")
                and "authorization" in h.get("access-control-allow-headers", "").lower(),
                "requested headers that are not plain names are not reflected (the fixed list instead)", h)

        # actual requests
        st, h, body = s.request("GET", "/v1/models", headers={"Origin": APP})
        c.check(st == 401 and h.get("access-control-allow-origin") == APP,
                "actual request without the key: still 401 (readable by the admitted page)", (st, h))
        st, h, body = s.request("GET", "/v1/models", headers=dict(AUTH, Origin=APP))
        c.check(st == 200 and h.get("access-control-allow-origin") == APP and "origin" in h.get("vary", "").lower(),
                "actual request with the key from an admitted origin → 200 + Allow-Origin + Vary", (st, h))
        st, h, body = s.request("GET", "/v1/models", headers=dict(AUTH, Origin="https://evil.example"))
        c.check(st == 200 and "access-control-allow-origin" not in h,
                "refused origin: the answer carries no Allow-Origin (the browser withholds it)", h)
        st, h, body = s.upload(SHORT_CLIP, dict(FAST), endpoint="/v1/audio/transcriptions",
                               headers=dict(AUTH, Origin=APP))
        c.check(st == 200 and h.get("access-control-allow-origin") == APP
                and "retry-after" in h.get("access-control-expose-headers", "").lower(),
                "a transcription from an admitted origin carries the CORS headers", (st, h, body[:200]))
        st, h, body = s.upload(SHORT_CLIP, dict(FAST), endpoint="/v1/audio/transcriptions",
                               headers={"Origin": APP, "Authorization": "Bearer wrong"})
        c.check(st == 401 and err(body).get("type") == "invalid_request_error",
                "a transcription with a wrong key from an admitted origin → 401", (st, body))

    with Server(env={"CORS_ALLOW_ORIGINS": "*"}) as s:
        st, h, _ = preflight(s, "/jobs", "https://anything.example")
        c.check(st == 204 and h.get("access-control-allow-origin") == "https://anything.example",
                "CORS_ALLOW_ORIGINS=* admits any origin", h)
    with Server() as s:  # default: off
        st, h, body = preflight(s, "/v1/audio/transcriptions", APP)
        c.check(st == 405 and not any(k.startswith("access-control-") for k in h),
                "CORS off (default): OPTIONS → 405, no Access-Control-* header", (st, h))
        st, h, _ = s.request("GET", "/health", headers={"Origin": APP})
        c.check("access-control-allow-origin" not in h and "vary" not in h, "CORS off: no CORS headers", h)
    for bad in ("app.example", "https://a.example/path", "*,https://a.example", "https://a.example, *"):
        srv = Server(env={"CORS_ALLOW_ORIGINS": bad}, wait=False)
        rc = srv.proc.wait(timeout=10)
        log = srv.logtext()
        srv.stop()
        c.check(rc == 2 and "CORS_ALLOW_ORIGINS" in log, "CORS_ALLOW_ORIGINS=%r refused at start" % bad, (rc, log[-300:]))


def error_checks(c, s):
    print("OpenAI error objects")
    cases = [
        ("GET", "/nope", None, 404, None),
        ("DELETE", "/v1/models", None, 405, None),
        ("GET", "/v1/models/gpt-4o", None, 404, "model"),
        ("GET", "/jobs/0123456789abcdef", None, 404, None),
    ]
    for method, path, body, want, param in cases:
        st, h, b = s.request(method, path, body=body)
        e = err(b)
        c.check(st == want and e.get("type") == "invalid_request_error" and "param" in e and e.get("param") == param
                and isinstance(e.get("message"), str) and e.get("code"),
                "%s %s → %d {message, type, code, param=%s}" % (method, path, want, param), (st, b[:200]))
    for fields, param, what in [
        ({"response_format": "srt_karaoke"}, "response_format", "unknown response_format"),
        ({"language": "klingon"}, "language", "unknown language"),
        ({"temperature": "7"}, "temperature", "temperature out of range"),
        ({"model": "gpt-4o-transcribe"}, "model", "unknown model"),
        ({"stream": "maybe"}, "stream", "stream not a boolean"),
        ({"include[]": "everything"}, "include", "unknown include[]"),
        ({"include[]": "logprobs", "response_format": "srt"}, "include", "logprobs with srt"),
        ({"stream": "true", "response_format": "verbose_json"}, "stream", "stream with verbose_json"),
    ]:
        st, h, b = s.upload(SHORT_CLIP, fields, endpoint="/v1/audio/transcriptions")
        e = err(b)
        c.check(st in (400, 404) and e.get("param") == param and e.get("type") == "invalid_request_error",
                "%s → %d param %s" % (what, st, param), (st, b[:300]))
    st, h, b = s.upload(SHORT_CLIP, {"stream": "true"}, endpoint="/v1/audio/translations")
    c.check(st == 400 and err(b).get("param") == "stream", "translations refuse stream=true (param stream)", b[:200])
    st, h, b = s.upload(os.path.join(FIXTURES, "bad_meeting_notes.txt"), {}, endpoint="/v1/audio/transcriptions")
    c.check(st == 415 and err(b).get("param") == "file", "415 names param file", b[:200])
    st, h, b = s.upload(file_bytes=b"", filename="e.wav", endpoint="/v1/audio/transcriptions")
    c.check(st == 422 and err(b).get("param") == "file", "422 empty file names param file", b[:200])
    ct, body = multipart({"language": "pt"})
    st, h, b = s.request("POST", "/v1/audio/transcriptions", body=body, headers={"Content-Type": ct})
    c.check(st == 400 and err(b).get("param") == "file" and err(b).get("code") == "missing_file",
            "a form without file → 400 param file", b[:200])


def models_checks(c, s):
    print("models")
    st, j = s.get_json("/v1/models")
    ids = [m["id"] for m in j["data"]]
    c.check(st == 200 and ids == ["ggml-micro-random.bin", "whisper-1"], "/v1/models lists the model and whisper-1", ids)
    for m in j["data"]:
        c.check(m["object"] == "model" and isinstance(m["created"], int) and m["created"] > 0 and m["owned_by"],
                "model object %s has OpenAI's fields" % m["id"], m)
    for mid in ("whisper-1", "ggml-micro-random.bin"):
        st, j = s.get_json("/v1/models/" + mid)
        c.check(st == 200 and j["id"] == mid and j["object"] == "model", "GET /v1/models/%s" % mid, j)
        st, h, b = s.upload(SHORT_CLIP, dict(FAST, model=mid), endpoint="/v1/audio/transcriptions")
        c.check(st == 200, "model=%s is accepted" % mid, b[:200])


def read_sse(port, fields, path="/v1/audio/transcriptions", clip=TWO_WINDOWS):
    """Posts and reads the event stream as it arrives: [(seconds since sent, event, data)]."""
    ct, body = multipart(fields, clip)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    t0 = time.monotonic()
    conn.request("POST", path, body=body, headers={"Content-Type": ct})
    r = conn.getresponse()
    events, ev, data = [], None, []
    if r.status != 200:
        return r.status, dict((k.lower(), v) for k, v in r.getheaders()), r.read()
    while True:
        line = r.readline()  # HTTPResponse undoes the chunked framing
        if not line:
            break
        line = line.decode().rstrip("\r\n")
        if line.startswith("event: "):
            ev = line[7:]
        elif line.startswith("data: "):
            data.append(line[6:])
        elif line == "" and (ev or data):
            events.append((time.monotonic() - t0, ev, json.loads("\n".join(data))))
            ev, data = None, []
    conn.close()
    return 200, dict((k.lower(), v) for k, v in r.getheaders()), events


def stream_checks(c, s):
    print("stream=true")
    st, h, b = s.upload(TWO_WINDOWS, dict(FAST), endpoint="/v1/audio/transcriptions")
    plain = json.loads(b)
    c.check(st == 200 and plain["usage"] == {"type": "duration", "seconds": 35}, "json has usage (35 s)", b[:200])
    st, h, events = read_sse(s.port, dict(FAST, stream="true"))
    c.check(st == 200 and h.get("content-type", "").startswith("text/event-stream"), "200 text/event-stream", (st, h))
    if st != 200:
        return
    deltas = [e for e in events if e[1] == "transcript.text.delta"]
    done = [e for e in events if e[1] == "transcript.text.done"]
    c.check(len(deltas) >= 2 and len(done) == 1 and events[-1] is done[0], "deltas then one done event, last",
            [(round(t, 2), n) for t, n, _ in events])
    c.check(all(d[2]["type"] == "transcript.text.delta" and isinstance(d[2]["delta"], str) for d in deltas)
            and done[0][2]["type"] == "transcript.text.done", "events carry their type")
    c.check("".join(d[2]["delta"] for d in deltas) == done[0][2]["text"] == plain["text"],
            "deltas add up to done.text = the non-streamed text")
    c.check(done[0][2]["usage"] == {"type": "duration", "seconds": 35}, "done carries usage", done[0][2].get("usage"))
    gap = done[0][0] - deltas[0][0]
    c.check(gap > 0.05, "the first delta arrives before the second window is decoded (%.2f s before done)" % gap)
    st, h, events = read_sse(s.port, dict(FAST, stream="true"), clip=os.path.join(FIXTURES, "bad_meeting_notes.txt"))
    c.check(st == 415 and err(events).get("param") == "file",
            "a failure before the first event keeps its status (415)", (st, events[:200] if isinstance(events, bytes) else events))
    st, h, events = read_sse(s.port, dict(FAST, stream="true"), path="/v1/audio/transcriptions?x=1")
    c.check(st == 200, "query strings do not matter", st)

    # a client that leaves mid-stream cancels its transcription; the server carries on
    ct, body = multipart(dict(FAST, stream="true"), os.path.join(FIXTURES, "edge_5min_two_utterances.flac"))
    conn = http.client.HTTPConnection("127.0.0.1", s.port, timeout=120)
    conn.request("POST", "/v1/audio/transcriptions", body=body, headers={"Content-Type": ct})
    r = conn.getresponse()
    first = r.readline()
    conn.close()
    def cancelled():
        return metric(s.metrics(), "mdconv_transcriptions_total", endpoint="transcriptions",
                      status="client_closed") or 0
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and cancelled() < 1:
        time.sleep(0.1)
    c.check(r.status == 200 and first.startswith(b"event: ") and cancelled() == 1,
            "closing the stream cancels the transcription (counted as client_closed)",
            (r.status, first, s.logtext()[-300:]))
    st, h, b = s.upload(SHORT_CLIP, dict(FAST), endpoint="/v1/audio/transcriptions")
    c.check(st == 200, "the next request is served", st)


def error_after_start_checks(c):
    print("stream=true: a failure after the first event is an SSE error event")
    # REQUEST_TIMEOUT_SECONDS=2 and a 5-minute clip (ten windows) on the tiny-dims model
    # (the micro model can finish all ten windows within 2 s on an idle machine): the
    # first window's delta goes out, then the timeout cancels the rest
    tiny = os.path.join(os.environ.get("MDC_MODELS_DIR") or os.path.join(BUILD, "models"),
                        "ggml-tiny-dims-random.bin")
    with Server(env={"REQUEST_TIMEOUT_SECONDS": "2", "WHISPER_MODEL": tiny}) as s:
        long_clip = os.path.join(FIXTURES, "edge_5min_two_utterances.flac")
        st, h, events = read_sse(s.port, dict(FAST, stream="true"), clip=long_clip)
        if st != 200:
            c.check(st == 504, "timed out before the first event → 504", st)
            return
        last = events[-1] if events else (0, None, {})
        c.check(last[1] == "error" and last[2].get("type") == "error"
                and last[2]["error"].get("code") == "timeout" and last[2]["error"].get("type") == "server_error",
                "the stream ends with event: error {type: error, error: {code: timeout}}",
                [(n, d) for _, n, d in events][-2:])


def logprob_and_language_checks(c, s):
    print("include[]=logprobs, language forms")
    st, h, b = s.upload(SHORT_CLIP, dict(FAST, **{"include[]": "logprobs"}), endpoint="/v1/audio/transcriptions")
    j = json.loads(b) if st == 200 else {}
    lps = j.get("logprobs") or []
    c.check(st == 200 and lps and all(set(x) == {"token", "bytes", "logprob"} for x in lps),
            "json + include[]=logprobs → [{token, bytes, logprob}]", b[:300])
    spelled = bytes(bt for x in lps for bt in x["bytes"]).decode("utf-8", "replace")
    c.check(" ".join(spelled.split()) == j.get("text"), "the tokens' bytes spell the text")
    c.check(all(x["logprob"] <= 0 for x in lps), "log-probabilities are <= 0")
    for given, name in [("pt-BR", "portuguese"), ("PT", "portuguese"), ("pt_br", "portuguese"),
                        ("en-US", "english"), ("portuguese", "portuguese"), ("Spanish", "spanish")]:
        st, h, b = s.upload(SHORT_CLIP, {"language": given, "no_fallback": "true", "response_format": "verbose_json"},
                            endpoint="/v1/audio/transcriptions")
        c.check(st == 200 and json.loads(b)["language"] == name, "language %r → %s" % (given, name), b[:200])
    st, h, b = s.upload(SHORT_CLIP, {"language": "pt-BR", "no_fallback": "true"})
    c.check(st == 200, "process-meeting takes language=pt-BR too", b[:200])


def main():
    require_binary()
    c = Checks("test_openai_api")
    cors_checks(c)
    with Server() as s:
        error_checks(c, s)
        models_checks(c, s)
        stream_checks(c, s)
        logprob_and_language_checks(c, s)
    error_after_start_checks(c)
    c.finish()


if __name__ == "__main__":
    main()
