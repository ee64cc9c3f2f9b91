/* json.c — OpenAI-compatible "json", "verbose_json" and "diarized_json" responses.
 * verbose = 0 json, 1 verbose_json, 2 diarized_json.
 * ref: OpenAI API reference, audio/createTranscription: json → {"text": …};
 *      verbose_json → {task, language, duration, text, segments: [{id, seek, start, end,
 *      text, tokens, temperature, avg_logprob, compression_ratio, no_speech_prob}]},
 *      times in seconds, language as Whisper's lower-case English name; both carry
 *      usage {type: "duration", seconds} (TranscriptionVerbose.Usage / Transcription.Duration
 *      in the official Node SDK's typings) and json carries logprobs [{token, bytes,
 *      logprob}] on request (Transcription.Logprob). */
#include "report_internal.h"

#include "mdc/utf8.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A float rounded to 6 significant digits, so 0.1f prints as 0.1 and not 0.100000001. */
static json_t *real6(float f)
{
    if (!isfinite(f))
        return json_real(0);
    char tmp[32];
    snprintf(tmp, sizeof tmp, "%.6g", (double)f);
    return json_real(strtod(tmp, NULL));
}

static int set(json_t *obj, const char *key, json_t *v)
{
    return v ? json_object_set_new(obj, key, v) : -1;
}

/* Seconds of a centisecond time (negative clamped to 0). */
static json_t *secs(int64_t cs) { return json_real((double)(cs > 0 ? cs : 0) / 100.0); }

/* Repaired text as a JSON string (Whisper's leading space kept, as OpenAI does). */
static json_t *text_json(const char *raw)
{
    raw = raw ? raw : "";
    char *t = mdc_utf8_sanitize(raw, strlen(raw), MDC_UTF8_DROP_NUL, NULL);
    json_t *j = t ? json_stringn(t, strlen(t)) : NULL;
    free(t);
    return j;
}

/* {word, start, end} (OpenAI TranscriptionWord). */
static json_t *word_json(const rpt_word *w)
{
    json_t *o = json_object();
    int rc = !o;
    rc |= !o || set(o, "word", text_json(w->text));
    rc |= !o || set(o, "start", secs(w->t0_cs));
    rc |= !o || set(o, "end", secs(w->t1_cs > w->t0_cs ? w->t1_cs : w->t0_cs));
    if (rc) {
        json_decref(o);
        return NULL;
    }
    return o;
}

static int append_words(json_t *arr, const rpt_segment *s)
{
    int rc = 0;
    for (int i = 0; !rc && s->words && i < s->n_words; i++)
        rc |= json_array_append_new(arr, word_json(&s->words[i]));
    return rc;
}

/* OpenAI's speaker label for ours (see report.h DIARIZED_JSON): "0" → "A", "1" → "B"
 * (channel n → 'A' + n, up to "Z"), "?" / NULL → "unknown", anything else as given. */
static json_t *diarized_speaker(const char *spk)
{
    if (!spk || !strcmp(spk, "?"))
        return json_string("unknown");
    char *end = NULL;
    const long n = strtol(spk, &end, 10);
    if (spk[0] >= '0' && spk[0] <= '9' && end && !*end && n >= 0 && n < 26) {
        const char letter[2] = {(char)('A' + n), '\0'};
        return json_string(letter);
    }
    return text_json(spk);
}

/* diarized_json segment (OpenAI TranscriptionDiarizedSegment). */
static json_t *diarized_json(const rpt__unit *u, size_t id)
{
    json_t *o = json_object();
    if (!o)
        return NULL;
    char sid[32];
    snprintf(sid, sizeof sid, "seg_%zu", id);
    int rc = set(o, "type", json_string("transcript.text.segment"));
    rc |= set(o, "id", json_string(sid));
    rc |= set(o, "start", secs(u->t0_cs));
    rc |= set(o, "end", secs(u->t1_cs));
    rc |= set(o, "text", json_string(u->text));
    rc |= set(o, "speaker", diarized_speaker(u->speaker));
    if (rc) {
        json_decref(o);
        return NULL;
    }
    return o;
}

static json_t *segment_json(const rpt_segment *s, size_t id)
{
    json_t *o = json_object();
    if (!o)
        return NULL;
    const char *raw = s->text ? s->text : "";
    /* Segment text keeps Whisper's leading space (as OpenAI does); only repaired. */
    char *t = mdc_utf8_sanitize(raw, strlen(raw), MDC_UTF8_DROP_NUL, NULL);
    json_t *tokens = json_array();
    int rc = !t || !tokens;
    for (int i = 0; !rc && s->tokens && i < s->n_tokens; i++)
        rc |= json_array_append_new(tokens, json_integer(s->tokens[i]));
    int64_t t1 = s->t1_cs > s->t0_cs ? s->t1_cs : s->t0_cs;
    rc |= set(o, "id", json_integer((json_int_t)id));
    rc |= set(o, "seek", json_integer(s->seek));
    rc |= set(o, "start", json_real((double)(s->t0_cs > 0 ? s->t0_cs : 0) / 100.0));
    rc |= set(o, "end", json_real((double)(t1 > 0 ? t1 : 0) / 100.0));
    rc |= set(o, "text", t ? json_stringn(t, strlen(t)) : NULL);
    rc |= set(o, "tokens", tokens); /* steals tokens (even on failure) */
    rc |= set(o, "temperature", real6(s->temperature));
    rc |= set(o, "avg_logprob", real6(s->avg_logprob));
    rc |= set(o, "compression_ratio", real6(s->compression_ratio));
    rc |= set(o, "no_speech_prob", real6(s->no_speech_prob));
    if (!rc && s->words && s->n_words > 0) {
        json_t *w = json_array();
        rc |= set(o, "words", w);
        rc |= rc || append_words(w, s);
    }
    if (!rc && s->speaker)
        rc |= set(o, "speaker", text_json(s->speaker));
    free(t);
    if (rc) {
        json_decref(o);
        return NULL;
    }
    return o;
}

