/*
 * pipeline.c — one recording → transcript → rendered output (see pipeline.h).
 *
 * The audio is piped, never held: the upload's file (or the CLI's) is the only full copy
 * of the recording.  aud_measure_file() refuses an over-long file from its packet
 * durations first (no decoding, no model); a first decoding pass computes the whole
 * recording's log-mel maximum (wsp_mel_peak: whisper.cpp clamps the mel at it − 8; not
 * with WHISPER_MEL_CLAMP=running, req->mel_clamp, where each window takes the maximum so
 * far and that pass is skipped); then
 * the decoder stream (aud_stream_*) hands out 1 s chunks that go straight into the
 * engine session (wsp_session_feed), which encodes each 30 s window as soon as its
 * samples are there.  Memory: a chunk, the
 * session's ring of the last ~31 s, the stereo energies with diarize (16 B per 10 ms),
 * the result's segments — nothing else grows with the recording.  Progress comes from
 * the decoder's position in the file (aud_stream_progress), so it moves for containers
 * that declare no duration (browser WebM) or a false one.
 *
 * With voice-activity detection (req->vad) the file is decoded twice: pass 1 feeds the
 * VAD detector only (probabilities: 4 bytes per 32 ms) and plans the audio whisper.cpp's
 * whisper_full(vad = true) transcribes (vad_filter_plan: speech spans + 0.1 s overlap +
 * 0.1 s of silence, and its time table); pass 2 cuts that audio out of the stream into
 * wsp_mel_peak (its maximum), pass 3 decodes again and a vad_cutter cuts it into the session — so the previous-text prompt carries across
 * spans exactly as in whisper.cpp — and transcript.c maps every time back to the
 * recording.  No span: no Whisper model, no decoder, an empty transcript that says so.
 *
 * Order matters for memory: the engine state is freed before the model reference is
 * released (an idle unload may free the model right after the release), and rendering
 * runs without the model.
 */
#include "pipeline.h"
#include "transcript.h"
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

/* ---- languages ---------------------------------------------------------------------- */

/* OpenAI whisper's name aliases (ref: openai/whisper whisper/tokenizer.py TO_LANGUAGE_CODE,
 * the entries that are not a LANGUAGES name). */
static const struct {
    const char *alias, *code;
} k_lang_aliases[] = {
    {"burmese", "my"},      {"valencian", "ca"}, {"flemish", "nl"},  {"haitian", "ht"},
    {"letzeburgesch", "lb"}, {"pushto", "ps"},    {"panjabi", "pa"},  {"moldavian", "ro"},
    {"moldovan", "ro"},     {"sinhalese", "si"}, {"castilian", "es"}, {"mandarin", "zh"},
};

int pipeline_language_parse(const char *in, char *code, size_t codelen)
{
    char low[48];
    size_t n = 0;
    code[0] = '\0';
    if (!in)
        return 0;
    while (*in == ' ' || *in == '\t')
        in++;
    for (; in[n] && n < sizeof low - 1; n++)
        low[n] = (char)((in[n] >= 'A' && in[n] <= 'Z') ? in[n] - 'A' + 'a' : in[n]);
    if (in[n])
        return -1; /* longer than any name */
    while (n > 0 && (low[n - 1] == ' ' || low[n - 1] == '\t'))
        n--;
    low[n] = '\0';
    if (n == 0 || strcmp(low, "auto") == 0)
        return 0;
    const char *found = NULL;
    int id = wsp_lang_id(low); /* a code ("pt") or Whisper's English name ("portuguese") */
    if (id >= 0)
        found = wsp_lang_code(id);
    for (size_t i = 0; !found && i < sizeof k_lang_aliases / sizeof k_lang_aliases[0]; i++)
        if (strcmp(low, k_lang_aliases[i].alias) == 0)
            found = k_lang_aliases[i].code;
    if (!found) {
        /* BCP-47 tag or POSIX locale: the primary subtag (2-3 letters) before '-' or '_' */
        size_t k = strcspn(low, "-_");
        if (k >= 2 && k <= 3 && low[k] && low[k + 1]) {
            low[k] = '\0';
            id = wsp_lang_id(low);
            if (id >= 0)
                found = wsp_lang_code(id);
        }
    }
    if (!found)
        return -1;
    snprintf(code, codelen, "%s", found);
    return 0;
}

