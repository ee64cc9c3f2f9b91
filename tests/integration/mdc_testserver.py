"""Helpers for the integration tests: start the real `md-converter serve` on a free
loopback port with a clean environment, talk HTTP to it (stdlib only), parse /metrics,
build multipart bodies, read the process RSS, and collect check results.

Every server is stopped (SIGTERM, then SIGKILL) by Server.stop(), which the `with`
form calls even when a test raises.
"""
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.environ.get("MDC_BUILD_DIR") or os.path.join(ROOT, "build")
BIN = os.path.join(BUILD, "md-converter")
SHARED = os.environ.get("MDC_SHARED_DIR") or os.path.join(os.path.dirname(ROOT), "shared")
MICRO = os.path.join(SHARED, "whisper-ref", "models", "ggml-micro-random.bin")
FIXTURES = os.path.join(SHARED, "fixtures", "audio")
SHORT_CLIP = os.path.join(FIXTURES, "edge_speech_0.5s.wav")
# ~5 min of audio: a transcription that runs for seconds with the micro model (tests that
# act while one is running)
LONG_CLIP = os.path.join(FIXTURES, "edge_5min_two_utterances.flac")
# Fields that keep a micro-model transcription short: the clip is too short for
# language detection, and random weights would otherwise walk every fallback temperature.
FAST = {"language": "pt", "no_fallback": "true"}
LONG_CLIP = os.path.join(FIXTURES, "edge_5min_two_utterances.flac")  # ~5 s on the micro model


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Checks:
    """Collects named pass/fail results and prints a summary."""

    def __init__(self, name):
        self.name = name
        self.failed = []
        self.passed = 0

    def check(self, cond, what, detail=""):
        if cond:
            self.passed += 1
            print("  ok   %s" % what, flush=True)
        else:
            self.failed.append(what)
            print("  FAIL %s %s" % (what, detail), flush=True)
        return cond

    def finish(self):
        print("\n%s: %d checks passed, %d failed" % (self.name, self.passed, len(self.failed)))
        for f in self.failed:
            print("  failed: " + f)
        sys.exit(1 if self.failed else 0)


def multipart(fields, file_path=None, file_bytes=None, filename=None, file_field="file"):
    """Returns (content_type, body) for a multipart/form-data request."""
    boundary = "----mdcTest" + uuid.uuid4().hex
    parts = []
    for k, v in fields.items():
        values = v if isinstance(v, list) else [v]
        for val in values:
            parts.append(b"--" + boundary.encode() + b"\r\n")
            parts.append(('Content-Disposition: form-data; name="%s"\r\n\r\n' % k).encode())
            parts.append(val.encode() if isinstance(val, str) else val)
            parts.append(b"\r\n")
    if file_path is not None or file_bytes is not None:
        if file_bytes is None:
            with open(file_path, "rb") as f:
                file_bytes = f.read()
        if filename is None:
            filename = os.path.basename(file_path) if file_path else "upload.bin"
        parts.append(b"--" + boundary.encode() + b"\r\n")
        parts.append(('Content-Disposition: form-data; name="%s"; filename="%s"\r\n'
                      % (file_field, filename)).encode())
        parts.append(b"Content-Type: application/octet-stream\r\n\r\n")
        parts.append(file_bytes)
        parts.append(b"\r\n")
    parts.append(b"--" + boundary.encode() + b"--\r\n")
    return "multipart/form-data; boundary=" + boundary, b"".join(parts)


def tiny_wav(ms=20, rate=16000):
    """Bytes of a mono 16-bit PCM WAV holding ms milliseconds of a constant tiny signal at
    16 kHz, its header stating `rate` Hz (rate=0: the zero-sample-rate WAV)."""
    import io
    import wave
    b = io.BytesIO()
    w = wave.open(b, "wb")
    w.setnchannels(1)
    w.setsampwidth(2)
    w.setframerate(16000)
    w.writeframes(b"\x01\x00" * (16 * ms))
    w.close()
    d = bytearray(b.getvalue())
    d[24:28] = rate.to_bytes(4, "little")
    return bytes(d)


def start_raw_upload(port, clip, fields):
    """Sends a whole multipart upload of `clip` to /relatorio/process-meeting on a raw
    socket and returns the socket with the answer unread (the request keeps a worker busy
    until it is read or the socket is closed, which cancels it)."""
    ct, body = multipart(fields, clip)
    s = socket.create_connection(("127.0.0.1", port), timeout=30)
    s.sendall(("POST /relatorio/process-meeting HTTP/1.1\r\nHost: x\r\nContent-Type: %s\r\n"
               "Content-Length: %d\r\n\r\n" % (ct, len(body))).encode() + body)
    return s


def probe_health(host, port, timeout=10):
    """One GET /health on a new connection, as a liveness probe does.
    Returns (milliseconds, True if the answer was 200); raises OSError (a timeout
    included) when the connection fails."""
    t = time.perf_counter()
    s = socket.create_connection((host, port), timeout=timeout)
    s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    data = b""
    while True:
        d = s.recv(4096)
        if not d:
            break
        data += d
    s.close()
    return (time.perf_counter() - t) * 1000, data.startswith(b"HTTP/1.1 200")


