#!/usr/bin/env python3
"""Word times and stereo speakers over the real HTTP API (issue 13 part 2):
- timestamp_granularities[]=word → verbose_json words[] ({word, start, end}, times
  monotonic, inside the audio), segments only when segment is asked too, words per segment;
- 400 for word with a response_format that cannot carry it (as OpenAI), bad
  max_words_per_cue / diarize values;
- max_words_per_cue → one SRT cue per word;
- diarized_json on the stereo reference recording: OpenAI's shape and speaker letters
  (by default whisper-cli -di's rule per segment: "A" = channel 0 for the whole clip, as
  -di labels it "0" on the pack's runs; speaker_turns=audio: segments split at the
  channel turns, both "A" and "B");
- the Markdown report of the stereo recording with diarize=true shows both speakers:
  paragraphs labelled Speaker 0 and Speaker 1 and the talk time of each, which must agree
  (±1 s) with the time each channel dominates in 100 ms frames, computed here from the
  WAV's samples; speaker_turns=segment gives -di's one label; a mono file gets no speaker
  labels; bad speaker_turns values and uses → 400.
Models: the micro random-weight model (the words' shape and order are what is checked;
their values against whisper.cpp are the unit goldens')."""
import json
import os
import re
import struct
import sys
import wave

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mdc_testserver import (FAST, SHARED, Checks, Server, error_code, multipart,  # noqa: E402
                            require_binary)

require_binary()
c = Checks("test_words_api")
JFK = os.path.join(SHARED, "whisper-ref", "data", "jfk.wav")
STEREO = os.path.join(SHARED, "whisper-ref", "data", "stereo_diarization.wav")
FIELDS = dict(FAST, language="en")


def channel_dominance(path, frame=1600):
    """Seconds in which the left / right channel dominates (Σ|x| over 100 ms frames,
    > 1.1 × the other's, frames with both channels below −60 dBFS mean |x| skipped)."""
    with wave.open(path) as w:
        n, ch = w.getnframes(), w.getnchannels()
        pcm = struct.unpack("<%dh" % (n * ch), w.readframes(n))
    left, right = pcm[0::2], pcm[1::2]
    dom = [0.0, 0.0]
    for i in range(0, n, frame):
        el = sum(abs(x) for x in left[i:i + frame]) / 32768.0
        er = sum(abs(x) for x in right[i:i + frame]) / 32768.0
        k = len(left[i:i + frame])
        if el < 1e-3 * k and er < 1e-3 * k:
            continue
        if el > 1.1 * er:
            dom[0] += k / 16000.0
        elif er > 1.1 * el:
            dom[1] += k / 16000.0
    return dom


def hms(t):
    h, m, sec = (int(x) for x in t.split(":"))
    return h * 3600 + m * 60 + sec


def post(s, path, fields, clip):
    ctype, body = multipart(fields, file_path=clip)
    return s.request("POST", path, body=body, headers={"Content-Type": ctype})


