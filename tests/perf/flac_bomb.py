#!/usr/bin/python3
"""Peak RSS of `md-converter serve` for a FLAC bomb (issue 8 item 5): a small FLAC of long
digital silence (4 h, made with ffmpeg into build/perf/, ~2.7 MB) sent to the default
MAX_AUDIO_SECONDS (3 h).  Prints the answer, the time to it and VmHWM before/after, next
to the limit's PCM size (MAX_AUDIO_SECONDS x 16 000 x 4 bytes); the decoder's buffer is
capped at the limit in samples, so the peak must stay near 1x that (target <= 2x).

    tests/perf/flac_bomb.py [--hours 4] [--max-audio-seconds 10800]
"""
import argparse
import os
import subprocess
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
from mdc_testserver import BUILD, Server  # noqa: E402


def hwm_mib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    return 0.0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--hours", type=float, default=4)
    ap.add_argument("--max-audio-seconds", type=float, default=10800)
    a = ap.parse_args()
    out = os.path.join(BUILD, "perf")
    os.makedirs(out, exist_ok=True)
    bomb = os.path.join(out, "bomb-%gh.flac" % a.hours)
    if not os.path.exists(bomb):
        subprocess.check_call(["ffmpeg", "-loglevel", "error", "-y", "-f", "lavfi", "-i",
                               "anullsrc=r=16000:cl=mono", "-t", str(int(a.hours * 3600)),
                               "-c:a", "flac", "-sample_fmt", "s16", bomb])
    limit_mib = a.max_audio_seconds * 16000 * 4 / (1024.0 * 1024.0)
    with Server(env={"WHISPER_THREADS": "1", "MAX_AUDIO_SECONDS": str(a.max_audio_seconds)}) as s:
        h0 = hwm_mib(s.proc.pid)
        t0 = time.monotonic()
        st, _, body = s.upload(bomb, {"language": "en"}, endpoint="/v1/audio/transcriptions")
        dt = time.monotonic() - t0
        h1 = hwm_mib(s.proc.pid)
    print("flac bomb: %.1f h of silence in %.2f MB, MAX_AUDIO_SECONDS=%g (PCM limit %.0f MiB)"
          % (a.hours, os.path.getsize(bomb) / 1e6, a.max_audio_seconds, limit_mib))
    print("  answer %d %s after %.1f s" % (st, body[:120].decode("utf-8", "replace"), dt))
    print("  peak RSS before %.0f MiB, after %.0f MiB = %.2fx the PCM limit"
          % (h0, h1, h1 / limit_mib))


if __name__ == "__main__":
    main()
