"""The engine owns the compute threads (issue 11): serve starts one pool per concurrent
transcription (MAX_CONCURRENT_TRANSCRIPTIONS) of WHISPER_THREADS threads each, once, at
start-up, and logs the split; WHISPER_THREADS=0 is each transcription's share of the
cores; settings that oversubscribe the cores are refused unless
WHISPER_ALLOW_OVERSUBSCRIBE=true.  Under load (two concurrent transcriptions) the process
never runs more compute threads than that, no request starts a thread of its own (the mel
included), and the compute threads' ids are the same before, during and after requests.
"""
import os
import re
import subprocess
import sys
import threading
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mdc_testserver import (BIN, FAST, FIXTURES, MICRO, SHORT_CLIP, Checks, Server,  # noqa: E402
                            require_binary)

require_binary()
c = Checks("test_engine_threads")
CORES = len(os.sched_getaffinity(0))
CLIP = os.path.join(FIXTURES, "edge_35s_word_across_30s.wav")  # 2 windows: mel, encoder, decoder


def tasks(pid):
    """{tid: comm} of every thread of pid."""
    out = {}
    for t in os.listdir("/proc/%d/task" % pid):
        try:
            with open("/proc/%d/task/%s/comm" % (pid, t)) as f:
                out[int(t)] = f.read().strip()
        except OSError:
            pass  # the thread ended between listdir and open
    return out


def compute(ts):
    return {t for t, n in ts.items() if n == "mdc-compute"}


print("refused: oversubscribing settings")
env = {"PATH": "/usr/bin:/bin", "MAX_CONCURRENT_TRANSCRIPTIONS": "2", "WHISPER_THREADS": str(CORES),
       "PORT": "0", "WHISPER_MODEL": MICRO}
p = subprocess.run([BIN, "serve"], env=env, capture_output=True, text=True, timeout=30)
c.check(p.returncode != 0 and "WHISPER_ALLOW_OVERSUBSCRIBE=true" in p.stderr + p.stdout
        and "MAX_CONCURRENT_TRANSCRIPTIONS=2" in p.stderr + p.stdout,
        "WHISPER_THREADS=%d x 2 on %d cores: serve exits naming the settings" % (CORES, CORES),
        (p.returncode, (p.stderr + p.stdout)[-400:]))

for threads, extra in (("0", {}), ("2", {"WHISPER_ALLOW_OVERSUBSCRIBE": "true"})):
    per = int(threads) or max(1, CORES // 2)
    print("MAX_CONCURRENT_TRANSCRIPTIONS=2, WHISPER_THREADS=%s%s → %d per transcription" %
          (threads, " (oversubscribe allowed)" if extra else "", per))
    env = {"MAX_CONCURRENT_TRANSCRIPTIONS": "2", "WHISPER_THREADS": threads}
    env.update(extra)
    with Server(env=env) as s:
        log = s.logtext()
        m = re.search(r"engine: (\d+) cores available; MAX_CONCURRENT_TRANSCRIPTIONS=2 x "
                      r"WHISPER_THREADS=(\d+) = (\d+) compute threads", log)
        c.check(m is not None and int(m.group(2)) == per and int(m.group(3)) == 2 * per,
                "the split is logged at start: 2 x %d" % per, log[-600:])
        pid = s.proc.pid
        before = tasks(pid)
        pool = compute(before)
        # each pool's caller is the worker thread itself: 2 pools of per-1 helpers
        c.check(len(pool) == 2 * (per - 1), "%d compute threads started at start-up (2 x %d - 1)"
                % (len(pool), per), before)
        if not extra:  # 1 thread each on 2 cores: no pool helper to watch; the load runs below
            c.check(s.upload(SHORT_CLIP, FAST)[0] == 200 and compute(tasks(pid)) == pool,
                    "a request starts no compute thread")
            continue
        res, seen_max, seen_compute = [], [len(before)], set()
        ths = [threading.Thread(target=lambda: res.append(s.upload(CLIP, FAST)[0])) for _ in range(2)]
        for t in ths:
            t.start()
        while any(t.is_alive() for t in ths):
            ts = tasks(pid)
            seen_max.append(len(ts))
            seen_compute |= compute(ts)
            time.sleep(0.02)
        for t in ths:
            t.join()
        c.check(res == [200, 200], "two concurrent transcriptions → 200", res)
        c.check(max(seen_max) <= len(before) + 4,
                "under load the thread count stays at its idle value (max %d, idle %d; a few "
                "short-lived HTTP threads aside)" % (max(seen_max), len(before)))
        c.check(seen_compute == pool, "no compute thread besides the start-up ones ran under load",
                (sorted(seen_compute), sorted(pool)))
        st = s.upload(SHORT_CLIP, FAST)[0]
        after = tasks(pid)
        c.check(st == 200 and compute(after) == pool,
                "the compute threads' ids are the same after more requests (pool created once)")

c.finish()