with Server() as s:
    # words[] in verbose_json
    st, _, body = post(s, "/v1/audio/transcriptions",
                       dict(FIELDS, response_format="verbose_json",
                            **{"timestamp_granularities[]": "word"}), JFK)
    c.check(st == 200, "word granularity: 200", body[:300])
    j = json.loads(body) if st == 200 else {}
    words = j.get("words", [])
    c.check(len(words) > 0, "verbose_json has words[]", str(j)[:300])
    c.check(all(set(w) == {"word", "start", "end"} for w in words),
            "every word is {word, start, end}", str(words[:3]))
    c.check(all(isinstance(w["word"], str) and isinstance(w["start"], (int, float))
                and isinstance(w["end"], (int, float)) for w in words), "word field types")
    mono = all(words[i]["start"] <= words[i]["end"] for i in range(len(words))) and \
        all(words[i]["start"] <= words[i + 1]["start"] for i in range(len(words) - 1))
    c.check(mono, "word times monotonic", str([(w["start"], w["end"]) for w in words]))
    c.check(all(0 <= w["start"] and w["end"] <= j.get("duration", 0) + 1e-6 for w in words),
            "word times inside the audio")
    c.check("segments" not in j, "word only: no segments (as OpenAI)")
    joined = "".join(w["word"] for w in words).strip()
    c.check(joined == j.get("text"), "words join to the text", "%r vs %r" % (joined, j.get("text")))

    st, _, body = post(s, "/v1/audio/transcriptions",
                       dict(FIELDS, response_format="verbose_json",
                            **{"timestamp_granularities[]": ["word", "segment"]}), JFK)
    j = json.loads(body) if st == 200 else {}
    c.check(st == 200 and len(j.get("words", [])) > 0 and len(j.get("segments", [])) > 0,
            "word + segment: both arrays", body[:300])
    seg_words = sum(len(sg.get("words", [])) for sg in j.get("segments", []))
    c.check(seg_words == len(j.get("words", [])), "per-segment words add up to words[]")

    # errors
    for fmt in ("json", "text", "srt", "vtt", "diarized_json"):
        st, _, body = post(s, "/v1/audio/transcriptions",
                           dict(FIELDS, response_format=fmt,
                                **{"timestamp_granularities[]": "word"}), JFK)
        c.check(st == 400 and error_code(body) == "invalid_field"
                and b"verbose_json" in body, "word with %s: 400 naming verbose_json" % fmt, body)
    st, _, body = post(s, "/v1/audio/transcriptions",
                       dict(FIELDS, response_format="verbose_json",
                            **{"timestamp_granularities[]": "char"}), JFK)
    c.check(st == 400 and error_code(body) == "invalid_field", "unknown granularity: 400", body)
    for bad in ("0", "101", "x", "2.5"):
        st, _, body = post(s, "/v1/audio/transcriptions",
                           dict(FIELDS, response_format="srt", max_words_per_cue=bad), JFK)
        c.check(st == 400 and b"max_words_per_cue" in body, "max_words_per_cue=%s: 400" % bad, body)
    st, _, body = post(s, "/v1/audio/transcriptions",
                       dict(FIELDS, response_format="json", max_words_per_cue="1"), JFK)
    c.check(st == 400 and b"srt or vtt" in body, "max_words_per_cue with json: 400", body)
    st, _, body = post(s, "/v1/audio/transcriptions", dict(FIELDS, diarize="maybe"), JFK)
    c.check(st == 400 and b"diarize" in body, "diarize=maybe: 400", body)

    # word-level SRT
    st, _, body = post(s, "/v1/audio/transcriptions",
                       dict(FIELDS, response_format="srt", max_words_per_cue="1"), JFK)
    st2, _, body2 = post(s, "/v1/audio/transcriptions",
                         dict(FIELDS, response_format="verbose_json",
                              **{"timestamp_granularities[]": "word"}), JFK)
    n_cues = len(re.findall(rb"^\d+\r?\n\d\d:", body, re.M))
    n_words = len(json.loads(body2).get("words", [])) if st2 == 200 else -1
    c.check(st == 200 and n_cues == n_words and n_cues > 0,
            "max_words_per_cue=1: one SRT cue per word", "%d cues, %d words\n%s" %
            (n_cues, n_words, body[:300]))

    # diarized_json on the stereo reference recording
    st, hdr, body = post(s, "/v1/audio/transcriptions",
                         dict(FIELDS, response_format="diarized_json"), STEREO)
    c.check(st == 200 and hdr.get("content-type", "").startswith("application/json"),
            "diarized_json: 200 JSON", body[:300])
    j = json.loads(body) if st == 200 else {}
    c.check(j.get("task") == "transcribe" and isinstance(j.get("duration"), (int, float))
            and isinstance(j.get("text"), str), "diarized_json top level {task, duration, text}")
    segs = j.get("segments", [])
    c.check(len(segs) > 0 and all(set(sg) == {"type", "id", "start", "end", "text", "speaker"}
                                  for sg in segs), "diarized segments' keys", str(segs)[:300])
    c.check(all(sg["type"] == "transcript.text.segment"
                and sg["speaker"] in ("A", "B", "unknown") for sg in segs),
            "segment type and OpenAI speaker letters", str(segs)[:300])
    c.check(segs and all(sg["speaker"] == "A" for sg in segs),
            "default (-di per segment): speaker A = channel 0 (left louder over the clip)",
            str(segs)[:200])
    st, _, body = post(s, "/v1/audio/transcriptions",
                       dict(FIELDS, response_format="diarized_json", speaker_turns="audio"),
                       STEREO)
    j = json.loads(body) if st == 200 else {}
    segs = j.get("segments", [])
    c.check(st == 200 and {sg["speaker"] for sg in segs} == {"A", "B"},
            "speaker_turns=audio: segments of both channels", body[:400])
    c.check(all(segs[i]["start"] <= segs[i]["end"] <= segs[i + 1]["start"] + 1e-6
                for i in range(len(segs) - 1)), "turn segments in time order",
            str([(sg["start"], sg["end"]) for sg in segs]))
    c.check(" ".join(sg["text"] for sg in segs) == j.get("text"),
            "turn segments add up to the text")

    # Markdown report with diarize: two speakers and their talk time
    dom = channel_dominance(STEREO)
    print("channel dominance from the samples: left %.1f s, right %.1f s" % tuple(dom))
    st, _, body = post(s, "/relatorio/process-meeting",
                       dict(FIELDS, diarize="true", report_locale="en"), STEREO)
    text = body.decode("utf-8", "replace")
    m = re.search(r"^- \*\*Talk time:\*\* Speaker 0 (\d\d:\d\d:\d\d), "
                  r"Speaker 1 (\d\d:\d\d:\d\d)$", text, re.M)
    c.check(st == 200 and m is not None, "report: talk time of speakers 0 and 1", text[:700])
    if m:
        talk = [hms(m.group(1)), hms(m.group(2))]
        print("talk time in the report: speaker 0 %d s, speaker 1 %d s" % tuple(talk))
        c.check(all(abs(talk[k] - dom[k]) <= 1.0 for k in (0, 1)) and talk[1] > 0,
                "talk times agree with the channels' dominance (±1 s)",
                "report %s, channels %s" % (talk, dom))
        c.check(sum(talk) <= 5, "talk times fit in the 5 s clip", str(talk))
    c.check("**Speaker 0:**" in text and "**Speaker 1:**" in text,
            "report: paragraphs of both speakers", text[:900])
    labels = re.findall(r"^\*\*\[[\d:]+\]\*\* \*\*Speaker (\d):\*\*", text, re.M)
    c.check(all(labels[i] != labels[i + 1] for i in range(len(labels) - 1)),
            "a new paragraph at every change of speaker only", str(labels))
    st, _, body = post(s, "/relatorio/process-meeting",
                       dict(FIELDS, diarize="true", report_locale="en", speaker_turns="segment"),
                       STEREO)
    c.check(st == 200 and b"**Speaker 0:**" in body and b"Speaker 1" not in body,
            "speaker_turns=segment: -di's one label for the one segment", body[:600])
    for fields, what in ((dict(FIELDS, diarize="true", speaker_turns="words"), "bad value"),
                         (dict(FIELDS, speaker_turns="audio"), "without diarize")):
        st, _, body = post(s, "/relatorio/process-meeting", fields, STEREO)
        c.check(st == 400 and error_code(body) == "invalid_field" and b"speaker_turns" in body,
                "speaker_turns %s: 400" % what, body)
    st, _, body = post(s, "/v1/audio/transcriptions",
                       dict(FIELDS, response_format="verbose_json", diarize="true",
                            speaker_turns="audio"), STEREO)
    c.check(st == 400 and b"speaker_turns" in body, "speaker_turns with verbose_json: 400", body)
    st, _, body = post(s, "/relatorio/process-meeting",
                       dict(FIELDS, diarize="true", report_locale="en"), JFK)
    c.check(st == 200 and b"Speaker" not in body and b"Talk time" not in body,
            "mono file: no speaker labels", body[:400])
    st, _, body = post(s, "/relatorio/process-meeting", dict(FIELDS, report_locale="en"), STEREO)
    c.check(st == 200 and b"Speaker" not in body, "diarize off: no labels", body[:400])

c.finish()
