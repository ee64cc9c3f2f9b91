"""The upload spool directory (issue 8 items 3 and 7, "what must show" 3):
1. kill -9 while uploads are being spooled leaves their mdc-upload-* files; the next
   start removes them (and only them: a file held by a live process stays);
2. a TMPDIR that is missing but can be created is created; one that cannot be created
   or is not a directory passes start-up but /ready is 503 naming the reason (not the
   path), and an upload gets 503 storage_unavailable, not 500.
"""
import fcntl
import os
import shutil
import signal
import socket
import sys
import tempfile
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mdc_testserver import (FAST, SHORT_CLIP, Checks, Server, check_no_5xx,  # noqa: E402
                            error_code, require_binary)

require_binary()
c = Checks("test_tmpdir")
HEAD = ("POST /v1/audio/transcriptions HTTP/1.1\r\nHost: x\r\n"
        "Content-Type: multipart/form-data; boundary=XyZ\r\nContent-Length: %d\r\n\r\n")
PART = (b'--XyZ\r\nContent-Disposition: form-data; name="file"; filename="a.wav"\r\n'
        b"Content-Type: audio/wav\r\n\r\n")

scratch = tempfile.mkdtemp(prefix="mdc-tmpdir-test-")
try:
    spool = os.path.join(scratch, "spool")
    os.mkdir(spool)
    print("1. kill -9 during uploads, then restart")
    s1 = Server(env={"TMPDIR": spool}, name="first")
    socks = []
    for _ in range(3):
        s = socket.create_connection(("127.0.0.1", s1.port))
        s.sendall((HEAD % (10 << 20)).encode() + PART + b"\1" * 200000)
        socks.append(s)
    deadline = time.monotonic() + 5
    while len([f for f in os.listdir(spool) if f.startswith("mdc-upload-")]) < 3 and \
            time.monotonic() < deadline:
        time.sleep(0.02)
    left = [f for f in os.listdir(spool) if f.startswith("mdc-upload-")]
    c.check(len(left) == 3, "3 uploads are being spooled", left)
    s1.proc.send_signal(signal.SIGKILL)
    s1.proc.wait()
    for s in socks:
        s.close()
    s1.stop()
    left = [f for f in os.listdir(spool) if f.startswith("mdc-upload-")]
    c.check(len(left) == 3, "after kill -9 their files are still there", left)
    # a spool file of another live instance sharing TMPDIR: locked, must survive
    live = os.path.join(spool, "mdc-upload-LIVE01")
    lf = open(live, "wb")
    fcntl.flock(lf, fcntl.LOCK_EX)
    os.utime(live, (time.time() - 3600, time.time() - 3600))
    time.sleep(0.05)
    with Server(env={"TMPDIR": spool}, name="restarted") as s2:
        left = sorted(f for f in os.listdir(spool) if f.startswith("mdc-upload-"))
        c.check(left == ["mdc-upload-LIVE01"], "the restart removed the dead process's leftovers "
                "and kept the live one's", left)
        c.check("removed 3 leftover" in s2.logtext(), "the log says how many it removed")
        st, _, _ = s2.upload(SHORT_CLIP, FAST)
        c.check(st == 200, "uploads work after the sweep")
        check_no_5xx(c, s2)
    lf.close()
    os.unlink(live)

    print("2. a missing TMPDIR is created")
    created = os.path.join(scratch, "new-spool")
    with Server(env={"TMPDIR": created}, name="created") as s3:
        c.check(os.path.isdir(created) and (os.stat(created).st_mode & 0o777) == 0o700,
                "created with mode 0700")
        st, _ = s3.get_json("/ready")
        c.check(st == 200, "/ready 200")
        st, _, _ = s3.upload(SHORT_CLIP, FAST)
        c.check(st == 200, "an upload is stored and served")

    print("3. an unusable TMPDIR: start-up goes on, /ready says why, uploads get 503")
    notdir = os.path.join(scratch, "a-file")
    open(notdir, "w").close()
    for name, path in (("cannot be created", os.path.join(scratch, "no", "such", "dir")),
                       ("not a directory", notdir)):
        with Server(env={"TMPDIR": path}, name=name) as s4:
            st, j = s4.get_json("/ready")
            c.check(st == 503 and j and "TMPDIR" in j.get("uploads", ""),
                    "%s: /ready 503 naming TMPDIR" % name, (st, j))
            c.check(path not in str(j), "%s: /ready does not show the path" % name)
            st, _, body = s4.upload(SHORT_CLIP, FAST)
            c.check(st == 503 and error_code(body) == "storage_unavailable",
                    "%s: an upload gets 503 storage_unavailable (not 500)" % name, (st, body[:200]))
            st, _ = s4.get_json("/health")
            c.check(st == 200, "%s: /health is still 200 (alive, not ready)" % name)
            check_no_5xx(c, s4, allow={503: 2})
finally:
    shutil.rmtree(scratch, ignore_errors=True)
c.finish()
