"""Split replay (issue 8, item 1): a request's result must not depend on how its bytes
reach the server.  Against the real server on loopback:

1. two small requests with several 1-4 byte fields and a tiny WAV (process-meeting:
   language, report_locale, title, date, participants, no_fallback — all visible in the
   report; /v1/audio/transcriptions: response_format=srt, language, temperature) are
   sent split in two at EVERY byte position, with Content-Length (the whole request
   split, headers included) and chunked (the body split into two chunks at every
   position); each answer must equal the answer to the unsplit request;
2. the fixtures' requests — the two .multipart bodies (language and no_fallback parts
   put in front) and a multi-field request with a real recording — in random chunkings
   (Content-Length and chunked), answers compared with the unsplit answer;
3. no 5xx anywhere (from /metrics at the end).

The pieces are sent with TCP_NODELAY and a 20 ms pause between them, so the server reads
them separately; 8 requests are in flight at once so the pauses overlap.
"""
import os
import random
import re
import socket
import sys
import time
from concurrent.futures import ThreadPoolExecutor

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mdc_testserver import (FIXTURES, SHORT_CLIP, Checks, Server,  # noqa: E402
                            multipart, require_binary, tiny_wav)

require_binary()
c = Checks("test_upload_split")
PAUSE = 0.02   # between pieces: long enough for the server to read each piece alone
PARALLEL = 8   # requests in flight, so the pauses overlap (the server queues them)
FIXTURE_BOUNDARY = "----fixtureBoundary7Qp2xK9zR"


def compact_multipart(fields, file_bytes, filename, boundary="----formdata-undici-012345678901"):
    """A small body (short part headers; a boundary as the Node SDK's undici makes)."""
    out = []
    for k, v in fields:
        out.append(b'--%s\r\nContent-Disposition: form-data; name="%s"\r\n\r\n%s\r\n'
                   % (boundary.encode(), k.encode(), v.encode()))
    out.append(b'--%s\r\nContent-Disposition: form-data; name="file"; filename="%s"\r\n\r\n'
               % (boundary.encode(), filename.encode()) + file_bytes + b"\r\n")
    out.append(b"--%s--\r\n" % boundary.encode())
    return "multipart/form-data; boundary=" + boundary, b"".join(out)


def head(path, ct, length=None):
    h = "POST %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: %s\r\n" % (path, ct)
    h += ("Content-Length: %d\r\n" % length) if length is not None else "Transfer-Encoding: chunked\r\n"
    return (h + "\r\n").encode()


def exchange(port, pieces):
    """Sends pieces with a pause between them; returns (status, body) of the answer."""
    s = socket.create_connection(("127.0.0.1", port), timeout=60)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        for i, p in enumerate(pieces):
            if i:
                time.sleep(PAUSE)
            if p:
                s.sendall(p)
        data = b""
        while True:
            d = s.recv(65536)
            if not d:
                break
            data += d
    finally:
        s.close()
    hdr, _, body = data.partition(b"\r\n\r\n")
    m = re.match(rb"HTTP/1\.1 (\d+)", hdr)
    return (int(m.group(1)) if m else 0), normalise(body)


def normalise(body):
    """Drops the one line that differs between identical requests (processing time)."""
    return re.sub(rb"\n- \*\*(Tempo de processamento|Processing time):\*\*[^\n]*", b"", body)


def cl_pieces(path, ct, body, cuts):
    raw = head(path, ct, len(body)) + body
    bounds = [0] + sorted(cuts) + [len(raw)]
    return [raw[a:b] for a, b in zip(bounds, bounds[1:])]


def chunked_pieces(path, ct, body, cuts):
    """The body as one chunk per piece (cut points within the body), then the last chunk."""
    bounds = [0] + sorted(cuts) + [len(body)]
    out = [head(path, ct)]
    for a, b in zip(bounds, bounds[1:]):
        if b > a:
            out.append(b"%x\r\n%s\r\n" % (b - a, body[a:b]))
    out.append(b"0\r\n\r\n")
    return out


def every_position(s, name, path, ct, body, must_contain):
    ref_st, ref = exchange(s.port, cl_pieces(path, ct, body, []))
    ok = ref_st == 200 and all(m in ref for m in must_contain)
    c.check(ok, "%s: the unsplit request is answered with every field (%d-byte body)" % (name, len(body)),
            (ref_st, ref[:400]))
    if not ok:
        return
    raw_len = len(head(path, ct, len(body))) + len(body)
    with ThreadPoolExecutor(PARALLEL) as pool:
        t0 = time.monotonic()
        got = list(pool.map(lambda k: exchange(s.port, cl_pieces(path, ct, body, [k])), range(1, raw_len)))
        bad = [k + 1 for k, g in enumerate(got) if g != (200, ref)]
        c.check(not bad, "%s: Content-Length, split at each of %d positions: same answer (%.1f s)"
                % (name, raw_len - 1, time.monotonic() - t0), "differs at %s" % bad[:10])
        t0 = time.monotonic()
        got = list(pool.map(lambda k: exchange(s.port, chunked_pieces(path, ct, body, [k])), range(1, len(body))))
        bad = [k + 1 for k, g in enumerate(got) if g != (200, ref)]
        c.check(not bad, "%s: chunked, body split into two chunks at each of %d positions: same answer (%.1f s)"
                % (name, len(body) - 1, time.monotonic() - t0), "differs at %s" % bad[:10])


