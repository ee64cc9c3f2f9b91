"""Long recordings streamed (issue 12) through the real server, micro model:
- MAX_AUDIO_SECONDS=100: the 170 s browser WebM (no duration in the container) and a
  170 s FLAC whose STREAMINFO claims 10 s (patched here) are refused 413
  payload_too_large naming the limit, before any decoding or model work (the model is
  never loaded, no encoder window runs); the FLAC claiming 49.7 days over 1 s of frames
  is transcribed (200, about 1 s);
- a WebM without duration (the fixture's first 20 s, remuxed live by ffmpeg here) sent to
  /jobs reports progress that grows through values between 0 and 100 while it is
  decoded, never decreases, and ends at 100 with `done`.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mdc_testserver import (FIXTURES, Checks, Server, error_code, metric,  # noqa: E402
                            require_binary, sse_events)

require_binary()
c = Checks("test_streaming")
WEBM = os.path.join(FIXTURES, "meeting_ptbr_mediarecorder_opus.webm")
FLAC = os.path.join(FIXTURES, "meeting_ptbr_16k_mono.flac")
FLAC_49D = os.path.join(FIXTURES, "bad_flac_claims_49_days.flac")
for f in (WEBM, FLAC, FLAC_49D):
    if not os.path.exists(f):
        print("SKIP: %s not found" % f)
        sys.exit(77)
work = tempfile.mkdtemp(prefix="mdc-stream-")


def lying_flac(total_samples):
    """The 170 s FLAC with STREAMINFO total_samples replaced (36 bits at bytes 21-25; the
    high nibble of byte 21 is bits-per-sample) and the MD5 zeroed."""
    d = bytearray(open(FLAC, "rb").read())
    assert d[:4] == b"fLaC"
    d[21] = (d[21] & 0xF0) | ((total_samples >> 32) & 0x0F)
    d[22:26] = (total_samples & 0xFFFFFFFF).to_bytes(4, "big")
    d[26:42] = bytes(16)
    path = os.path.join(work, "lying_%d.flac" % total_samples)
    open(path, "wb").write(bytes(d))
    return path


try:
    with Server(env={"MAX_AUDIO_SECONDS": "100", "WHISPER_VAD": "false"}) as s:
        for name, path in (("WebM without duration", WEBM),
                           ("FLAC claiming 10 s", lying_flac(160000))):
            t0 = time.monotonic()
            st, h, body = s.upload(path, {"language": "pt"})
            dt = time.monotonic() - t0
            msg = json.loads(body).get("error", {}).get("message", "") if st == 413 else ""
            c.check(st == 413 and error_code(body) == "payload_too_large" and "100 s" in msg,
                    "%s of 170 s, MAX_AUDIO_SECONDS=100 → 413 naming the limit (%.2f s)" % (name, dt),
                    (st, body[:300]))
        m = s.metrics()
        c.check((metric(m, "mdconv_model_loads_total") or 0) == 0,
                "the model was never loaded for them", metric(m, "mdconv_model_loads_total"))
        st, h, body = s.upload(FLAC_49D, {"language": "pt", "no_fallback": "true",
                                          "response_format": "verbose_json"},
                               endpoint="/v1/audio/transcriptions")
        d = json.loads(body) if st == 200 else {}
        c.check(st == 200 and abs(d.get("duration", 0) - 1.0) < 0.1,
                "the FLAC claiming 49.7 days over 1 s of frames → 200, 1 s transcribed",
                (st, body[:300]))

    short = os.path.join(work, "live20.webm")
    if shutil.which("ffmpeg") is None:
        print("SKIP: ffmpeg not found (scripts/install-deps.sh installs it)")
        sys.exit(77)
    subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-i", WEBM, "-t", "20",
                    "-c", "copy", "-live", "1", "-f", "webm", short], check=True)
    probe = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "format=duration",
                            "-of", "csv=p=0", short], capture_output=True, text=True)
    c.check(probe.stdout.strip() in ("N/A", ""), "the remuxed WebM declares no duration (ffprobe: %r)"
            % probe.stdout.strip())
    with Server(env={"WHISPER_VAD": "false"}) as s:
        st, h, body = s.upload(short, {"language": "pt", "no_fallback": "true"}, endpoint="/jobs")
        jid = json.loads(body).get("id", "x") if st == 202 else "x"
        c.check(st == 202, "POST /jobs with it → 202", (st, body[:200]))
        _, _, events = sse_events(s.port, "/jobs/%s/events" % jid, timeout=180)
        progress = [d["progress"] for e, d in events if d and e != "segment" and "progress" in d]
        middle = sorted(set(p for p in progress if 0 < p < 100))
        c.check(events and events[-1][0] == "done", "events end with done", events[-3:])
        c.check(progress == sorted(progress) and progress and progress[-1] == 100,
                "progress never decreases and ends at 100", progress)
        c.check(len(middle) >= 3, "progress moved through %d values between 0 and 100 while "
                "decoding a container without duration: %s" % (len(middle), middle), progress)
finally:
    shutil.rmtree(work, ignore_errors=True)
c.finish()
