"""Request framing and statuses (issue 8, items 7 and 9) against the real server, on raw
sockets where http.client would not send the request as written:

- Content-Length past MAX_UPLOAD_MB → 413 before any body byte is sent; a chunked body
  → 413 as soon as it passes the limit (long before the client has sent it all);
- a 70 MB `title` → 400 field_too_long naming the field (not a reset);
- two different Content-Length headers → 400 (RFC 9112 §6.3), equal ones accepted;
  Transfer-Encoding and Content-Length together → 400; Transfer-Encoding: gzip → 501
  at once (not a hang);
- multipart/form-dataXYZ refused (400), a 1-character boundary accepted;
- 405 carries Allow;
- a client that half-closes (shutdown(SHUT_WR)) after a complete request gets its 200;
- a display name ending in a multi-byte character keeps it; a file under the wrong
  field name is told where the file goes; a zero-sample-rate WAV gets 415 with the
  reason; no 5xx at the end.
"""
import json
import os
import socket
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mdc_testserver import (FIXTURES, Checks, Server, error_code, multipart,  # noqa: E402
                            require_binary, tiny_wav)

require_binary()
c = Checks("test_http_framing")
UPLOAD = "/relatorio/process-meeting"


FAST = {"language": "pt", "no_fallback": "true"}


def read_answer(s, timeout=10):
    """(status, headers dict, body) of one HTTP answer read until close; status 0 on a
    reset or timeout, with the reason in the body."""
    s.settimeout(timeout)
    data = b""
    try:
        while True:
            d = s.recv(65536)
            if not d:
                break
            data += d
    except socket.timeout:
        return 0, {}, b"<timeout>" + data[:200]
    except ConnectionResetError:
        if not data:
            return 0, {}, b"<reset>"
    # skip interim 1xx answers
    while data.startswith(b"HTTP/1.1 1"):
        data = data.partition(b"\r\n\r\n")[2]
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    try:
        status = int(lines[0].split()[1])
    except (IndexError, ValueError):
        return 0, {}, data[:200]
    hdrs = {}
    for ln in lines[1:]:
        k, _, v = ln.partition(b":")
        hdrs[k.decode().strip().lower()] = v.decode().strip()
    return status, hdrs, body


def raw(port, data, timeout=10):
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        s.sendall(data)
        return read_answer(s, timeout)
    finally:
        s.close()


def post_head(ct, extra=""):
    return ("POST %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: %s\r\n%s\r\n"
            % (UPLOAD, ct, extra)).encode()