def wait_for(pred, timeout, step=0.02):
    """Polls pred() until it returns something true or timeout seconds pass; returns
    its last value."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(step)
    return pred()


def percentile(xs, p):
    """Nearest-rank p-th percentile (0-100) of a non-empty list."""
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100.0 * (len(xs) - 1))))]


def parse_metrics(text):
    """{'name{labels}': value} for every sample line."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        key, _, val = line.rpartition(" ")
        try:
            out[key] = float(val)
        except ValueError:
            pass
    return out


def metric(m, name, **labels):
    """Value of one series (labels in any order), or the sum over series when labels
    are not given and the family has labels; None when absent."""
    total, found = 0.0, False
    for key, val in m.items():
        base, _, rest = key.partition("{")
        if base != name:
            continue
        lab = {}
        for item in rest.rstrip("}").split(","):
            if "=" in item:
                k, _, v = item.partition("=")
                lab[k] = v.strip('"')
        if all(lab.get(k) == v for k, v in labels.items()):
            total += val
            found = True
    return total if found else None


class Server:
    """The real binary on 127.0.0.1:<free port>, environment otherwise clean."""

    def __init__(self, env=None, wait=True, name="server"):
        self.port = free_port()
        self.workdir = tempfile.mkdtemp(prefix="mdc-it-")
        self.tmpdir = os.path.join(self.workdir, "tmp")  # TMPDIR: where uploads spool
        os.mkdir(self.tmpdir)
        self.logpath = os.path.join(self.workdir, "server.log")
        e = {
            "PATH": "/usr/bin:/bin",
            "HOST": "127.0.0.1",
            "PORT": str(self.port),
            "WHISPER_MODEL": MICRO,
            "WHISPER_THREADS": "1",
            "TMPDIR": self.tmpdir,
        }
        for k in ("ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS", "TSAN_OPTIONS"):
            if k in os.environ:  # sanitizer runs (tests/sanitize.sh) pass these through
                e[k] = os.environ[k]
        e.update(env or {})
        self.env = e
        self.name = name
        self.log = open(self.logpath, "wb")
        self.t_spawn = time.monotonic()
        self.proc = subprocess.Popen([BIN, "serve"], env=e, cwd=self.workdir,
                                     stdout=self.log, stderr=subprocess.STDOUT)
        self.t_healthy = None
        if wait:
            self.wait_healthy()

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.stop()

    def wait_healthy(self, timeout=15.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("server exited with %s:\n%s" % (self.proc.returncode, self.logtext()))
            try:
                st, _, _ = self.request("GET", "/health", timeout=1)
                if st == 200:
                    self.t_healthy = time.monotonic()
                    return self.t_healthy - self.t_spawn
            except OSError:
                pass
            time.sleep(0.005)
        raise RuntimeError("server not healthy after %.0f s:\n%s" % (timeout, self.logtext()))

    def request(self, method, path, body=None, headers=None, timeout=300):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            c.request(method, path, body=body, headers=headers or {})
            r = c.getresponse()
            data = r.read()
            return r.status, {k.lower(): v for k, v in r.getheaders()}, data
        finally:
            c.close()

    def get_json(self, path, headers=None):
        st, h, body = self.request("GET", path, headers=headers)
        return st, json.loads(body) if body else None

    def metrics(self):
        key = self.env.get("API_KEY")
        st, _, body = self.request("GET", "/metrics",
                                   headers={"Authorization": "Bearer " + key} if key else None)
        if st != 200:
            raise RuntimeError("/metrics answered %d" % st)
        return parse_metrics(body.decode())

    def upload(self, path=None, fields=None, endpoint="/relatorio/process-meeting",
               file_bytes=None, filename=None, headers=None, timeout=600):
        ct, body = multipart(fields or {}, path, file_bytes, filename)
        h = {"Content-Type": ct}
        h.update(headers or {})
        return self.request("POST", endpoint, body=body, headers=h, timeout=timeout)

    def rss(self):
        with open("/proc/%d/status" % self.proc.pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
        return 0

    def tmp_leftovers(self):
        return sorted(os.listdir(self.tmpdir))

    def logtext(self):
        self.log.flush()
        with open(self.logpath, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        self.log.close()
        shutil.rmtree(self.workdir, ignore_errors=True)


def server_errors(m):
    """{status: count} of the 5xx answers in a parsed /metrics (mdconv_http_requests_total)."""
    out = {}
    for key, val in m.items():
        base, _, rest = key.partition("{")
        if base != "mdconv_http_requests_total" or val <= 0:
            continue
        for item in rest.rstrip("}").split(","):
            k, _, v = item.partition("=")
            if k == "code" and v.strip('"').startswith("5"):
                code = int(v.strip('"'))
                out[code] = out.get(code, 0) + int(val)
    return out


def check_no_5xx(checks, server, allow=None):
    """Teardown check ("what must show" 6 of issue 8): the server answered no 5xx to
    client input.  `allow` = {status: count} the test provoked on purpose (a model made
    unavailable, a full queue); anything else, or more of them, fails."""
    allow = allow or {}
    got = server_errors(server.metrics())
    extra = {k: v for k, v in got.items() if v > allow.get(k, 0)}
    checks.check(not extra, "%s: no 5xx answered beyond the provoked ones" % server.name,
                 "5xx counts %r, allowed %r" % (got, allow))


def error_code(body):
    """The JSON error code of a body, or None when it is not our error shape."""
    try:
        j = json.loads(body)
        return j["error"]["code"] if isinstance(j["error"]["message"], str) else None
    except (ValueError, KeyError, TypeError):
        return None


def require_binary():
    if not os.access(BIN, os.X_OK):
        print("md-converter binary not built at %s" % BIN)
        sys.exit(1)
    if not os.path.exists(MICRO):
        print("micro model missing at %s" % MICRO)
        sys.exit(77)


class RedisServer:
    """A real redis-server (Debian's) on 127.0.0.1:<free port>, nothing persisted
    (--save '' --appendonly no), in its own temp dir.  restart() keeps the port."""

    def __init__(self):
        if not shutil.which("redis-server"):
            raise RuntimeError("redis-server is missing: run scripts/install-deps.sh")
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix="mdc-redis-")
        self.proc = None
        self.start()

    @property
    def url(self):
        return "redis://127.0.0.1:%d/0" % self.port

    def start(self):
        self.log = open(os.path.join(self.dir, "redis.log"), "ab")
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", self.dir, "--protected-mode", "no"],
            stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                if self.command("PING") == "PONG":
                    return
            except OSError:
                time.sleep(0.02)
        raise RuntimeError("redis-server did not answer PING")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
        self.log.close()

    def restart(self, down_s=0.0):
        self.stop()
        time.sleep(down_s)
        self.start()

    def command(self, *args):
        """One command over RESP; returns a str, int, list or None (errors raise)."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=5) as s:
            out = b"*%d\r\n" % len(args)
            for a in args:
                a = a if isinstance(a, bytes) else str(a).encode()
                out += b"$%d\r\n%s\r\n" % (len(a), a)
            s.sendall(out)
            f = s.makefile("rb")
            return _resp(f)

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


def _resp(f):
    line = f.readline().rstrip(b"\r\n")
    t, rest = line[:1], line[1:]
    if t == b"+":
        return rest.decode()
    if t == b"-":
        raise RuntimeError(rest.decode())
    if t == b":":
        return int(rest)
    if t == b"$":
        n = int(rest)
        if n < 0:
            return None
        data = f.read(n + 2)[:-2]
        return data.decode("utf-8", "replace")
    if t == b"*":
        n = int(rest)
        return None if n < 0 else [_resp(f) for _ in range(n)]
    raise RuntimeError("bad RESP reply %r" % line)


# ---- jobs (test_jobs_api.py, test_jobs_redis.py, tests/perf/jobs_scaleout.py) ----------


def submit(s, clip=SHORT_CLIP):
    st, h, body = s.upload(clip, FAST, endpoint="/jobs")
    return st, (json.loads(body).get("id") if st == 202 else None), body


def wait_status(s, jid, want, timeout=60):
    deadline = time.monotonic() + timeout
    js = {}
    while time.monotonic() < deadline:
        st, js = s.get_json("/jobs/" + jid)
        if st == 200 and want(js):
            return js
        time.sleep(0.05)
    return js


def sse_events(port, path, timeout=120):
    """GET an SSE stream and read it to its end (or `timeout` seconds).
    Returns (status, content_type, [(event, data_dict_or_None)])."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    conn.request("GET", path)
    r = conn.getresponse()
    ctype = r.getheader("Content-Type", "")
    events, ev, data = [], None, []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = r.readline()
        if not line:
            break
        line = line.decode().rstrip("\r\n")
        if line.startswith("event:"):
            ev = line[6:].strip()
        elif line.startswith("data:"):
            data.append(line[5:].strip())
        elif line == "":
            if ev or data:
                events.append((ev, json.loads("\n".join(data)) if data else None))
            ev, data = None, []
    conn.close()
    return r.status, ctype, events


class Follower(threading.Thread):
    """Reads a job's event stream to its end in the background."""

    def __init__(self, port, jid):
        super().__init__(daemon=True)
        self.port, self.jid, self.events, self.ended_at = port, jid, [], None
        self.start()

    def run(self):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        conn.request("GET", "/jobs/%s/events" % self.jid)
        r = conn.getresponse()
        ev = None
        for raw in r:
            line = raw.decode().rstrip("\r\n")
            if line.startswith("event:"):
                ev = line[6:].strip()
            elif line.startswith("data:"):
                self.events.append((ev, json.loads(line[5:])))
        self.ended_at = time.monotonic()
        conn.close()
