#!/usr/bin/env python3
"""A black-box fuzzer of the HTTP/multipart layer that drives the real server:
   tests/fuzz/http_fuzz.py [SECONDS] [SEED]        (default 120 s, seed 1)

Starts `md-converter serve` from $MDC_BUILD_DIR (use an ASan build: `make SAN=asan
build-asan/md-converter build-asan/mdc-audio.so`, then MDC_BUILD_DIR=build-asan), and
sends mutated upload requests one at a time: framing headers (duplicate or odd
Content-Length, Transfer-Encoding codings, chunk-size syntax), Content-Type and boundary
variants, part headers (names, filenames with NUL/CR/quotes/backslashes, folding,
filename*), field sizes around the 8 KiB limit, byte flips, truncation, random read
splits and half-closes.  After every request the server must be alive; at the end
/metrics must show no 5xx other than 501 and the temp dir must be empty, and the
server log must hold no sanitizer report.  Prints the status histogram.
Not part of `make test` (it is a soak); tests/fuzz/regressions/ keeps what it finds.
"""
import os
import random
import re
import socket
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
from mdc_testserver import Server, tiny_wav  # noqa: E402

SECS = float(sys.argv[1]) if len(sys.argv) > 1 else 120
rng = random.Random(int(sys.argv[2]) if len(sys.argv) > 2 else 1)
PATHS = ["/relatorio/process-meeting", "/v1/audio/transcriptions", "/jobs"]
NAMES = ["file", "language", "title", "response_format", "no_fallback", "temperature",
         "date", "participants", "timestamp_granularities[]", "audio", "", "fi\x00le"]
VALUES = [b"pt", b"en", b"srt", b"text", b"true", b"0", b"x" * 8192, b"x" * 8193, b"",
          b"\r\n--", "Reunião".encode(), b"\x00\xff\xfe"]


def form(boundary):
    parts = []
    for _ in range(rng.randint(0, 6)):
        name = rng.choice(NAMES)
        disp = 'form-data; name="%s"' % name
        if rng.random() < 0.2:
            disp += '; filename="%s"' % rng.choice(["a.wav", "../x\\y", 'q"', "caf\u00e9", "\x00.wav", ""])
        if rng.random() < 0.1:
            disp += "; filename*=UTF-8''caf%C3%A9"
        hdr = "Content-Disposition: " + disp
        if rng.random() < 0.1:
            hdr = hdr.replace("; ", ";\r\n ")  # obsolete folding
        val = rng.choice(VALUES)
        parts.append(b"--" + boundary + b"\r\n" + hdr.encode("utf-8", "replace") + b"\r\n\r\n" + val + b"\r\n")
    fpart = (b"--" + boundary + b'\r\nContent-Disposition: form-data; name="file"; filename="a.wav"\r\n'
             b"Content-Type: audio/wav\r\n\r\n" + tiny_wav(rng.choice([1, 5, 20])) + b"\r\n")
    parts.insert(rng.randint(0, len(parts)), fpart)
    body = b"".join(parts) + b"--" + boundary + b"--\r\n"
    if rng.random() < 0.3:  # byte flips
        body = bytearray(body)
        for _ in range(rng.randint(1, 8)):
            body[rng.randrange(len(body))] = rng.randrange(256)
        body = bytes(body)
    if rng.random() < 0.1:
        body = body[:rng.randrange(len(body))]
    return body


def request():
    boundary = rng.choice([b"b", b"----formdata-undici-0123456789", b"x" * 70, b"a b", b"B"])
    ct = "multipart/form-data; boundary=" + boundary.decode()
    ct = rng.choice([ct, ct, ct, 'multipart/form-data; boundary="%s"' % boundary.decode(),
                     ct.replace("form-data", "form-dataXYZ"), "multipart/form-data", "text/plain",
                     ct + "; charset=utf-8", "Multipart/Form-Data;boundary=" + boundary.decode()])
    body = form(boundary)
    chunked = rng.random() < 0.4
    hdrs = ["POST %s HTTP/1.1" % rng.choice(PATHS), "Host: x", "Content-Type: " + ct]
    if chunked:
        te = rng.choice(["chunked", "chunked", "chunked", "gzip", "gzip, chunked", "Chunked", "chunked, chunked"])
        hdrs.append("Transfer-Encoding: " + te)
        out, i = [], 0
        while i < len(body):
            k = rng.randint(1, 600)
            out.append(b"%x\r\n%s\r\n" % (len(body[i:i + k]), body[i:i + k]))
            i += k
        payload = b"".join(out) + b"0\r\n\r\n"
        if rng.random() < 0.1:
            payload = payload.replace(b"\r\n", b"\n", 1)
    else:
        n = len(body)
        cl = rng.choice([str(n)] * 6 + [str(n + 5), str(max(0, n - 5)), "%d, %d" % (n, n), "-1", "1e3", ""])
        hdrs.append("Content-Length: " + cl)
        if rng.random() < 0.1:
            hdrs.append("Content-Length: " + rng.choice([str(n), str(n + 1)]))
        if rng.random() < 0.05:
            hdrs.append("Transfer-Encoding: chunked")
        payload = body
    if rng.random() < 0.05:
        hdrs.append("Authorization: Bearer k\x00junk")
    hdrs.append("Connection: close")
    return ("\r\n".join(hdrs) + "\r\n\r\n").encode("utf-8", "replace") + payload


def send(port, data):
    s = socket.create_connection(("127.0.0.1", port), timeout=20)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        i = 0
        while i < len(data):
            k = rng.choice([len(data), rng.randint(1, 64), rng.randint(1, 4096)])
            s.sendall(data[i:i + k])
            i += k
            if rng.random() < 0.05:
                time.sleep(0.002)
        if rng.random() < 0.2:
            s.shutdown(socket.SHUT_WR)
        got = b""
        while True:
            d = s.recv(65536)
            if not d:
                break
            got += d
    except OSError as e:  # timeout, reset, broken pipe, not connected
        return "exc:" + type(e).__name__
    finally:
        s.close()
    while got.startswith(b"HTTP/1.1 1"):
        got = got.partition(b"\r\n\r\n")[2]
    m = re.match(rb"HTTP/1\.1 (\d+)", got)
    return m.group(1).decode() if m else "none"


with Server(env={"QUEUE_LENGTH": "4", "MAX_UPLOAD_MB": "1"}) as srv:
    hist, n, t0 = {}, 0, time.monotonic()
    while time.monotonic() - t0 < SECS:
        st = send(srv.port, request())
        hist[st] = hist.get(st, 0) + 1
        n += 1
        if srv.proc.poll() is not None:
            print("SERVER DIED (rc %s) after %d requests" % (srv.proc.returncode, n))
            print(srv.logtext()[-3000:])
            sys.exit(1)
    m = srv.metrics()
    five = {k: v for k, v in m.items() if k.startswith("mdconv_http_requests_total")
            and 'code="5' in k and 'code="501"' not in k and v > 0}
    time.sleep(1)
    left = srv.tmp_leftovers()
    san = [ln for ln in srv.logtext().splitlines() if "Sanitizer" in ln or "runtime error" in ln]
    print("%d requests in %.0f s; statuses: %s" % (n, time.monotonic() - t0,
                                                   ", ".join("%s×%d" % kv for kv in sorted(hist.items()))))
    print("5xx other than 501: %s; temp files left: %s; sanitizer lines: %d" % (five or "none", left or "none", len(san)))
    for ln in san[:20]:
        print("   ", ln)
    sys.exit(1 if five or left or san else 0)