with Server(env={"MAX_UPLOAD_MB": "1"}) as s:
    print("early 413")
    ct, body = multipart(FAST, file_bytes=tiny_wav(), filename="a.wav")
    t0 = time.monotonic()
    st, h, b = raw(s.port, post_head(ct, "Content-Length: %d\r\n" % (1024 * 1024 + 1)))
    c.check(st == 413 and error_code(b) == "file_too_large",
            "Content-Length one byte past MAX_UPLOAD_MB → 413 before the body (%.0f ms)"
            % ((time.monotonic() - t0) * 1000), (st, b[:200]))

    def chunked_flood(first):
        """Sends `first` then up to 16 MB of file bytes as a chunked body, stopping when
        an answer arrives; returns (status, body, bytes of file data sent)."""
        sock = socket.create_connection(("127.0.0.1", s.port), timeout=10)
        sock.sendall(post_head("multipart/form-data; boundary=B", "Transfer-Encoding: chunked\r\n"))
        sock.sendall(b"%x\r\n%s\r\n" % (len(first), first))
        sent, chunk, answered = 0, b"\0" * 65536, False
        sock.setblocking(False)
        while sent < 16 * 1024 * 1024 and not answered:
            try:
                sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                sent += len(chunk)
            except (BlockingIOError, BrokenPipeError, ConnectionResetError):
                time.sleep(0.005)
            try:
                answered = sock.recv(1, socket.MSG_PEEK) != b""
            except BlockingIOError:
                pass
            except ConnectionResetError:
                break
        sock.setblocking(True)
        st, _, b = read_answer(sock)
        sock.close()
        return st, b, sent

    file_head = b'--B\r\nContent-Disposition: form-data; name="file"; filename="a.wav"\r\n\r\n'
    st, b, sent = chunked_flood(file_head)
    c.check(st == 413 and error_code(b) == "file_too_large" and sent < 8 * 1024 * 1024,
            "chunked body passing MAX_UPLOAD_MB → 413 while the client is still sending "
            "(%.1f MB sent of 16)" % (sent / 1048576.0), (st, b[:200]))
    long_title = b'--B\r\nContent-Disposition: form-data; name="title"\r\n\r\n' + b"t" * 9000 + b"\r\n"
    st, b, sent = chunked_flood(long_title + file_head)
    c.check(st == 400 and error_code(b) == "field_too_long" and b"`title`" in b and sent < 8 * 1024 * 1024,
            "chunked body with a 9000-byte title, then past the limit → the title's 400, mid-body "
            "(%.1f MB sent)" % (sent / 1048576.0), (st, b[:200]))

    print("framing headers")
    ct, body = multipart(FAST, file_bytes=tiny_wav(), filename="a.wav")
    st, h, b = raw(s.port, post_head(ct, "Content-Length: %d\r\nContent-Length: %d\r\n" % (len(body), len(body) + 7)) + body)
    c.check(st == 400 and b"Content-Length" in b, "two different Content-Length headers → 400", (st, b[:200]))
    st, h, b = raw(s.port, post_head(ct, "Content-Length: %d\r\nContent-Length: %d\r\n" % (len(body), len(body))) + body)
    c.check(st == 200, "two equal Content-Length headers → accepted", (st, b[:200]))
    st, h, b = raw(s.port, post_head(ct, "Content-Length: %d\r\nTransfer-Encoding: chunked\r\n" % len(body)) + body)
    c.check(st == 400, "Transfer-Encoding and Content-Length together → 400", (st, b[:200]))
    t0 = time.monotonic()
    st, h, b = raw(s.port, post_head(ct, "Transfer-Encoding: gzip\r\n") + body, timeout=5)
    c.check(st == 501 and b"gzip" in b, "Transfer-Encoding: gzip → 501 at once (%.0f ms)"
            % ((time.monotonic() - t0) * 1000), (st, b[:200]))
    st, h, b = raw(s.port, b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                           b"Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", timeout=5)
    c.check(st == 501, "Transfer-Encoding: gzip, chunked on a GET → 501", (st, b[:200]))

    print("content types and boundaries")
    st, h, b = s.request("POST", UPLOAD, body=body, headers={"Content-Type": ct.replace("form-data", "form-dataXYZ")})
    c.check(st == 400 and error_code(b) == "bad_request", "multipart/form-dataXYZ → 400", (st, b[:200]))
    ct1, body1 = multipart(FAST, file_bytes=tiny_wav(), filename="a.wav")
    body1 = body1.replace(b"--" + ct1.split("boundary=")[1].encode(), b"--Q")
    st, h, b = s.request("POST", UPLOAD, body=body1, headers={"Content-Type": "multipart/form-data; boundary=Q"})
    c.check(st == 200, "a 1-character boundary is accepted (RFC 2046 allows 1-70)", (st, b[:200]))
    st, h, b = s.request("POST", UPLOAD, body=body1, headers={"Content-Type": "multipart/form-data"})
    c.check(st == 400 and b"boundary" in b, "no boundary → 400 saying so", (st, b[:200]))

    print("405 Allow")
    st, h, b = s.request("DELETE", "/health")
    c.check(st == 405 and h.get("allow") == "GET, HEAD", "DELETE /health → 405 Allow: GET, HEAD", (st, h.get("allow")))
    st, h, b = s.request("GET", UPLOAD)
    c.check(st == 405 and h.get("allow") == "POST", "GET on the upload route → 405 Allow: POST", (st, h.get("allow")))

    print("names and messages")
    st, h, b = s.upload(file_bytes=tiny_wav(), filename="reunião_café", fields=FAST)
    c.check(st == 200 and "reunião_café (".encode() in b, "a name ending in é keeps it (reunião_café)",
            (st, b[:600]))
    ct, body = multipart(FAST, file_bytes=tiny_wav(), filename="a.wav")
    body = body.replace(b'name="file"', b'name="audio"')
    st, h, b = s.request("POST", UPLOAD, body=body, headers={"Content-Type": ct})
    msg = json.loads(b)["error"]["message"] if error_code(b) else ""
    c.check(st == 400 and "`audio`" in msg and "`file`" in msg,
            "a file under the field `audio` → 400 saying the file goes in `file`", (st, b[:200]))
    st, h, b = s.upload(file_bytes=tiny_wav(rate=0), filename="z.wav", fields=FAST)
    c.check(st == 415 and b"sample rate" in b, "a zero-sample-rate WAV → 415 giving the reason", (st, b[:200]))

    m = s.metrics()
    # 501 is the one 5xx a client can cause, by design (RFC 9112 §6.1: unknown coding)
    five = sum(v for k, v in m.items() if k.startswith("mdconv_http_requests_total")
               and 'code="5' in k and 'code="501"' not in k)
    c.check(five == 0, "no 5xx answered other than the 501s (mdconv_http_requests_total)", five)

