"""/health stays fast while a slowed model load and two transcriptions occupy both
cores (issue 4, item 2), and a client that disconnects cancels its transcription.

Two uploads start together on a lazily loading server whose load is slowed
(MDC_TEST_LOAD_DELAY_MS); while they wait for the load and then run (temperature
fallback on: the micro model keeps a core busy for seconds), 200 /health probes on
fresh connections are timed.  p50/p99 are printed (target p99 < 20 ms); the assertion
is a loose p99 < 500 ms because this machine is shared.  Then both clients hang up and
the server must cancel their transcriptions (status client_closed in the metrics).
"""
import os
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mdc_testserver import (FIXTURES, Checks, Server, metric, percentile, probe_health,  # noqa: E402
                            require_binary, start_raw_upload)

require_binary()
c = Checks("test_health_latency")
N = 200
BUSY_CLIP = os.path.join(FIXTURES, "meeting_ptbr_opus_24k.opus")


def start_upload(port):
    # the 170 s meeting with temperature fallback on: minutes of work for the micro
    # model, so both workers stay busy through the probes whatever the engine's speed
    return start_raw_upload(port, BUSY_CLIP, {"language": "pt"})


env = {"MAX_CONCURRENT_TRANSCRIPTIONS": "2", "WHISPER_THREADS": "1", "MDC_TEST_LOAD_DELAY_MS": "2500"}
with Server(env=env) as s:
    clients = [start_upload(s.port), start_upload(s.port)]
    time.sleep(0.2)
    phases = {"loading": [], "transcribing": []}
    all_ok = True
    for phase in ("loading", "transcribing"):
        if phase == "transcribing":
            # wait until the load finished and both workers run the engine
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and metric(s.metrics(), "mdconv_model_state") != 2:
                time.sleep(0.05)
        state = metric(s.metrics(), "mdconv_model_state")
        for _ in range(N // 2):
            ms, ok = probe_health("127.0.0.1", s.port)
            phases[phase].append(ms)
            all_ok &= ok
            time.sleep(0.005)
        print("    %-12s (model_state %s at start) p50 %.2f ms  p99 %.2f ms  max %.2f ms"
              % (phase, state, percentile(phases[phase], 50), percentile(phases[phase], 99), max(phases[phase])))
    lat = phases["loading"] + phases["transcribing"]
    p50, p99 = percentile(lat, 50), percentile(lat, 99)
    print("HEALTH LATENCY over %d requests: p50 %.2f ms, p99 %.2f ms (target p99 < 20 ms)" % (len(lat), p50, p99))
    c.check(all_ok, "every probe answered 200")
    c.check(p99 < 500, "p99 %.2f ms < 500 ms (loose bound; target 20 ms)" % p99)
    m = s.metrics()
    busy = (metric(m, "mdconv_transcriptions_total") or 0) == 0
    c.check(busy, "both transcriptions were still running during the probes")
    c.check(metric(m, "mdconv_queue_depth") == 0, "both ran on workers (none queued)")

    # the clients hang up: the server must cancel their transcriptions
    for cl in clients:
        cl.close()
    t0 = time.monotonic()
    cancelled = 0
    while time.monotonic() - t0 < 30:
        cancelled = metric(s.metrics(), "mdconv_transcriptions_total", status="client_closed") or 0
        if cancelled >= 2:
            break
        time.sleep(0.1)
    c.check(cancelled >= 2, "client disconnect cancels the transcription (%d cancelled in %.1f s)"
            % (cancelled, time.monotonic() - t0))
    c.check(s.tmp_leftovers() == [], "no temp file left", s.tmp_leftovers())

c.finish()