def random_chunkings(s, name, path, ct, body, rounds, must_contain, rng):
    ref_st, ref = exchange(s.port, cl_pieces(path, ct, body, []))
    c.check(ref_st == 200 and all(m in ref for m in must_contain),
            "%s: unsplit answer (%d-byte body)" % (name, len(body)), (ref_st, ref[:400]))
    bad = []
    for r in range(rounds):
        n = rng.randint(2, 40)
        cuts = sorted(set(rng.randrange(1, len(body)) for _ in range(n)))
        # small pieces around the part boundaries, where a field could be lost
        for m in re.finditer(rb"\r\n--", body):
            if rng.random() < 0.5:
                cuts += [m.start() + d for d in (1, 2, 3, 5) if 0 < m.start() + d < len(body)]
        cuts = sorted(set(cuts))
        h = len(head(path, ct, len(body)))
        for mode, pieces in (("Content-Length", cl_pieces(path, ct, body, [h + k for k in cuts])),
                             ("chunked", chunked_pieces(path, ct, body, cuts))):
            got = exchange(s.port, pieces)
            if got != (200, ref):
                bad.append((mode, r, got[0], got[1][:120]))
    c.check(not bad, "%s: %d random chunkings x (Content-Length, chunked): same answer" % (name, rounds), bad[:3])


with Server(env={"QUEUE_LENGTH": str(4 * PARALLEL)}) as s:
    rng = random.Random(8)
    wav = tiny_wav(2)
    print("every byte position")
    fields = [("language", "en"), ("report_locale", "en"), ("title", "T"), ("date", "d1"),
              ("participants", "P"), ("no_fallback", "1")]
    ct, body = compact_multipart(fields, wav, "a.wav")
    every_position(s, "process-meeting", "/relatorio/process-meeting", ct, body,
                   [b"# T\n", b"d1", b"- P\n", b"(en;", b"a.wav"])
    ct, body = compact_multipart([("response_format", "srt"), ("language", "en"), ("temperature", "0"),
                                  ("no_fallback", "1")], wav, "a.wav")
    every_position(s, "transcriptions srt", "/v1/audio/transcriptions", ct, body, [])
    # the srt answer is a subtitle file, not the default JSON
    st, h, b = s.request("POST", "/v1/audio/transcriptions", body=body, headers={"Content-Type": ct})
    c.check(st == 200 and h.get("content-type", "").startswith("application/x-subrip"),
            "response_format=srt arrives (Content-Type %s)" % h.get("content-type"))

    print("random chunkings of the fixtures' requests")
    # two fields in front of the fixture's own part keep the micro model's run short
    # (no language detection, no fallback) and are checked too
    front = b"".join(b'--%s\r\nContent-Disposition: form-data; name="%s"\r\n\r\n%s\r\n'
                     % (FIXTURE_BOUNDARY.encode(), k, v)
                     for k, v in ((b"language", b"en"), (b"no_fallback", b"true")))
    for fx, expect in (("bad_multipart_mp3_declared_text_plain.multipart", [b"00:00:21", b"reuniao.mp3"]),
                       ("bad_upload_name_nul_dotdot.multipart", [b"00:00:03", b"fixture-escape.wav"])):
        with open(os.path.join(FIXTURES, fx), "rb") as f:
            fbody = front + f.read()
        random_chunkings(s, fx, "/relatorio/process-meeting",
                         "multipart/form-data; boundary=" + FIXTURE_BOUNDARY, fbody, 3,
                         expect + [b"(en;"], rng)
    ct, body = multipart({"language": "pt", "no_fallback": "true", "title": "Reunião curta",
                          "date": "2026-03-21", "participants": "Ana, Bruno", "report_locale": "en"},
                         SHORT_CLIP)
    random_chunkings(s, "edge_speech_0.5s.wav with six fields", "/relatorio/process-meeting", ct, body, 4,
                     ["# Reunião curta".encode(), b"2026-03-21", b"Ana", b"Bruno", b"(pt;"], rng)

    m = s.metrics()
    five = sum(v for k, v in m.items() if k.startswith("mdconv_http_requests_total") and 'code="5' in k)
    c.check(five == 0, "no 5xx answered during the test (mdconv_http_requests_total)", five)
    c.check(s.tmp_leftovers() == [], "no temp file left", s.tmp_leftovers())
c.finish()