/* ---- progress ------------------------------------------------------------------------ */

typedef struct progress_ctx {
    const pipeline_request *req;
    int last; /* last percent reported, so the bar never goes backwards */
    double audio_s; /* the recording's duration once known (0 while streaming: segment
                       times are then not clamped, and need not be — a window the
                       session runs inside a feed ends before the audio fed so far) */
    const wsp_model *model; /* held while the engine runs: token texts for logprobs */
    const vad_filtered *vad; /* the engine's audio plan when the VAD chose it, else NULL */
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

/* ---- log-probabilities --------------------------------------------------------------- */

/* The text tokens (id < <|endoftext|>: no timestamps, no specials) of segs[0..n) as
 * rpt_logprob entries whose bytes are copied into one block, so they outlive the model.
 * *lp_out and *blob_out are malloc'd (caller frees both; NULL when there are no tokens).
 * Returns 0 or -1 on OOM. */
static int collect_logprobs(const wsp_model *model, const wsp_segment *segs, int n,
                            rpt_logprob **lp_out, size_t *n_out, char **blob_out)
{
    const int32_t eot = wsp_token_eot(model);
    size_t count = 0, bytes = 0;
    *lp_out = NULL;
    *n_out = 0;
    *blob_out = NULL;
    for (int i = 0; i < n; i++)
        for (int k = 0; k < segs[i].n_tokens; k++)
            if (segs[i].tokens[k].id < eot) {
                count++;
                bytes += strlen(wsp_token_text(model, segs[i].tokens[k].id));
            }
    if (count == 0)
        return 0;
    rpt_logprob *lp = malloc(count * sizeof *lp);
    char *blob = malloc(bytes + 1);
    if (!lp || !blob) {
        free(lp);
        free(blob);
        return -1;
    }
    size_t j = 0, off = 0;
    for (int i = 0; i < n; i++)
        for (int k = 0; k < segs[i].n_tokens; k++) {
            const wsp_token *t = &segs[i].tokens[k];
            if (t->id >= eot)
                continue;
            const char *txt = wsp_token_text(model, t->id);
            size_t l = strlen(txt);
            memcpy(blob + off, txt, l);
            lp[j++] = (rpt_logprob){.bytes = blob + off, .n_bytes = l, .logprob = t->plog};
            off += l;
        }
    *lp_out = lp;
    *n_out = count;
    *blob_out = blob;
    return 0;
}

/* Engine new-segment callback: hands the segment on (progress comes from the decoder's
 * position, see pipe_pump). */
static void engine_segment(const wsp_segment *seg, int index, void *user)
{
    progress_ctx *p = user;
    int64_t t0, t1; /* on the recording's timeline (mapped back when the VAD chose the audio) */
    transcript_segment_times(seg, p->vad, p->audio_s, &t0, &t1);
    if (p->req->segment_cb) {
        rpt_logprob *lp = NULL;
        char *blob = NULL;
        size_t n_lp = 0;
        /* out of memory here only costs this event its logprobs; the result keeps them */
        if (p->req->logprobs && collect_logprobs(p->model, seg, 1, &lp, &n_lp, &blob) != 0)
            n_lp = 0;
        pipeline_segment ps = {
            .index = index,
            .text = seg->text ? seg->text : "",
            .t0_s = (double)t0 / 100.0,
            .t1_s = (double)t1 / 100.0,
            .logprobs = lp,
            .n_logprobs = n_lp,
        };
        p->req->segment_cb(&ps, p->req->user);
        free(lp);
        free(blob);
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

int pipeline_turns_parse(const char *s, pipeline_turns *out)
{
    static const char *const names[] = {"auto", "segment", "audio"};
    for (int i = 0; s && i < 3; i++)
        if (!strcmp(s, names[i])) {
            *out = (pipeline_turns)i;
            return 0;
        }
    return -1;
}

int pipeline_turns_check(pipeline_turns t, bool diarize, rpt_format fmt)
{
    if (t == PIPELINE_TURNS_AUTO)
        return 0;
    if (!diarize)
        return PIPELINE_TURNS_NEED_DIARIZE;
    if (fmt != RPT_FORMAT_MARKDOWN && fmt != RPT_FORMAT_DIARIZED_JSON)
        return PIPELINE_TURNS_NEED_FORMAT;
    return 0;
}

/* Turns measured on the audio for this request (see pipeline_turns). */
static bool audio_turns(const pipeline_request *req)
{
    if (!req->diarize)
        return false;
    if (req->speaker_turns == PIPELINE_TURNS_AUTO)
        return req->format == RPT_FORMAT_MARKDOWN;
    return req->speaker_turns == PIPELINE_TURNS_AUDIO &&
           (req->format == RPT_FORMAT_MARKDOWN || req->format == RPT_FORMAT_DIARIZED_JSON);
}

/* Word times are needed: asked for, word cues, or to split text at speaker turns. */
static bool need_words(const pipeline_request *req)
{
    return req->word_timestamps || req->max_words_per_cue > 0 || audio_turns(req);
}

bool pipeline_needs_words(const pipeline_request *req) { return need_words(req); }

int pipeline_dtw_parse(const char *s, int *out)
{
    wsp_aheads_preset p;
    if (!s)
        return -1;
    if (!strcmp(s, "off")) {
        *out = PIPELINE_DTW_OFF;
        return 0;
    }
    if (!strcmp(s, "auto")) {
        *out = PIPELINE_DTW_AUTO;
        return 0;
    }
    if (wsp_aheads_preset_parse(s, &p) != 0)
        return -1;
    *out = (int)p;
    return 0;
}

/* The alignment heads for this request on this model (*out NONE = DTW off).  Returns 0,
 * or -1 with a 400 in res (auto on a size without one preset, heads the model lacks). */
static int dtw_preset(const pipeline_request *req, const wsp_model *model,
                      wsp_aheads_preset *out, pipeline_result *res)
{
    *out = WSP_AHEADS_NONE;
    if (req->dtw == PIPELINE_DTW_OFF || !need_words(req))
        return 0;
    wsp_aheads_preset p = (wsp_aheads_preset)req->dtw;
    if (req->dtw == PIPELINE_DTW_AUTO && wsp_aheads_preset_for_model(model, &p) != 0) {
        set_error(res, 400, "bad_request",
                  "dtw=auto: the model's size (%s%s) has no single alignment-head preset; "
                  "name one (tiny, tiny.en, base, base.en, small, small.en, medium, "
                  "medium.en, large-v1, large-v2, large-v3, large-v3-turbo) or use dtw=off",
                  wsp_model_type_name(model), wsp_model_is_multilingual(model) ? "" : ".en");
        snprintf(res->error_param, sizeof res->error_param, "dtw");
        return -1;
    }
    if (!wsp_aheads_preset_fits(model, p)) {
        const wsp_hparams *hp = wsp_model_hparams(model);
        set_error(res, 400, "bad_request",
                  "dtw=%s: the alignment heads of %s do not fit this model (%d text layers, "
                  "%d heads per layer); use the preset of the model's size, auto or off",
                  wsp_aheads_preset_name(p), wsp_aheads_preset_name(p), hp->n_text_layer,
                  hp->n_text_head);
        snprintf(res->error_param, sizeof res->error_param, "dtw");
        return -1;
    }
    *out = p;
    return 0;
}

char *pipeline_segments_json(const rpt_segment *segs, size_t n, bool with_words)
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
            (with_words && segs[i].words &&
             json_object_set_new(o, "words", words_json(&segs[i]))) ||
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

static wsp_params engine_params(const pipeline_request *req, const char *lang, progress_ctx *prog)
{
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
    p.seed = req->seed;
    p.token_timestamps = need_words(req);
    p.segment_cb = engine_segment;
    p.segment_user_data = prog;
    p.abort_cb = req->abort_cb;
    p.abort_user_data = req->user;
    return p;
}

/* The words the transcript stage gets: only when they were computed. */
static const trw_words *p_words(const pipeline_request *req, const trw_words *w)
{
    return need_words(req) ? w : NULL;
}

static bool vad_aborted(void *user)
{
    const pipeline_request *req = user;
    return aborted(req);
}

/* ---- the audio pipe: decoder stream → sink, chunk by chunk --------------------------- */

#define PIPE_CHUNK 16000 /* samples per read: 1 s at 16 kHz (64 KB) */

typedef struct audio_pipe {
    const pipeline_request *req;
    progress_ctx *prog;
    aud_limits limits;    /* the request's, keep_stereo = diarize */
    aud_stream *st;       /* open between pipe_open and the end of pipe_pump */
    float buf[PIPE_CHUNK];
    size_t n_buf;         /* prefetched samples in buf, not yet given to a sink */
    uint64_t n_total;     /* samples the last pass decoded */
    aud_info info;        /* of the last pass, final once it ended */
    aud_energy energy;    /* diarize: the channels' energies (the first pass's) */
    int pct_lo, pct_hi;   /* the pass's share of the progress bar */
} audio_pipe;

/* 0, or -1 after the sink recorded its own error. */
typedef int (*pipe_sink)(const float *x, size_t n, void *user);

static int audio_failed(pipeline_result *res, int rc, const aud_error *e)
{
    const char *code = NULL;
    int status = pipeline_http_status_for_audio(rc, &code);
    set_error(res, status, code, "%s", e->message[0] ? e->message : aud_strerror(rc));
    return -1;
}

/* Opens the decoder on the request's file (measured first when `measure`: an over-long
 * file is refused here from its packet durations, before anything is decoded).
 * 0, or -1 with res filled. */
static int pipe_open(audio_pipe *ap, bool measure, pipeline_result *res)
{
    const pipeline_request *req = ap->req;
    aud_error e = {0};
    int rc = 0;
    if (measure) {
        double measured = -1;
        rc = aud_measure_file(req->audio_path, &ap->limits, req->abort_cb, req->user, &measured,
                              &e);
    }
    if (!rc)
        rc = aud_stream_open(req->audio_path, &ap->limits, req->abort_cb, req->user, &ap->st, &e);
    return rc ? audio_failed(res, rc, &e) : 0;
}

/* Decodes the first chunk into ap->buf (so a file that decodes to nothing fails before
 * a model is loaded).  0, or -1 with res filled. */
static int pipe_prefetch(audio_pipe *ap, pipeline_result *res)
{
    aud_error e = {0};
    int rc = aud_stream_read(ap->st, ap->buf, PIPE_CHUNK, &ap->n_buf, &e);
    return rc ? audio_failed(res, rc, &e) : 0;
}

/* Decodes the rest of the stream (after any prefetched chunk) into sink, reporting the
 * decoder's position as progress in [pct_lo, pct_hi]; then closes the stream, keeping
 * its final info (and its energies, if none were kept yet).
 * 0; -1 with res filled (audio error); -2 when the sink failed (its error is its own). */
static int pipe_pump(audio_pipe *ap, pipe_sink sink, void *user, pipeline_result *res)
{
    aud_error e = {0};
    int rc = 0;
    ap->n_total = 0;
    for (;;) {
        if (ap->n_buf == 0) {
            rc = aud_stream_read(ap->st, ap->buf, PIPE_CHUNK, &ap->n_buf, &e);
            if (rc) {
                audio_failed(res, rc, &e);
                rc = -1;
                break;
            }
            if (ap->n_buf == 0)
                break; /* the end */
        }
        const size_t n = ap->n_buf;
        ap->n_buf = 0;
        ap->n_total += n;
        if (sink(ap->buf, n, user) != 0) {
            rc = -2;
            break;
        }
        const double f = aud_stream_progress(ap->st);
        report_progress(ap->prog, ap->pct_lo + (int)((ap->pct_hi - ap->pct_lo) * f));
    }
    if (rc == 0) {
        ap->info = *aud_stream_info(ap->st);
        res->audio_seconds = ap->info.duration_s;
        if (ap->energy.n_samples == 0) {
            aud_energy_free(&ap->energy);
            aud_stream_take_energy(ap->st, &ap->energy);
        }
    }
    aud_stream_close(ap->st);
    ap->st = NULL;
    return rc;
}

static void pipe_free(audio_pipe *ap)
{
    aud_stream_close(ap->st);
    ap->st = NULL;
    aud_energy_free(&ap->energy);
}

/* ---- pass 1 with VAD: probabilities → spans → the plan of the engine's audio ---------- */

typedef struct detector_feed {
    vad_detector *det;
    vad_error err; /* the detector's error, when it failed */
} detector_feed;

static int detector_sink(const float *x, size_t n, void *user)
{
    detector_feed *df = user;
    return vad_detector_feed(df->det, x, n, &df->err) ? -1 : 0;
}

/* Decodes the whole recording through the VAD detector (the audio itself is not kept)
 * and plans what the engine will see (*plan: map and pieces, no samples; empty when no
 * speech).  0, or -1 with res filled (503 when the VAD model cannot be loaded, 499 when
 * cancelled, 4xx for the audio, 500 otherwise). */
static int vad_pass(audio_pipe *ap, vad_filtered *plan, double *speech_s, pipeline_result *res)
{
    const pipeline_request *req = ap->req;
    wsp_error herr = {0};
    const vad_model *vm = holder_acquire_vad(req->vad_holder, &herr);
    if (!vm) {
        set_error(res, 503, "model_unavailable", "voice-activity detection: %s",
                  herr.message[0] ? herr.message : "no VAD model is configured (WHISPER_VAD_MODEL)");
        return -1;
    }
    const int n_window = vad_model_n_window(vm);
    detector_feed df = {0};
    vad_error verr = {0};
    double t0 = mdc_now_ms();
    float *probs = NULL;
    size_t n_probs = 0;
    int rc = vad_detector_new(vm, vad_aborted, (void *)req, &df.det, &verr);
    int prc = rc ? -2 : pipe_pump(ap, detector_sink, &df, res);
    if (prc == -2 && !rc) { /* the detector's own error */
        rc = df.err.code ? df.err.code : VAD_ENOMEM;
        verr = df.err;
    }
    if (prc == 0)
        rc = vad_detector_finish(df.det, &probs, &n_probs, &verr);
    vad_detector_free(df.det);
    holder_release(req->vad_holder, vm);
    if (prc == -1)
        return -1; /* the audio's error */
    if (rc != 0) {
        free(probs);
        if (rc == VAD_ECANCELED)
            set_error(res, PIPELINE_STATUS_CLIENT_CLOSED, "client_closed", "the request was cancelled");
        else
            set_error(res, 500, "internal_error", "voice-activity detection failed: %s",
                      verr.message[0] ? verr.message : vad_strerror(rc));
        return -1;
    }
    vad_span *spans = NULL;
    size_t n_spans = 0;
    rc = vad_segments_from_probs(probs, n_probs, n_window, &req->vad_params, &spans, &n_spans);
    free(probs);
    if (rc == 0)
        rc = vad_filter_plan((size_t)ap->n_total, spans, n_spans, req->vad_params.samples_overlap,
                             plan);
    double kept_cs = 0;
    for (size_t i = 0; i < n_spans; i++)
        kept_cs += (double)(spans[i].t1_cs - spans[i].t0_cs);
    free(spans);
    if (rc != 0) {
        set_error(res, rc == VAD_EINVAL ? 400 : 500, rc == VAD_EINVAL ? "bad_request" : "internal_error",
                  "voice-activity detection: %s", rc == VAD_EINVAL ? "invalid VAD parameters"
                                                                   : "out of memory");
        return -1;
    }
    /* spans may end past the audio (whisper.cpp measures it as n_probs · 512 samples) */
    const double dur = ap->info.duration_s;
    *speech_s = kept_cs / 100.0;
    if (*speech_s > dur && dur > 0)
        *speech_s = dur;
    MDC_LOG_INFO("voice-activity detection: %zu speech span(s), %.1f s of %.1f s kept, %zu "
                 "samples to transcribe (%.1f ms)", n_spans, *speech_s, dur, plan->n_samples,
                 mdc_now_ms() - t0);
    return 0;
}

/* ---- the engine session as the pipe's sink ------------------------------------------- */

typedef struct engine_feed {
    wsp_session *sess;
    int rc;          /* the first engine error, 0 while fine */
    wsp_error err;
    vad_cutter *cut; /* with VAD: cuts the planned audio out of the decoded stream */
} engine_feed;

static int session_emit(const float *x, size_t n, void *user)
{
    engine_feed *ef = user;
    ef->rc = wsp_session_feed(ef->sess, x, n, &ef->err);
    return ef->rc ? -1 : 0;
}

static int engine_sink(const float *x, size_t n, void *user)
{
    engine_feed *ef = user;
    if (!ef->cut)
        return session_emit(x, n, user);
    return vad_cutter_feed(ef->cut, x, n, session_emit, ef) ? -1 : 0;
}

/* ---- the log-mel maximum: a decoding pass before the session ------------------------- */

typedef struct peak_feed {
    wsp_mel_peak *peak;
    int rc;          /* the first engine error, 0 while fine */
    wsp_error err;
    vad_cutter *cut; /* with VAD: the same planned audio the session will get */
} peak_feed;

static int peak_emit(const float *x, size_t n, void *user)
{
    peak_feed *pf = user;
    pf->rc = wsp_mel_peak_feed(pf->peak, x, n, &pf->err);
    return pf->rc ? -1 : 0;
}

static int peak_sink(const float *x, size_t n, void *user)
{
    peak_feed *pf = user;
    if (!pf->cut)
        return peak_emit(x, n, user);
    return vad_cutter_feed(pf->cut, x, n, peak_emit, pf) ? -1 : 0;
}

/* whisper.cpp clamps the log-mel at (the whole recording's maximum) − 8, so the session
 * needs that maximum before its first window (wsp_params.mel_clamp GLOBAL): one decoding
 * pass through wsp_mel_peak (with VAD: through a cutter of the plan, the audio the
 * engine will see), then the stream is reopened for the session.  *max on success.
 * Returns 0; -1 with res filled (audio); or a WSP_E* code with *werr (engine). */
static int mel_peak_pass(audio_pipe *ap, const wsp_model *model, const vad_filtered *plan,
                         float *max, wsp_error *werr, pipeline_result *res)
{
    peak_feed pf = {0};
    pf.rc = wsp_mel_peak_new(model, &pf.peak, &pf.err);
    if (pf.rc == 0 && plan && vad_cutter_new(plan, &pf.cut) != 0)
        pf.rc = WSP_ENOMEM;
    int prc = pf.rc ? -2 : pipe_pump(ap, peak_sink, &pf, res);
    if (prc == -2 && pf.rc == 0) {
        pf.rc = WSP_EINTERNAL;
        snprintf(pf.err.message, sizeof pf.err.message,
                 "the mel pass did not give the audio the VAD pass planned");
    }
    if (prc == 0 && pf.rc == 0)
        pf.rc = wsp_mel_peak_end(pf.peak, max, &pf.err);
    wsp_mel_peak_free(pf.peak);
    vad_cutter_free(pf.cut);
    *werr = pf.err;
    if (prc == -1)
        return -1;
    if (pf.rc == 0 && pipe_open(ap, false, res) != 0)
        return -1;
    return pf.rc;
}

void pipeline_run(model_holder *holder, const pipeline_request *req, pipeline_result *res)
{
    memset(res, 0, sizeof *res);
    res->http_status = 500;
    double t0 = mdc_now_s();
    progress_ctx prog = {.req = req, .last = -1};
    audio_pipe *ap = NULL;
    const wsp_model *model = NULL;
    wsp_state *st = NULL;
    wsp_result *wr = NULL;
    rpt_logprob *lps = NULL;
    size_t n_lps = 0;
    char *lp_blob = NULL;
    vad_filtered plan = {0};
    double speech_s = 0;
    svc_transcript tx = {0};
    trw_words words = {0};
    engine_feed ef = {0};

    if (!holder || !req || !req->audio_path) {
        set_error(res, 500, "internal_error", "pipeline called without a model or a file");
        goto done;
    }
    char lang_code[8];
    if (pipeline_language_parse(req->language, lang_code, sizeof lang_code) != 0) {
        set_error(res, 400, "bad_request",
                  "unknown language \"%.32s\": use an ISO 639-1 code such as pt, en, es, a tag "
                  "such as pt-BR, an English name such as portuguese, or auto",
                  req->language);
        goto done;
    }
    const char *lang = lang_code[0] ? lang_code : NULL;
    report_progress(&prog, 0);
    ap = calloc(1, sizeof *ap);
    if (!ap) {
        set_error(res, 500, "internal_error", "out of memory");
        goto done;
    }
    ap->req = req;
    ap->prog = &prog;
    ap->limits = req->limits;
    ap->limits.keep_stereo = req->diarize; /* the channels, for the speakers */
    ap->pct_lo = 0;
    ap->pct_hi = 99; /* 100 once the report is rendered */

    /* 1. the decoder: measured (limits before any work), opened, first chunk decoded */
    if (pipe_open(ap, true, res) != 0)
        goto done;
    /* 2. voice-activity detection: pass 1 over the whole recording plans the engine's
     *    audio; pass 2 (below) decodes it again through the cutter */
    if (req->vad) {
        ap->pct_hi = 10;
        if (vad_pass(ap, &plan, &speech_s, res) != 0)
            goto done;
        res->vad_used = true;
        res->speech_seconds = speech_s;
        res->audio_seconds = ap->info.duration_s;
        prog.vad = &plan;
        prog.audio_s = ap->info.duration_s;
        ap->pct_lo = 10;
        ap->pct_hi = 99;
        if (plan.n_samples > 0 && pipe_open(ap, false, res) != 0)
            goto done;
    }
    if (!req->vad && pipe_prefetch(ap, res) != 0)
        goto done;
    if (aborted(req)) {
        set_error(res, PIPELINE_STATUS_CLIENT_CLOSED, "client_closed", "the request was cancelled");
        goto done;
    }

    wsp_error werr = {0};
    if (!req->vad || plan.n_samples > 0) {
        /* 3. the model (lazy: the first request loads it) */
        model = holder_acquire(holder, &werr);
        if (!model) {
            set_error(res, 503, "model_unavailable", "%s",
                      werr.message[0] ? werr.message : "the model could not be loaded");
            goto done;
        }

        /* 4. the log-mel maximum (a decoding pass), then transcribe: the decoder feeds
         *    the session chunk by chunk */
        wsp_aheads_preset heads;
        if (dtw_preset(req, model, &heads, res) != 0)
            goto done;
        float mel_max = 0;
        const bool global_clamp = req->mel_clamp == WSP_MEL_CLAMP_GLOBAL;
        int rc = 0;
        if (global_clamp) { /* WHISPER_MEL_CLAMP=running needs no maximum ahead */
            ap->pct_hi = ap->pct_lo + 10;
            rc = mel_peak_pass(ap, model, req->vad ? &plan : NULL, &mel_max, &werr, res);
        }
        if (rc == -1)
            goto done;
        if (rc != 0) {
            const char *code = NULL;
            int status = pipeline_http_status_for_whisper(rc, &code);
            set_error(res, status, code, "cannot compute the log-mel maximum: %s",
                      werr.message[0] ? werr.message : wsp_strerror(rc));
            goto done;
        }
        MDC_LOG_DEBUG("%s: log-mel clamp %s (%s)", req->source_name ? req->source_name : "request",
                      global_clamp ? "global" : "running",
                      global_clamp ? "maximum found by a decoding pass" : "no extra pass");
        if (global_clamp)
            ap->pct_lo = ap->pct_hi;
        ap->pct_hi = 99;
        rc = holder_lease_state(holder, model, &st, &werr);
        if (rc != 0) {
            const char *code = NULL;
            int status = pipeline_http_status_for_whisper(rc, &code);
            set_error(res, status, code, "cannot prepare the transcription: %s",
                      werr.message[0] ? werr.message : wsp_strerror(rc));
            goto done;
        }
        wsp_params p = engine_params(req, lang, &prog);
        p.dtw_aheads_preset = heads;
        p.mel_clamp = req->mel_clamp;
        engine_abort_ctx actx = {.req = req, .model = model};
        p.abort_cb = engine_abort;
        p.abort_user_data = &actx;
        prog.model = model;
        ef.rc = wsp_session_begin(st, &p, &ef.sess, &ef.err);
        if (ef.rc == 0 && global_clamp)
            ef.rc = wsp_session_set_mel_max(ef.sess, mel_max, &ef.err);
        if (ef.rc == 0 && req->vad && vad_cutter_new(&plan, &ef.cut) != 0)
            ef.rc = WSP_ENOMEM;
        int prc = ef.rc ? -2 : pipe_pump(ap, engine_sink, &ef, res);
        if (prc == -2 && ef.rc == 0) { /* the cutter failed: the plan and pass 2 disagree */
            ef.rc = WSP_EINTERNAL;
            snprintf(ef.err.message, sizeof ef.err.message,
                     "the second decoding pass did not give the audio the VAD pass planned");
        }
        if (prc == 0 && ef.cut && vad_cutter_finish(ef.cut) != 0) {
            ef.rc = WSP_EINTERNAL;
            snprintf(ef.err.message, sizeof ef.err.message,
                     "the second decoding pass ended before the audio the VAD pass planned");
        }
        if (prc == 0 && ef.rc == 0) {
            prog.audio_s = ap->info.duration_s; /* the last windows are clamped to it */
            ef.rc = wsp_session_end(ef.sess, &wr, &ef.err);
        }
        wsp_session_free(ef.sess);
        ef.sess = NULL;
        rc = prc == -1 ? 0 : ef.rc; /* an audio error is already in res */
        werr = ef.err;
        /* token texts live in the model: copy them before it is released */
        if (prc == 0 && rc == 0 && req->logprobs &&
            collect_logprobs(model, wr->segments, wr->n_segments, &lps, &n_lps, &lp_blob) != 0)
            rc = WSP_ENOMEM;
        /* words need the vocabulary: joined while the model is held (times mapped and
         * clamped by the transcript stage) */
        if (prc == 0 && rc == 0 && p.token_timestamps &&
            trw_words_build(model, wr, INT64_MAX / 4, heads != WSP_AHEADS_NONE, &words))
            rc = WSP_ENOMEM;
        /* The model's soundness decides whether the result counts: a file changed or
         * truncated during the run → 503, the model is retired and the next request
         * loads the file afresh.  The state goes back to the holder before the release
         * (the model may be unloaded after it), kept for the next request only after a
         * run on an intact model that the engine did not fail (a failed or suspect one
         * may hold numbers from a lost mapping; an audio error leaves it sound). */
        char why[256];
        const bool intact = holder_model_intact(holder, model, why, sizeof why);
        holder_return_state(holder, model, st, rc == 0 && intact);
        st = NULL;
        if (!intact) {
            holder_release(holder, model);
            model = NULL;
            set_error(res, 503, "model_unavailable", "the transcription was abandoned: %s", why);
            goto done;
        }
        holder_release(holder, model);
        model = NULL;
        if (prc == -1)
            goto done;
        if (rc != 0) {
            const char *code = NULL;
            int status = pipeline_http_status_for_whisper(rc, &code);
            set_error(res, status, code, "transcription failed: %s",
                      werr.message[0] ? werr.message : wsp_strerror(rc));
            goto done;
        }
        snprintf(res->language, sizeof res->language, "%s", wr->language);
        res->encoder_windows = wr->timings.n_windows;
        res->decoder_steps = wr->timings.n_decode_steps;
    } else if (lang) {
        snprintf(res->language, sizeof res->language, "%s", lang);
    }

    /* 5. assemble and render */
    const aud_info info = ap->info;
    res->audio_seconds = info.duration_s;
    const double audio_s = info.duration_s > 0 ? info.duration_s : (wr ? wr->duration_s : 0);
    const transcript_input tin = {
        .result = wr,
        .vad = req->vad ? &plan : NULL,
        .vad_used = req->vad,
        .speech_s = speech_s,
        .audio_s = audio_s,
        .language = lang,
        .translate = req->translate,
        .words = p_words(req, &words),
        .stereo = req->diarize ? &ap->energy : NULL,
        .audio_turns = audio_turns(req),
        .want_words = req->word_timestamps,
        .want_segments = req->want_segments,
        .max_words_per_cue = req->max_words_per_cue,
    };
    if (transcript_build(&tin, &tx) != 0) {
        set_error(res, 500, "internal_error", "out of memory");
        goto done;
    }
    rpt_transcript tr = tx.tr;
    tr.logprobs = lps;
    tr.n_logprobs = n_lps;
    tr.with_logprobs = req->logprobs;
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
    res->segments_json = pipeline_segments_json(tx.segs, tr.n_segments, req->word_timestamps);
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
    wsp_session_free(ef.sess);
    vad_cutter_free(ef.cut);
    holder_return_state(holder, model, st, false);
    if (model)
        holder_release(holder, model);
    transcript_free(&tx); /* before the result and the words it points into */
    trw_free(&words);
    wsp_result_free(wr);
    free(lps);
    free(lp_blob);
    vad_filtered_free(&plan);
    if (ap) {
        pipe_free(ap);
        free(ap);
    }
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
