/*
 * pipeline.c — one recording → transcript → rendered output (see pipeline.h).
 *
 * Order matters for memory: the decoded PCM is freed as soon as the engine is done,
 * the engine state is freed before the model reference is released (an idle unload may
 * free the model right after the release), and rendering runs without the model.
 */
#include "pipeline.h"
#include "words.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mdc/clock.h"
#include "mdc/log.h"
#include "mdc/utf8.h"

/* ---- error tables ---------------------------------------------------------------- */

typedef struct err_map {
    int code;
    int status;
    const char *json_code;
} err_map;


static const err_map k_audio_map[] = {
    {AUD_EEMPTY, 422, "unprocessable_audio"},
    {AUD_ENOSTREAM, 422, "unprocessable_audio"},
    {AUD_ENOSAMPLES, 422, "unprocessable_audio"},
    {AUD_ENOTAUDIO, 415, "unsupported_media"},
    {AUD_ECORRUPT, 415, "unsupported_media"},
    {AUD_ETOOLONG, 413, "payload_too_large"},
    {AUD_ETOOLARGE, 413, "payload_too_large"},
    {AUD_ECANCELED, PIPELINE_STATUS_CLIENT_CLOSED, "client_closed"},
    /* AUD_EINVAL, AUD_ENOMEM, AUD_EIO and anything else: our fault → 500 */
};

static const err_map k_whisper_map[] = {
    {WSP_ECANCELED, PIPELINE_STATUS_CLIENT_CLOSED, "client_closed"},
    {WSP_ELANG, 400, "bad_request"},            /* unknown language code from the client */
    {WSP_ENOAUDIO, 422, "unprocessable_audio"}, /* nothing to transcribe */
    /* everything else (ENOMEM, EINTERNAL, model-file codes after a load) → 500 */
};

static int lookup(const err_map *map, size_t n, int code, const char **json_code)
{
    for (size_t i = 0; i < n; i++) {
        if (map[i].code == code) {
            if (json_code)
                *json_code = map[i].json_code;
            return map[i].status;
        }
    }
    if (json_code)
        *json_code = "internal_error";
    return 500;
}

int pipeline_http_status_for_audio(int aud_code, const char **json_code)
{
    return lookup(k_audio_map, sizeof k_audio_map / sizeof k_audio_map[0], aud_code, json_code);
}

int pipeline_http_status_for_whisper(int wsp_code, const char **json_code)
{
    return lookup(k_whisper_map, sizeof k_whisper_map / sizeof k_whisper_map[0], wsp_code,
                  json_code);
}

