#!/usr/bin/env bash
# Start-up and memory figures of `md-converter serve` (issue 4, item 5).  Prints:
#   - exec → first 200 on /health: median (and min/max) of 20 starts, ms
#   - idle RSS after start-up (nothing loaded), MB
#   - RSS after the model is loaded (tiny-dims) and after one transcription, MB
#   - first vs second transcription time (short clip; the first includes the load)
# Targets: < 50 ms to healthy, < 15 MB idle RSS.
# Usage: tests/perf/startup.sh   (binary from $MDC_BUILD_DIR or build/; STARTS=20)
set -euo pipefail
cd "$(dirname "$0")/../.."
export MDC_BUILD_DIR=${MDC_BUILD_DIR:-$(pwd)/build}
export MDC_MODELS_DIR=${MDC_MODELS_DIR:-$(pwd)/build/models}
export STARTS=${STARTS:-20}
[ -x "$MDC_BUILD_DIR/md-converter" ] || { echo "build first: $MDC_BUILD_DIR/md-converter missing"; exit 1; }
[ -f "$MDC_MODELS_DIR/ggml-tiny-dims-random.bin" ] || tests/data/make-models.sh >/dev/null

exec /usr/bin/python3 - <<'EOF'
import os, socket, statistics, subprocess, sys, tempfile, time
sys.dont_write_bytecode = True
sys.path.insert(0, "tests/integration")
from mdc_testserver import BIN, MICRO, SHORT_CLIP, Server, free_port

TINY = os.path.join(os.environ["MDC_MODELS_DIR"], "ggml-tiny-dims-random.bin")
N = int(os.environ.get("STARTS", "20"))

def time_to_healthy():
    port = free_port()
    env = {"PATH": "/usr/bin:/bin", "HOST": "127.0.0.1", "PORT": str(port), "WHISPER_MODEL": MICRO}
    wd = tempfile.mkdtemp(prefix="mdc-perf-")
    req = b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    t0 = time.perf_counter()
    p = subprocess.Popen([BIN, "serve"], env=env, cwd=wd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while time.perf_counter() - t0 < 10:
            try:
                s = socket.create_connection(("127.0.0.1", port), timeout=1)
            except OSError:
                time.sleep(0.0005)
                continue
            s.sendall(req)
            data = s.recv(64)
            s.close()
            if data.startswith(b"HTTP/1.1 200"):
                ms = (time.perf_counter() - t0) * 1000
                rss = 0
                with open("/proc/%d/status" % p.pid) as f:
                    for line in f:
                        if line.startswith("VmRSS:"):
                            rss = int(line.split()[1]) * 1024
                return ms, rss
        raise RuntimeError("not healthy within 10 s")
    finally:
        p.terminate()
        p.wait(timeout=10)
        os.rmdir(wd) if not os.listdir(wd) else None

times, rsses = [], []
for _ in range(N):
    ms, rss = time_to_healthy()
    times.append(ms)
    rsses.append(rss)
print("exec -> first 200 on /health: median %.1f ms (min %.1f, max %.1f, %d starts)  [target < 50 ms]"
      % (statistics.median(times), min(times), max(times), N))

with Server(env={"WHISPER_MODEL": TINY, "WHISPER_THREADS": os.environ.get("WHISPER_THREADS", "2")}) as s:
    time.sleep(0.5)
    idle = s.rss()
    print("idle RSS after start-up (nothing loaded): %.1f MB  [target < 15 MB]" % (idle / 2**20))
    fields = {"language": "pt", "no_fallback": "true"}
    t0 = time.perf_counter()
    st, _, _ = s.upload(SHORT_CLIP, fields)
    first = time.perf_counter() - t0
    loaded = s.rss()
    t0 = time.perf_counter()
    st2, _, _ = s.upload(SHORT_CLIP, fields)
    second = time.perf_counter() - t0
    m = s.metrics()
    after = s.rss()
    print("RSS with tiny-dims loaded, after the first transcription: %.1f MB (%.1f MB after the second)"
          % (loaded / 2**20, after / 2**20))
    print("first transcription (includes the lazy load): %.3f s (HTTP %d); second: %.3f s (HTTP %d)"
          % (first, st, second, st2))
    for line in s.logtext().splitlines():
        if "Lazy Loading" in line and "ready in" in line:
            print("log: " + line.split("INFO", 1)[-1].strip())
EOF