with Server() as s:
    print("70 MB title (MAX_UPLOAD_MB=200)")
    boundary = "----mdcBigTitle"
    head = ('--%s\r\nContent-Disposition: form-data; name="title"\r\n\r\n' % boundary).encode()
    tail = ('\r\n--%s\r\nContent-Disposition: form-data; name="file"; filename="a.wav"\r\n\r\n' % boundary).encode() \
        + tiny_wav() + ("\r\n--%s--\r\n" % boundary).encode()
    n = 70 * 1024 * 1024
    sock = socket.create_connection(("127.0.0.1", s.port), timeout=30)
    sock.sendall(post_head("multipart/form-data; boundary=" + boundary,
                           "Content-Length: %d\r\n" % (len(head) + n + len(tail))) + head)
    block = b"t" * (1024 * 1024)
    try:
        for _ in range(70):
            sock.sendall(block)
        sock.sendall(tail)
        st, h, b = read_answer(sock, 30)
    except (BrokenPipeError, ConnectionResetError) as e:
        st, b = 0, repr(e).encode()
    sock.close()
    c.check(st == 400 and error_code(b) == "field_too_long" and b"`title`" in b,
            "a 70 MB title → 400 field_too_long naming `title`, not a reset", (st, b[:200]))
    print("half-close")
    # a recording long enough for several disconnect polls (every 200 ms) while it runs
    ct, body = multipart(FAST, os.path.join(FIXTURES, "edge_35s_word_across_30s.wav"))
    for conn in ("", "Connection: close\r\n"):
        t0 = time.monotonic()
        sock = socket.create_connection(("127.0.0.1", s.port), timeout=10)
        req = ("POST %s HTTP/1.1\r\nHost: x\r\n%sContent-Type: %s\r\nContent-Length: %d\r\n\r\n"
               % (UPLOAD, conn, ct, len(body))).encode() + body
        sock.sendall(req)
        sock.shutdown(socket.SHUT_WR)
        st, h, b = read_answer(sock)
        sock.close()
        c.check(st == 200 and b.startswith("# ".encode()),
                "shutdown(SHUT_WR) after a complete request%s → 200 report after %.1f s, not 499"
                % (" (Connection: close)" if conn else "", time.monotonic() - t0), (st, b[:200]))

    c.check(s.tmp_leftovers() == [], "no temp file left", s.tmp_leftovers())
c.finish()