static void set_error(pipeline_result *res, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void set_error(pipeline_result *res, int status, const char *code, const char *fmt, ...)
{
    res->http_status = status;
    snprintf(res->error_code, sizeof res->error_code, "%s", code);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(res->error_message, sizeof res->error_message, fmt, ap);
    va_end(ap);
}

/* ---- progress ------------------------------------------------------------------------ */

typedef struct progress_ctx {
    const pipeline_request *req;
    int last; /* last percent reported, so the bar never goes backwards */
    double audio_s; /* decoded duration, once known (segment times → percent) */
} progress_ctx;

static void report_progress(progress_ctx *p, int percent)
{
    if (percent > 100)
        percent = 100;
    if (!p->req->progress_cb || percent <= p->last)
        return;
    p->last = percent;
    p->req->progress_cb(percent, p->req->user);
}

/* Engine progress 0…100 → overall 5…100 (decoding is the first 5 %). */
static void engine_progress(int percent, void *user)
{
    progress_ctx *p = user;
    if (percent < 0)
        percent = 0;
    report_progress(p, 5 + percent * 95 / 100);
}

/* Segment times clamped to the audio (see to_report_segments), centiseconds. */
static void clamp_segment(const wsp_segment *s, int64_t end_cs, int64_t *t0, int64_t *t1)
{
    *t1 = s->t1 < end_cs ? s->t1 : end_cs;
    *t0 = s->t0 < 0 ? 0 : (s->t0 < *t1 ? s->t0 : *t1);
}

static int64_t audio_end_cs(double audio_s)
{
    return audio_s > 0 ? (int64_t)(audio_s * 100.0 + 0.5) : INT64_MAX;
}

/* Engine new-segment callback: hands the segment on and moves the progress to the
 * segment's end (finer than the engine's once-per-30-s-window percent; capped at 99
 * until the result is rendered). */
static void engine_segment(const wsp_segment *seg, int index, void *user)
{
    progress_ctx *p = user;
    int64_t t0, t1;
    clamp_segment(seg, audio_end_cs(p->audio_s), &t0, &t1);
    if (p->req->segment_cb) {
        pipeline_segment ps = {
            .index = index,
            .text = seg->text ? seg->text : "",
            .t0_s = (double)t0 / 100.0,
            .t1_s = (double)t1 / 100.0,
        };
        p->req->segment_cb(&ps, p->req->user);
    }
    if (p->audio_s > 0) {
        int pct = 5 + (int)(95.0 * ((double)t1 / 100.0) / p->audio_s);
        report_progress(p, pct > 99 ? 99 : pct);
    }
}

static bool aborted(const pipeline_request *req)
{
    return req->abort_cb && req->abort_cb(req->user);
}

/* The engine's abort callback: the request's own, plus "the model's mapping was lost"
 * (a truncated model file; see mdc/mapguard.h) — the weights read as zeros from then on,
 * so going on would only burn CPU for a result that is thrown away. */
typedef struct engine_abort_ctx {
    const pipeline_request *req;
    const wsp_model *model;
} engine_abort_ctx;

static bool engine_abort(void *user)
{
    const engine_abort_ctx *c = user;
    return wsp_model_mapping_lost(c->model) || aborted(c->req);
}

/* ---- result conversion ----------------------------------------------------------------- */

/* Engine segments → report segments.  The token id arrays are allocated in one block
 * (*ids_out, caller frees).  Returns 0 or -1 on OOM. */
static int to_report_segments(const wsp_result *r, double audio_s, rpt_segment **segs_out,
                              int32_t **ids_out)
{
    /* Segment times are clamped to the audio: whisper.cpp ends a window's last segment at
     * seek + 30 s when no timestamp closes it (always so with timestamps off), past the end
     * of a shorter recording; OpenAI's transcribe.py ends it at the audio's end instead
     * (segment_size = min(N_FRAMES, content_frames - seek)).  The engine keeps whisper.cpp's
     * numbers (golden tests); the report shows OpenAI's. */
    const int64_t end_cs = audio_end_cs(audio_s);
    *segs_out = NULL;
    *ids_out = NULL;
    if (r->n_segments <= 0)
        return 0;
    size_t n_ids = 0;
    for (int i = 0; i < r->n_segments; i++)
        n_ids += r->segments[i].n_tokens > 0 ? (size_t)r->segments[i].n_tokens : 0;
    rpt_segment *segs = calloc((size_t)r->n_segments, sizeof *segs);
    int32_t *ids = n_ids ? malloc(n_ids * sizeof *ids) : NULL;
    if (!segs || (n_ids && !ids)) {
        free(segs);
        free(ids);
        return -1;
    }
    size_t off = 0;
    for (int i = 0; i < r->n_segments; i++) {
        const wsp_segment *s = &r->segments[i];
        rpt_segment *d = &segs[i];
        clamp_segment(s, end_cs, &d->t0_cs, &d->t1_cs);
        d->text = s->text ? s->text : "";
        if (s->n_tokens > 0) {
            d->tokens = ids + off;
            for (int k = 0; k < s->n_tokens; k++)
                ids[off + (size_t)k] = s->tokens[k].id;
            d->n_tokens = s->n_tokens;
            off += (size_t)s->n_tokens;
        }
        d->seek = s->seek;
        d->temperature = s->temperature;
        d->avg_logprob = s->avg_logprob;
        d->compression_ratio = s->compression_ratio;
        d->no_speech_prob = s->no_speech_prob;
    }
    *segs_out = segs;
    *ids_out = ids;
    return 0;
}

/* [{word, start, end}] of a segment, or NULL (OOM). */
static json_t *words_json(const rpt_segment *s)
{
    json_t *a = json_array();
    for (int i = 0; a && i < s->n_words; i++) {
        const rpt_word *w = &s->words[i];
        json_t *o = json_pack("{s:s,s:f,s:f}", "word", w->text, "start", (double)w->t0_cs / 100.0,
                              "end", (double)w->t1_cs / 100.0);
        if (!o || json_array_append_new(a, o)) {
            json_decref(a);
            return NULL;
        }
    }
    return a;
}

char *pipeline_segments_json(const rpt_segment *segs, size_t n)
{
    json_t *arr = json_array();
    if (!arr)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        const char *t = segs[i].text ? segs[i].text : "";
        size_t tl = 0;
        char *clean = mdc_utf8_sanitize(t, strlen(t), MDC_UTF8_DROP_NUL, &tl);
        json_t *o = json_object();
        if (!clean || !o ||
            json_object_set_new(o, "start", json_real((double)segs[i].t0_cs / 100.0)) ||
            json_object_set_new(o, "end", json_real((double)segs[i].t1_cs / 100.0)) ||
            json_object_set_new(o, "text", json_stringn(clean, tl)) ||
            (segs[i].speaker && json_object_set_new(o, "speaker", json_string(segs[i].speaker))) ||
            (segs[i].words && json_object_set_new(o, "words", words_json(&segs[i]))) ||
            json_array_append_new(arr, o)) {
            free(clean);
            json_decref(o);
            json_decref(arr);
            return NULL;
        }
        free(clean);
    }
    /* 10 significant digits: centisecond times up to 10^8 s print exactly. */
    char *s = json_dumps(arr, JSON_COMPACT | JSON_REAL_PRECISION(10));
    json_decref(arr);
    return s;
}

