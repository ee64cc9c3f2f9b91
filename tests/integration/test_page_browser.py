"""The web page in a real browser: Debian's Chromium driven by playwright-core (npm,
tests/browser/) against real servers on loopback — upload → live text → report →
download; a text file → a clear error in the page's language; a job lost mid-way (the
server is SIGKILLed and restarted on the same port, so the job 404s) → an error, not a
spinner, and so does one whose server stays down; 390 px without sideways scroll; REPORT_LOCALE=en → English page and report;
API key asked only when needed; with two servers on one Redis (a real redis-server) behind
a switching proxy, the page survives its event stream being re-routed to the other
replica mid-job, and a job deleted under it ends in an error, not a spinner.  The checks are in tests/browser/page_test.mjs; this
runner starts the servers and restarts the one the browser kills.  Screenshots and the
downloaded report: build/test-artifacts/page/.  Skips (77) only when chromium is absent.
"""
import json
import os
import shutil
import subprocess
import sys
import threading
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mdc_testserver import BUILD, FIXTURES, ROOT, RedisServer, Server, free_port, require_binary  # noqa: E402
import signal  # noqa: E402
import socket  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
BROWSER_DIR = os.path.join(ROOT, "tests", "browser")
ARTIFACTS = os.path.join(BUILD, "test-artifacts", "page")

require_binary()
if not os.access(CHROMIUM, os.X_OK):
    print("chromium not installed at %s (scripts/install-deps.sh installs it)" % CHROMIUM)
    sys.exit(77)
node = shutil.which("node")
if not node:
    print("node not found: scripts/install-deps.sh installs nodejs")
    sys.exit(1)
if not os.path.isdir(os.path.join(BROWSER_DIR, "node_modules", "playwright-core")):
    print("tests/browser/node_modules missing: run scripts/install-deps.sh (npm ci in tests/browser)")
    sys.exit(1)

KEY = "page-test-key"
FAST_LOAD = {"WHISPER_PRELOAD": "true"}  # the model is mapped before the browser asks


def restart_on_death(srv, stop):
    """The browser SIGKILLs `srv`; start a fresh one on the same port so the page's
    reconnect finds a server that does not know the job (404)."""
    while not stop.is_set():
        if srv["s"].proc.poll() is not None:
            port = srv["s"].port
            srv["dead"].append(srv["s"])
            s = Server(env={"PORT": str(port)}, wait=False, name="lost-restarted")
            s.port = port
            s.wait_healthy()
            srv["s"] = s
            return
        time.sleep(0.02)


class SwitchProxy:
    """A loopback TCP proxy in front of one replica; switch() points it at the other and
    cuts every open connection (as a load balancer moving clients between pods)."""

    def __init__(self, port):
        self.backend, self.pairs, self.lock = port, [], threading.Lock()
        self.ls = socket.socket()
        self.ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.ls.bind(("127.0.0.1", free_port()))
        self.ls.listen(64)
        self.port = self.ls.getsockname()[1]
        self.switches = 0
        threading.Thread(target=self.accept, daemon=True).start()

    def accept(self):
        while True:
            try:
                c, _ = self.ls.accept()
            except OSError:
                return
            try:
                b = socket.create_connection(("127.0.0.1", self.backend), timeout=5)
            except OSError:
                c.close()
                continue
            b.settimeout(None)
            with self.lock:
                self.pairs.append((c, b))
            for x, y in ((c, b), (b, c)):
                threading.Thread(target=self.pump, args=(x, y), daemon=True).start()

    @staticmethod
    def pump(src, dst):
        try:
            while True:
                d = src.recv(65536)
                if not d:
                    break
                dst.sendall(d)
        except OSError:
            pass
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def switch(self, port):
        with self.lock:
            self.backend = port
            pairs, self.pairs = self.pairs, []
            self.switches += 1
        for c, b in pairs:
            for s in (c, b):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def close(self):
        self.ls.close()


rs = RedisServer()
ra = Server(env={"JOBS_REDIS_URL": rs.url, "MDC_TEST_LOAD_DELAY_MS": "4000"}, name="replica-a")
rb = Server(env={"JOBS_REDIS_URL": rs.url, "JOBS_ROLE": "api"}, name="replica-b")
proxy = SwitchProxy(ra.port)
# the page's script asks for the switch with SIGUSR1 to this runner (its parent)
signal.signal(signal.SIGUSR1, lambda *a: proxy.switch(rb.port))

with Server(env=FAST_LOAD) as pt, \
        Server(env=dict(FAST_LOAD, REPORT_LOCALE="en", API_KEY=KEY)) as en, \
        Server(env={"MDC_TEST_LOAD_DELAY_MS": "20000"}) as lost, \
        Server(env={"MDC_TEST_LOAD_DELAY_MS": "20000"}) as gone:
    state = {"s": lost, "dead": []}
    stop = threading.Event()
    watcher = threading.Thread(target=restart_on_death, args=(state, stop), daemon=True)
    watcher.start()
    arg = {
        "pt": "http://127.0.0.1:%d" % pt.port,
        "en": "http://127.0.0.1:%d" % en.port,
        "key": KEY,
        "lost": {"url": "http://127.0.0.1:%d" % lost.port, "pid": lost.proc.pid},
        "gone": {"url": "http://127.0.0.1:%d" % gone.port, "pid": gone.proc.pid},
        "fixtures": FIXTURES,
        "artifacts": ARTIFACTS,
        "scale": {"url": "http://127.0.0.1:%d" % proxy.port,
                  "a": "http://127.0.0.1:%d" % ra.port, "b": "http://127.0.0.1:%d" % rb.port},
    }
    t0 = time.monotonic()
    rc = subprocess.call([node, os.path.join(BROWSER_DIR, "page_test.mjs"), json.dumps(arg)],
                         cwd=BROWSER_DIR, timeout=300)
    stop.set()
    watcher.join(timeout=20)
    if state["s"] is not lost:
        state["s"].stop()
    print("browser run: %.1f s; artefacts in %s" % (time.monotonic() - t0, ARTIFACTS))
proxy.close()
for srv in (ra, rb):
    srv.stop()
rs.stop()
sys.exit(rc)