static json_t *usage_json(double duration_s)
{
    return json_pack("{s:s, s:I}", "type", "duration", "seconds",
                     (json_int_t)rpt_usage_seconds(duration_s));
}

/* [{token, bytes, logprob}]: token is the bytes repaired to UTF-8 (a token that ends inside
 * a character shows U+FFFD there), bytes the raw bytes, as OpenAI gives both. */
static json_t *logprobs_json(const rpt_logprob *lp, size_t n)
{
    json_t *arr = json_array();
    for (size_t i = 0; arr && i < n; i++) {
        const char *raw = lp[i].bytes ? lp[i].bytes : "";
        size_t nb = lp[i].bytes ? lp[i].n_bytes : 0;
        size_t tl = 0;
        char *tok = mdc_utf8_sanitize(raw, nb, MDC_UTF8_DROP_NUL, &tl);
        json_t *bytes = json_array();
        json_t *o = json_object();
        int rc = !tok || !bytes || !o;
        for (size_t k = 0; !rc && k < nb; k++)
            rc |= json_array_append_new(bytes, json_integer((unsigned char)raw[k]));
        rc |= set(o, "token", tok ? json_stringn(tok, tl) : NULL);
        rc |= set(o, "bytes", bytes); /* steals bytes, even on failure */
        rc |= set(o, "logprob", real6(lp[i].logprob));
        free(tok);
        if (rc)
            json_decref(o);
        if (rc || json_array_append_new(arr, o)) { /* append steals o */
            json_decref(arr);
            return NULL;
        }
    }
    return arr;
}

static int dump_cb(const char *buffer, size_t size, void *data)
{
    mdc_buf *b = data;
    mdc_buf_put(b, buffer, size);
    return b->oom ? -1 : 0;
}

/* Reals print with 10 significant digits: centisecond times come out exactly (83.45, not
 * 83.450000000000003). */
int rpt__render_json(const rpt_transcript *tr, int verbose, mdc_buf *b)
{
    const int diarized = verbose == 2;
    char *text = rpt__full_text(tr);
    json_t *root = json_object();
    int rc = !text || !root;
    if (!rc && verbose) {
        const char *lang = rpt__lang_openai_name(tr->language);
        char *code = NULL;
        if (!lang && tr->language && tr->language[0]) {
            code = rpt__clean_line(tr->language);
            lang = code;
            rc |= !code;
        }
        rc |= set(root, "task", json_string(!diarized && tr->task &&
                                                    !strcmp(tr->task, "translate")
                                                ? "translate" : "transcribe"));
        if (!diarized)
            rc |= set(root, "language", lang ? json_string(lang) : json_null());
        double dur = tr->duration_s > 0 && isfinite(tr->duration_s) ? tr->duration_s : 0;
        rc |= set(root, "duration", json_real(round(dur * 1000) / 1000));
        free(code);
    }
    if (!rc)
        rc |= set(root, "text", json_string(text));
    if (!rc && diarized) {
        json_t *segs = json_array();
        rc |= set(root, "segments", segs); /* steals segs, even on failure */
        rpt__unit *u = NULL;
        const long nu = rc ? -1 : rpt__units(tr, &u);
        rc |= nu < 0;
        for (long i = 0; !rc && i < nu; i++)
            rc |= json_array_append_new(segs, diarized_json(&u[i], (size_t)i));
        rpt__units_free(u, nu > 0 ? (size_t)nu : 0);
    } else if (!rc && verbose) {
        if (tr->want_words) {
            json_t *words = json_array();
            rc |= set(root, "words", words);
            for (size_t i = 0; !rc && i < tr->n_segments; i++)
                rc |= append_words(words, &tr->segments[i]);
        }
        if (tr->want_segments || !tr->want_words) {
            json_t *segs = json_array();
            rc |= set(root, "segments", segs);
            for (size_t i = 0; !rc && i < tr->n_segments; i++)
                rc |= json_array_append_new(segs, segment_json(&tr->segments[i], i));
        }
    }
    if (!rc)
        rc |= set(root, "usage", usage_json(tr->duration_s));
    if (!rc && !verbose && tr->with_logprobs)
        rc |= set(root, "logprobs", logprobs_json(tr->logprobs, tr->n_logprobs));
    if (!rc) {
        /* Straight into our buffer: jansson 2.14's json_dumps() ignores a failed append of
         * an object key (the dump comes out without it), while our buffer stays failed
         * (b->oom) once an append fails, and rpt_render() checks that. */
        size_t flags = JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(10) |
                       (verbose ? JSON_INDENT(2) : 0);
        rc = json_dump_callback(root, dump_cb, b, flags) != 0 || b->oom;
        mdc_buf_puts(b, "\n");
    }
    json_decref(root);
    free(text);
    return rc ? -1 : 0;
}
