"""Admission before bodies (issue 8 item 4): with MAX_CONCURRENT_TRANSCRIPTIONS=1 and
QUEUE_LENGTH=8 (the defaults), 30 concurrent slow uploads → exactly 9 are admitted
(spooling), the other 21 get 503 queue_full with Retry-After at once, after sending only
their headers (the test never sends them a body byte).  Closing admitted uploads frees
their slots: a new upload is admitted again, and its temp file is gone with it.
Prints the figures quoted in docs/SECURITY.md.
"""
import os
import socket
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mdc_testserver import (FAST, SHORT_CLIP, Checks, Server, check_no_5xx,  # noqa: E402
                            multipart, require_binary)

require_binary()
c = Checks("test_admission")
N, BOUND = 30, 1 + 8
BODY_LEN = 50 << 20  # announced, never sent in full


def open_upload(port, send_first_bytes):
    """Headers of a 50 MB multipart upload (+ optionally the first part of its body)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    head = ("POST /v1/audio/transcriptions HTTP/1.1\r\nHost: x\r\n"
            "Content-Type: multipart/form-data; boundary=XyZ\r\nContent-Length: %d\r\n\r\n"
            % BODY_LEN).encode()
    s.sendall(head)
    if send_first_bytes:
        s.sendall(b'--XyZ\r\nContent-Disposition: form-data; name="file"; filename="a.wav"\r\n'
                  b"Content-Type: audio/wav\r\n\r\n" + b"\0" * 4096)
    return s


def answer_within(s, seconds):
    """The status line and headers if the server answers within `seconds`, else None."""
    s.settimeout(seconds)
    try:
        data = s.recv(65536)
    except socket.timeout:
        return None
    except ConnectionResetError:
        return b"RESET"
    return data


with Server(env={"MAX_CONCURRENT_TRANSCRIPTIONS": "1", "QUEUE_LENGTH": "8"}) as srv:
    socks, refused, admitted, t_refuse = [], 0, 0, []
    for i in range(N):
        t0 = time.perf_counter()
        s = open_upload(srv.port, send_first_bytes=False)
        a = answer_within(s, 0.5)
        if a is None:
            s.sendall(b'--XyZ\r\nContent-Disposition: form-data; name="file"; filename="a.wav"\r\n'
                      b"Content-Type: audio/wav\r\n\r\n" + b"\0" * 4096)
            admitted += 1
            socks.append(s)
        else:
            t_refuse.append((time.perf_counter() - t0) * 1000)
            ok = a.startswith(b"HTTP/1.1 503") and b"queue_full" in a and b"Retry-After" in a
            c.check(ok, "upload %d: 503 queue_full with Retry-After before its body" % (i + 1), a[:200])
            refused += 1
            s.close()
    print("  figures: %d concurrent uploads → %d admitted, %d refused; refusal after the "
          "headers in max %.1f ms (median %.1f ms)"
          % (N, admitted, refused, max(t_refuse) if t_refuse else 0,
             sorted(t_refuse)[len(t_refuse) // 2] if t_refuse else 0))
    c.check(admitted == BOUND, "exactly MAX_CONCURRENT_TRANSCRIPTIONS + QUEUE_LENGTH = %d admitted"
            % BOUND, admitted)
    c.check(refused == N - BOUND, "the other %d refused" % (N - BOUND), refused)
    spooled = [f for f in srv.tmp_leftovers() if f.startswith("mdc-upload-")]
    c.check(len(spooled) <= BOUND, "at most %d temp files exist" % BOUND, spooled)
    for s in socks:
        s.close()
    socks = []
    time.sleep(0.5)
    st, _, _ = srv.upload(SHORT_CLIP, FAST, endpoint="/v1/audio/transcriptions")
    c.check(st == 200, "after the admitted uploads went away a new one is admitted and served", st)
    c.check(not [f for f in srv.tmp_leftovers() if f.startswith("mdc-upload-")],
            "no temp file left once the clients are gone")
    check_no_5xx(c, srv, allow={503: N - BOUND})
c.finish()
