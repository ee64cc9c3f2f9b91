#!/usr/bin/env python3
"""Two `md-converter serve` processes on one model file: the weights are a read-only
shared file mapping (MAP_SHARED, PROT_READ), so the page cache holds them once and each
process is charged half (PSS) — the "model cache shared between instances".

Starts server A (WHISPER_PRELOAD=true, then one transcription so every weight page is
touched), reads the model mapping's Rss/Pss from /proc/PID/smaps and the totals from
/proc/PID/smaps_rollup; starts server B on the same file and reads both again.

usage: tests/perf/pss_shared.py [MODEL]   (default build/models/ggml-base-dims-random.bin)
Prints figures in MiB; no pass/fail (a benchmark script, not a test).
"""
import os
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
from mdc_testserver import FAST, SHORT_CLIP, Server  # noqa: E402

MODEL = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "build/models/ggml-base-dims-random.bin")


def mapping_kb(pid, path):
    """(Rss, Pss, Shared_Clean) in kB of the mappings of `path` in pid."""
    rss = pss = shared = 0
    cur = False
    with open("/proc/%d/smaps" % pid) as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 6 and "-" in parts[0] and ":" not in parts[0]:
                cur = parts[-1] == path
            elif cur and parts[0] == "Rss:":
                rss += int(parts[1])
            elif cur and parts[0] == "Pss:":
                pss += int(parts[1])
            elif cur and parts[0] == "Shared_Clean:":
                shared += int(parts[1])
    return rss, pss, shared


def rollup_kb(pid):
    out = {}
    with open("/proc/%d/smaps_rollup" % pid) as f:
        for line in f:
            p = line.split()
            if p[0] in ("Rss:", "Pss:", "Pss_File:", "Pss_Anon:"):
                out[p[0][:-1]] = int(p[1])
    return out


def show(name, pid):
    rss, pss, shared = mapping_kb(pid, MODEL)
    r = rollup_kb(pid)
    print("  %s: model mapping Rss %.1f MiB, Pss %.1f MiB, Shared_Clean %.1f MiB | process Rss %.1f "
          "MiB, Pss %.1f MiB (file %.1f, anon %.1f)" %
          (name, rss / 1024, pss / 1024, shared / 1024, r.get("Rss", 0) / 1024, r.get("Pss", 0) / 1024,
           r.get("Pss_File", 0) / 1024, r.get("Pss_Anon", 0) / 1024))
    return pss


env = {"WHISPER_MODEL": MODEL, "WHISPER_PRELOAD": "true", "WHISPER_THREADS": "1"}
print("model %s (%.1f MiB)" % (MODEL, os.path.getsize(MODEL) / 2**20))
with Server(env=env, name="A") as a:
    assert a.upload(SHORT_CLIP, FAST)[0] == 200
    print("one server:")
    pa1 = show("A", a.proc.pid)
    with Server(env=env, name="B") as b:
        assert b.upload(SHORT_CLIP, FAST)[0] == 200
        print("two servers on the same file:")
        pa2 = show("A", a.proc.pid)
        pb2 = show("B", b.proc.pid)
        print("  model Pss A alone %.1f MiB -> A + B together %.1f MiB (ratio %.2f): the pages are "
              "shared, not copied" % (pa1 / 1024, (pa2 + pb2) / 1024, (pa2 + pb2) / max(pa1, 1)))