static const char *base_name(const char *path)
{
    const char *s = path ? strrchr(path, '/') : NULL;
    return s ? s + 1 : (path ? path : "");
}

/* ---- the pipeline -------------------------------------------------------------------------- */

void pipeline_run(model_holder *holder, const pipeline_request *req, pipeline_result *res)
{
    memset(res, 0, sizeof *res);
    res->http_status = 500;
    double t0 = mdc_now_s();
    progress_ctx prog = {.req = req, .last = -1};
    aud_pcm pcm = {0};
    const wsp_model *model = NULL;
    wsp_state *st = NULL;
    wsp_result *wr = NULL;
    rpt_segment *segs = NULL;
    int32_t *ids = NULL;
    trw_words words = {0};
    const char **speakers = NULL;

    if (!holder || !req || !req->audio_path) {
        set_error(res, 500, "internal_error", "pipeline called without a model or a file");
        goto done;
    }
    const char *lang = req->language;
    if (lang && (lang[0] == '\0' || strcasecmp(lang, "auto") == 0))
        lang = NULL;
    if (lang && wsp_lang_id(lang) < 0) {
        set_error(res, 400, "bad_request",
                  "unknown language \"%.32s\": use an ISO 639-1 code such as pt, en, es, or auto",
                  lang);
        goto done;
    }
    report_progress(&prog, 0);

    /* 1. decode (limits enforced while decoding) */
    aud_error aerr = {0};
    aud_limits limits = req->limits;
    limits.keep_stereo = req->diarize;
    int rc = aud_decode_file(req->audio_path, &limits, req->abort_cb, req->user, &pcm, &aerr);
    if (rc != 0) {
        const char *code = NULL;
        int status = pipeline_http_status_for_audio(rc, &code);
        set_error(res, status, code, "%s", aerr.message[0] ? aerr.message : aud_strerror(rc));
        goto done;
    }
    res->audio_seconds = pcm.info.duration_s;
    prog.audio_s = pcm.info.duration_s;
    aud_info info = pcm.info; /* kept for the report after the samples are freed */
    report_progress(&prog, 5);
    if (aborted(req)) {
        set_error(res, PIPELINE_STATUS_CLIENT_CLOSED, "client_closed", "the request was cancelled");
        goto done;
    }

    /* 2. the model (lazy: the first request loads it) */
    wsp_error werr = {0};
    model = holder_acquire(holder, &werr);
    if (!model) {
        set_error(res, 503, "model_unavailable", "%s",
                  werr.message[0] ? werr.message : "the model could not be loaded");
        goto done;
    }

    /* 3. transcribe */
    rc = wsp_state_new(model, &st, &werr);
    if (rc != 0) {
        const char *code = NULL;
        int status = pipeline_http_status_for_whisper(rc, &code);
        set_error(res, status, code, "cannot prepare the transcription: %s",
                  werr.message[0] ? werr.message : wsp_strerror(rc));
        goto done;
    }
    wsp_params p = wsp_default_params(req->beam_size > 0 ? WSP_SAMPLING_BEAM_SEARCH
                                                         : WSP_SAMPLING_GREEDY);
    if (req->beam_size > 0)
        p.beam_size = req->beam_size;
    if (req->n_threads > 0)
        p.n_threads = req->n_threads;
    p.language = lang;
    p.translate = req->translate;
    p.no_timestamps = req->no_timestamps;
    p.initial_prompt = req->prompt && req->prompt[0] ? req->prompt : NULL;
    if (req->temperature >= 0)
        p.temperature = req->temperature;
    if (req->no_fallback)
        p.temperature_inc = 0;
    p.token_timestamps = req->word_timestamps || req->max_words_per_cue > 0;
    p.progress_cb = engine_progress;
    p.progress_user_data = &prog;
    p.segment_cb = engine_segment;
    p.segment_user_data = &prog;
    engine_abort_ctx actx = {.req = req, .model = model};
    p.abort_cb = engine_abort;
    p.abort_user_data = &actx;
    rc = wsp_transcribe(st, pcm.samples, pcm.n_samples, &p, &wr, &werr);
    /* words need the vocabulary: built while the model is held */
    bool oom = rc == 0 && p.token_timestamps &&
               trw_words_build(model, wr, audio_end_cs(pcm.info.duration_s), &words) != 0;
    if (rc == 0 && req->diarize) {
        speakers = calloc(wr->n_segments > 0 ? (size_t)wr->n_segments : 1, sizeof *speakers);
        oom |= !speakers;
        if (speakers)
            trw_speakers(&pcm, wr, speakers);
    }
    /* The state is freed, never reused, whatever happened (it may hold numbers computed
     * from a lost mapping); then the model's soundness decides whether the result
     * counts: a file changed or truncated during the run → 503, the model is retired and
     * the next request loads the file afresh. */
    wsp_state_free(st); /* before the release: the model may be unloaded after it */
    st = NULL;
    char why[256];
    if (!holder_model_intact(holder, model, why, sizeof why)) {
        holder_release(holder, model);
        model = NULL;
        set_error(res, 503, "model_unavailable", "the transcription was abandoned: %s", why);
        goto done;
    }
    holder_release(holder, model);
    model = NULL;
    aud_pcm_free(&pcm); /* the samples are not needed any more */
    if (rc != 0) {
        const char *code = NULL;
        int status = pipeline_http_status_for_whisper(rc, &code);
        set_error(res, status, code, "transcription failed: %s",
                  werr.message[0] ? werr.message : wsp_strerror(rc));
        goto done;
    }
    if (oom) {
        set_error(res, 500, "internal_error", "out of memory for the words or speakers");
        goto done;
    }
    snprintf(res->language, sizeof res->language, "%s", wr->language);

    /* 4. render */
    const double audio_s = info.duration_s > 0 ? info.duration_s : wr->duration_s;
    if (to_report_segments(wr, audio_s, &segs, &ids) != 0) {
        set_error(res, 500, "internal_error", "out of memory");
        goto done;
    }
    rpt_transcript tr = {
        .segments = segs,
        .n_segments = wr->n_segments > 0 ? (size_t)wr->n_segments : 0,
        .language = wr->language[0] ? wr->language : NULL,
        .language_prob = wr->language_prob,
        .duration_s = audio_s,
        .task = req->translate ? "translate" : "transcribe",
        .want_words = req->word_timestamps,
        .want_segments = req->want_segments,
        .max_words_per_cue = req->max_words_per_cue,
    };
    for (int i = 0; i < wr->n_segments; i++) {
        if (words.first) {
            segs[i].words = words.words + words.first[i];
            segs[i].n_words = words.first[i + 1] - words.first[i];
        }
        if (speakers)
            segs[i].speaker = speakers[i];
    }
    rpt_meta meta = req->meta;
    meta.model = base_name(holder_path(holder));
    if (!meta.source_name)
        meta.source_name = req->source_name;
    if (!meta.container && info.container[0])
        meta.container = info.container;
    if (!meta.codec && info.codec[0])
        meta.codec = info.codec;
    meta.processing_s = mdc_now_s() - t0;
    if (rpt_render(req->format, &tr, &meta, &res->body, &res->body_len) != 0) {
        set_error(res, 500, "internal_error", "cannot render the report (out of memory)");
        goto done;
    }
    res->segments_json = pipeline_segments_json(segs, tr.n_segments);
    if (!res->segments_json) {
        free(res->body);
        res->body = NULL;
        res->body_len = 0;
        set_error(res, 500, "internal_error", "cannot build the segment list (out of memory)");
        goto done;
    }
    res->http_status = 200;
    report_progress(&prog, 100);

done:
    if (res->http_status != 200 && res->http_status != PIPELINE_STATUS_CLIENT_CLOSED)
        MDC_LOG_WARN("%s: %d %s: %s", req && req->source_name ? req->source_name : "request",
                     res->http_status, res->error_code, res->error_message);
    wsp_state_free(st);
    if (model)
        holder_release(holder, model);
    wsp_result_free(wr);
    free(segs);
    free(ids);
    trw_free(&words);
    free(speakers);
    aud_pcm_free(&pcm);
    res->processing_seconds = mdc_now_s() - t0;
}

void pipeline_result_free(pipeline_result *res)
{
    if (!res)
        return;
    free(res->body);
    free(res->segments_json);
    res->body = NULL;
    res->segments_json = NULL;
    res->body_len = 0;
}
