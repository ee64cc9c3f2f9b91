"""Every fixture of ../shared/fixtures/audio/MANIFEST.md through POST
/relatorio/process-meeting (issue 4, item 3): valid recordings → 200 Markdown report
(valid UTF-8); bad ones → the listed 4xx with a JSON error body, never 5xx, and a good
request right after each bad one succeeds; the two .multipart files go as raw bodies
with their boundary; the dangerous filename never reaches the report; nothing is left
in the temp dir.  The micro model has random weights, so transcript *content* is not
checked here (the engine's golden tests do that); decoding, limits and the HTTP
contract are.
"""
import os
import re
import sys
import threading
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mdc_testserver import (FIXTURES, SHORT_CLIP, Checks, Server, check_no_5xx, error_code,  # noqa: E402
                            require_binary)

require_binary()
c = Checks("test_fixtures")
BOUNDARY = "----fixtureBoundary7Qp2xK9zR"

VALID = [  # file, language
    ("meeting_ptbr_16k_mono_s16.wav", "pt"),
    ("meeting_en_16k_mono_s16.wav", "en"),
    ("meeting_ptbr_48k_f32_excerpt.wav", "pt"),
    ("meeting_ptbr_44k1_mono_48k_id3art.mp3", "pt"),
    ("meeting_ptbr_aac_48k_mono_moov_at_end.m4a", "pt"),
    ("meeting_ptbr_opus_24k.opus", "pt"),
    ("meeting_ptbr_mediarecorder_opus.webm", "pt"),
    ("meeting_ptbr_16k_mono.flac", "pt"),
    ("meeting_ptbr_black_video_h264_aac.mp4", "pt"),
    ("meeting_ptbr_8k_mulaw_phone.wav", "pt"),
    ("edge_speech_0.5s.wav", "pt"),
    ("edge_silence_1s.wav", "pt"),
    ("edge_5min_two_utterances.flac", "pt"),
    ("edge_35s_word_across_30s.wav", "pt"),
    ("edge_stereo_left_speech_right_silent.wav", "pt"),
    ("edge_clipped_plus24db.wav", "pt"),
]
BAD = [  # file, acceptable statuses (MANIFEST "What a correct service does")
    ("bad_empty_0_bytes.wav", {422}),
    ("bad_wav_header_claims_1h.wav", {200, 415}),
    ("bad_wav_fmt_zero_channels.wav", {415}),
    ("bad_wav_extradata_claim.wav", {415, 422}),
    ("bad_truncated_first_5KiB_id3_only.mp3", {415, 422}),
    ("bad_random_bytes.mp3", {415}),
    ("bad_png_image_named.wav", {422, 415}),
    ("bad_meeting_notes.txt", {415}),
    ("bad_upload_name_nul_dotdot.wav", {200, 400}),
    ("bad_flac_claims_49_days.flac", {413, 200}),
]
RAW = [  # raw multipart bodies
    ("bad_multipart_mp3_declared_text_plain.multipart", {200}),
    ("bad_upload_name_nul_dotdot.multipart", {200, 400}),
]
FAST = {"no_fallback": "true"}


def is_report(body):
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return text.startswith("# ") and "\x00" not in text


env = {"MAX_CONCURRENT_TRANSCRIPTIONS": "2", "WHISPER_THREADS": "1"}
with Server(env=env) as s:
    listed = set(n for n in os.listdir(FIXTURES) if n != "MANIFEST.md")
    covered = set(n for n, _ in VALID) | set(n for n, _ in BAD) | set(n for n, _ in RAW)
    c.check(listed == covered, "every fixture file is covered", sorted(listed ^ covered))

    def good_after(what):
        st, h, body = s.upload(SHORT_CLIP, dict(FAST, language="pt"))
        c.check(st == 200 and is_report(body), "  good request right after %s → 200" % what, (st, body[:200]))

    print("bad uploads")
    for name, ok in BAD:
        path = os.path.join(FIXTURES, name)
        t0 = time.monotonic()
        st, h, body = s.upload(path, dict(FAST, language="pt"))
        dt = time.monotonic() - t0
        if st == 200:
            good = is_report(body)
        else:
            good = error_code(body) is not None and h.get("content-type", "").startswith("application/json")
        c.check(st in ok and good, "%s → %d (%s) in %.1f s%s" % (name, st, sorted(ok), dt,
                                                                 "" if st == 200 else ": " + body.decode("utf-8", "replace")[:160]),
                body[:300])
        good_after(name)

    print("raw multipart bodies")
    for name, ok in RAW:
        with open(os.path.join(FIXTURES, name), "rb") as f:
            raw = f.read()
        st, h, body = s.request("POST", "/relatorio/process-meeting", body=raw,
                                headers={"Content-Type": "multipart/form-data; boundary=" + BOUNDARY})
        good = is_report(body) if st == 200 else error_code(body) is not None
        c.check(st in ok and good, "%s → %d" % (name, st), body[:300])
        if "nul_dotdot" in name:
            c.check(b"\x00" not in body and b"../" not in body and b"/tmp/" not in body,
                    "  the dangerous filename does not reach the answer raw")
            c.check(not os.path.exists("/tmp/fixture-escape") and not os.path.exists("/tmp/fixture-escape.wav"),
                    "  nothing written at the path the filename names")
        good_after(name)

    print("valid recordings (two at a time)")
    results = {}

    def run(name, lang):
        t0 = time.monotonic()
        st, h, body = s.upload(os.path.join(FIXTURES, name), dict(FAST, language=lang), timeout=900)
        results[name] = (st, h, body, time.monotonic() - t0)

    queue = list(VALID)
    lock = threading.Lock()

    def worker():
        while True:
            with lock:
                if not queue:
                    return
                name, lang = queue.pop(0)
            run(name, lang)

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=1200)
    for name, _ in VALID:
        st, h, body, dt = results.get(name, (0, {}, b"", 0))
        c.check(st == 200 and h.get("content-type", "").startswith("text/markdown") and is_report(body),
                "%s → %d Markdown report in %.1f s" % (name, st, dt), body[:300])

    print("the Portuguese meeting's report (issue 4, item 4)")
    meta = dict(FAST, language="pt", title="Reunião de planejamento # <b>sprint</b> [x](y)",
                date="2025-03-17", participants="Ana, Bruno, Carla, Marcos")
    st, h, body = s.upload(os.path.join(FIXTURES, "meeting_ptbr_16k_mono_s16.wav"), meta, timeout=900)
    text = body.decode("utf-8", "strict") if st == 200 else ""
    c.check(st == 200 and text.startswith("# Reunião de planejamento"), "200, title first", body[:200])
    for needle in ("- **Data:** 2025-03-17", "- **Duração:** 00:02:50", "- **Idioma:** Português (pt",
                   "- **Modelo:** ggml-micro-random.bin", "## Participantes", "- Marcos",
                   "## Transcrição", "- **Arquivo de origem:** meeting_ptbr_16k_mono_s16.wav"):
        c.check(needle in text, "  report has %r" % needle)
    stamps = re.findall(r"^\*\*\[(\d\d):(\d\d):(\d\d)\]\*\* \S", text, re.M)
    secs = [int(a) * 3600 + int(b) * 60 + int(d) for a, b, d in stamps]
    c.check(len(secs) >= 2 and secs == sorted(secs) and secs[-1] <= 170,
            "  %d timestamped paragraphs, in order, within the 170 s" % len(secs), secs)
    c.check("<b>" not in text and "&lt;b&gt;" in text and "[x](y)" not in text
            and "\\[x\\]" in text and "\n# <" not in text,
            "  the title's Markdown/HTML is escaped", text[:120])

    c.check(s.tmp_leftovers() == [], "nothing left in the temp dir", s.tmp_leftovers())
    st, _, _ = s.request("GET", "/health")
    c.check(st == 200 and s.proc.poll() is None, "server still up")
    check_no_5xx(c, s)  # every fixture, good or hostile: never a 5xx

c.finish()
