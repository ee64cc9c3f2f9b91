/*
 * http_transcribe.c — POST /relatorio/process-meeting and the OpenAI-compatible
 * POST /v1/audio/transcriptions and /v1/audio/translations.
 *
 * The handler validates the form on the MHD thread, hands the request to the worker
 * pool and suspends the connection; the worker runs pipeline_run() and resumes it; the
 * handler is then called again and answers.  A full pool answers 503 + Retry-After at
 * once.  The MHD thread never waits for the model, the queue or a worker.
 */
#include <errno.h>
#include <stdint.h>

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mdc/clock.h"
#include "mdc/log.h"
#include "routes.h"
#include "vad_options.h"

/* ---- shared helpers ----------------------------------------------------------- */

void http_note_transcription(svc_server *srv, const char *endpoint, const pipeline_result *res,
                             double wall_s)
{
    const char *status = res->http_status == 200 ? "ok"
                         : res->error_code[0]    ? res->error_code
                                                 : "error";
    svc_metrics_transcription(&srv->metrics, endpoint, status, wall_s, res->audio_seconds);
    svc_metrics_engine_work(&srv->metrics, res->encoder_windows, res->decoder_steps,
                            res->http_status == 200 && res->vad_used, res->speech_seconds);
    if (res->http_status == 200) {
        /* exponential moving average for the Retry-After estimate */
        double avg = atomic_load(&srv->avg_transcription_s);
        atomic_store(&srv->avg_transcription_s, avg > 0 ? 0.8 * avg + 0.2 * wall_s : wall_s);
    }
}

enum MHD_Result http_send_pipeline_error(http_req *req, const pipeline_result *res)
{
    unsigned status = res->http_status >= 400 && res->http_status <= 599 ? (unsigned)res->http_status
                                                                         : 500;
    const char *code = res->error_code[0] ? res->error_code : "internal_error";
    const char *msg = res->error_message[0] ? res->error_message : "transcription failed";
    if (status == 503) {
        /* model_unavailable / shutting_down: tell clients when a retry makes sense (the
         * holder retries a failed load no sooner than WHISPER_LOAD_RETRY_MS) */
        int backoff_s = (req->srv->cfg->load_retry_backoff_ms + 999) / 1000;
        char ra[16];
        snprintf(ra, sizeof ra, "%d", backoff_s < 1 ? 1 : backoff_s);
        return http_send_error_hdr(req, status, MHD_HTTP_HEADER_RETRY_AFTER, ra, code, "%s", msg);
    }
    return http_send_error_param(req, status, code, http_pipeline_error_param(res), "%s", msg);
}

const char *http_pipeline_error_param(const pipeline_result *res)
{
    /* 413/415/422 are about the file; a 400 names its field (language when unsaid) */
    if (res->http_status == 413 || res->http_status == 415 || res->http_status == 422)
        return "file";
    if (res->http_status == 400)
        return res->error_param[0] ? res->error_param : "language";
    return NULL;
}

enum MHD_Result http_send_markdown_json(http_req *req, const char *md, const char *segments_json)
{
    json_t *segs = segments_json ? json_loads(segments_json, 0, NULL) : NULL;
    if (!segs)
        segs = json_array();
    json_t *o = json_object();
    json_object_set_new(o, "markdown", json_string(md ? md : ""));
    json_object_set_new(o, "segments", segs);
    return http_send_json(req, 200, o);
}

/* One boolean form field (absent or empty = false).  Returns false after queueing a 400
 * naming it. */
static bool bool_field(http_req *req, const char *name, bool *out, enum MHD_Result *ret)
{
    const char *v = upl_field(req->work.form, name);
    *out = false;
    if (!v || !*v || svc_config_parse_bool(v, out) == 0)
        return true;
    *ret = http_send_error_param(req, 400, "invalid_field", name,
                                 "%s must be true or false (got \"%.20s\")", name, v);
    return false;
}

/* An explicit speaker_turns must apply to the request (pipeline_turns_check), and so
 * must a dtw the form names (it only changes word times).  Returns false after queueing
 * a 400. */
static bool check_turns(http_req *req, const pipeline_request *pr, enum MHD_Result *ret)
{
    const int why = pipeline_turns_check(pr->speaker_turns, pr->diarize, pr->format);
    if (why) {
        *ret = http_send_error_param(req, 400, "invalid_field", "speaker_turns", "%s",
                                     why == PIPELINE_TURNS_NEED_DIARIZE
                                         ? "speaker_turns needs diarize=true (or "
                                           "response_format diarized_json)"
                                         : "speaker_turns applies to the Markdown report and "
                                           "diarized_json only (the other formats carry "
                                           "whisper.cpp's per-segment labels)");
        return false;
    }
    const char *dtw = upl_field(req->work.form, "dtw");
    if (dtw && *dtw && pr->dtw != PIPELINE_DTW_OFF && !pipeline_needs_words(pr)) {
        *ret = http_send_error_param(req, 400, "invalid_field", "dtw",
                                     "dtw sets word times: ask for words too "
                                     "(timestamp_granularities[]=word with verbose_json, "
                                     "max_words_per_cue, or diarize with speaker turns)");
        return false;
    }
    return true;
}

/* Fills the fields every transcription shares.  Returns false after queueing a 400. */
static bool common_fields(svc_server *srv, http_req *req, pipeline_request *pr,
                          enum MHD_Result *ret)
{
    const svc_config *cfg = srv->cfg;
    upl_form *f = req->work.form;
    memset(pr, 0, sizeof *pr);
    pr->audio_path = upl_file_path(f);
    pr->source_name = upl_file_name(f);
    pr->temperature = -1;
    pr->n_threads = cfg->threads;
    pr->mel_clamp = (wsp_mel_clamp)cfg->mel_clamp;
    pr->limits.max_seconds = cfg->max_audio_seconds;
    pr->limits.max_bytes = cfg->max_upload_bytes;
    pr->meta.processing_s = -1;
    pr->meta.source_name = pr->source_name;
    const char *lang = upl_field(f, "language");
    char code[8];
    if (lang && pipeline_language_parse(lang, code, sizeof code) != 0) {
        *ret = http_send_error_param(req, 400, "invalid_field", "language",
                                     "unknown language \"%.20s\": use an ISO 639-1 code (pt, en, "
                                     "es …), a tag such as pt-BR or en-US, an English name such as "
                                     "portuguese, or auto",
                                     lang);
        return false;
    }
    pr->language = lang; /* the pipeline normalises it the same way */
    /* md-converter extension, as the CLI's --no-fallback: no temperature fallback */
    if (!bool_field(req, "no_fallback", &pr->no_fallback, ret))
        return false;
    /* md-converter extension: seed of the sampler at temperature > 0 (reproducible) */
    const char *seed = upl_field(f, "seed");
    if (seed && *seed) {
        char *end = NULL;
        errno = 0;
        const unsigned long long s = strtoull(seed, &end, 10);
        if (!end || *end || errno || seed[0] == '-' || s > UINT32_MAX) {
            *ret = http_send_error(req, 400, "invalid_field",
                                   "seed must be an integer from 0 to 4294967295 (got \"%.20s\")",
                                   seed);
            return false;
        }
        pr->seed = (uint32_t)s;
    }
    /* md-converter extension (whisper.cpp server's beam_size, whisper-cli -bs): beam
     * search with that many beams at temperature 0 (absent or empty: greedy) */
    const char *beam = upl_field(f, "beam_size");
    if (beam && *beam) {
        char *end = NULL;
        errno = 0;
        const long b = strtol(beam, &end, 10);
        if (!end || *end || errno || b < 1 || b > PIPELINE_MAX_BEAMS) {
            *ret = http_send_error_param(req, 400, "invalid_field", "beam_size",
                                         "beam_size must be an integer from 1 to %d (got "
                                         "\"%.20s\")",
                                         PIPELINE_MAX_BEAMS, beam);
            return false;
        }
        pr->beam_size = (int)b;
    }
    /* md-converter extension (whisper.cpp -di): speakers of a stereo recording by
     * channel energy */
    if (!bool_field(req, "diarize", &pr->diarize, ret))
        return false;
    /* md-converter extension: where the report's / diarized_json's speakers come from
     * (checked against the format by check_turns once it is known) */
    const char *turns = upl_field(f, "speaker_turns");
    if (turns && *turns && pipeline_turns_parse(turns, &pr->speaker_turns) != 0) {
        *ret = http_send_error_param(req, 400, "invalid_field", "speaker_turns",
                                     "speaker_turns must be auto, segment or audio (got "
                                     "\"%.20s\")", turns);
        return false;
    }
    /* md-converter extension (whisper.cpp -dtw): word times by cross-attention DTW;
     * the server's WHISPER_DTW unless the form names one (checked by check_dtw) */
    const char *dtw = upl_field(f, "dtw");
    if (pipeline_dtw_parse(dtw && *dtw ? dtw : cfg->dtw, &pr->dtw) != 0) {
        *ret = http_send_error_param(req, 400, "invalid_field", "dtw",
                                     "dtw must be off, auto or an alignment-head preset (tiny, "
                                     "tiny.en, base, base.en, small, small.en, medium, "
                                     "medium.en, large-v1, large-v2, large-v3, large-v3-turbo; "
                                     "got \"%.20s\")", dtw);
        return false;
    }
    /* voice-activity detection: vad=true|false, OpenAI's chunking_strategy, WHISPER_VAD */
    const vad_params server_params = svc_config_vad_params(cfg);
    char why[300];
    if (svc_vad_options(upl_field(f, "vad"), upl_field(f, "chunking_strategy"), srv->vad_default,
                        srv->vad_holder != NULL, &server_params, &pr->vad, &pr->vad_params, why,
                        sizeof why) != 0) {
        *ret = http_send_error(req, 400, "invalid_field", "%s", why);
        return false;
    }
    pr->vad_holder = pr->vad ? srv->vad_holder : NULL;
    return true;
}

bool http_build_report_request(svc_server *srv, http_req *req, pipeline_request *pr,
                               enum MHD_Result *ret)
{
    if (!common_fields(srv, req, pr, ret))
        return false;
    upl_form *f = req->work.form;
    pr->format = RPT_FORMAT_MARKDOWN;
    rpt_locale loc = srv->cfg->report_locale;
    const char *l = upl_field(f, "report_locale");
    if (l && *l && rpt_locale_parse(l, &loc) != 0) {
        *ret = http_send_error_param(req, 400, "invalid_field", "report_locale",
                                     "report_locale must be pt-BR or en (got \"%.20s\")", l);
        return false;
    }
    pr->meta.locale = loc;
    pr->meta.title = upl_field(f, "title");
    pr->meta.date = upl_field(f, "date");
    pr->meta.participants = upl_field(f, "participants");
    return check_turns(req, pr, ret);
}

/* Answers a finished transcription. */
static enum MHD_Result respond(http_req *req)
{
    pipeline_result *res = &req->result;
    if (res->http_status != 200)
        return http_send_pipeline_error(req, res);
    if (req->want_json)
        return http_send_markdown_json(req, res->body, res->segments_json);
    char *body = res->body;
    size_t len = res->body_len ? res->body_len : (body ? strlen(body) : 0);
    res->body = NULL;
    if (!body)
        return http_send(req, 200, rpt_format_mime(req->format), "", 0, NULL, NULL);
    return http_send_owned(req, 200, rpt_format_mime(req->format), body, len);
}

/* Submits req to the pool and suspends, or answers when already done / pool full. */
static enum MHD_Result submit_or_finish(svc_server *srv, http_req *req)
{
    if (!req->submitted) {
        if (atomic_load(&srv->stopping))
            return http_send_error(req, 503, "shutting_down", "the server is shutting down");
        req->work.endpoint = req->route->endpoint;
        if (work_submit(&req->work) != 0) {
            svc_metrics_transcription(&srv->metrics, req->route->endpoint, "queue_full", 0, 0);
            return http_send_queue_full(req);
        }
        req->submitted = true;
        http_req_leave_admission(req); /* the pool counts it now */
    }
    if (req->stream)
        return http_stream_answer(req);
    pthread_mutex_lock(&req->mu);
    if (!req->done) {
        req->suspended = true;
        MHD_suspend_connection(req->conn);
        pthread_mutex_unlock(&req->mu);
        return MHD_YES;
    }
    pthread_mutex_unlock(&req->mu);
    return respond(req);
}

/* Rejects an empty file before any decoder starts (422). */
static bool reject_empty(http_req *req, enum MHD_Result *ret)
{
    if (upl_file_bytes(req->work.form) > 0)
        return false;
    *ret = http_send_error_param(req, 422, "empty_file", "file",
                                 "the uploaded file is empty (0 bytes)");
    return true;
}

/* ---- handlers ----------------------------------------------------------------- */

enum MHD_Result http_process_meeting(svc_server *srv, http_req *req)
{
    enum MHD_Result ret;
    if (!req->submitted) {
        if (reject_empty(req, &ret))
            return ret;
        if (!http_build_report_request(srv, req, &req->work.preq, &ret))
            return ret;
        req->format = RPT_FORMAT_MARKDOWN;
        req->want_json = http_accepts_json(req);
    }
    return submit_or_finish(srv, req);
}

/* Parses the OpenAI fields into req->work.preq (ref: OpenAI API reference
 * audio/createTranscription and createTranslation, and the official Node SDK's
 * TranscriptionCreateParams / TranslationCreateParams).  Returns false after queueing a
 * 400/404 naming the field. */
static bool openai_fields(svc_server *srv, http_req *req, bool translate, enum MHD_Result *ret)
{
    pipeline_request *pr = &req->work.preq;
    if (!common_fields(srv, req, pr, ret))
        return false;
    upl_form *f = req->work.form;
    pr->translate = translate;
    /* `model` is optional here (OpenAI requires it): absent = the served model */
    const char *model = upl_field(f, "model");
    if (model && *model && !http_model_known(srv, model)) {
        *ret = http_send_model_not_found(req, model);
        return false;
    }
    const char *fmt = upl_field(f, "response_format");
    req->format = RPT_FORMAT_JSON;
    if (fmt && *fmt) {
        static const char *const ok[] = {"json", "text", "srt", "vtt", "verbose_json",
                                         "diarized_json"};
        bool known = false;
        for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
            known |= strcmp(fmt, ok[i]) == 0;
        if (!known || rpt_format_parse(fmt, &req->format) != 0) {
            *ret = http_send_error_param(req, 400, "invalid_field", "response_format",
                                         "response_format must be json, text, srt, vtt, "
                                         "verbose_json or diarized_json (got \"%.20s\")",
                                         fmt);
            return false;
        }
    }
    pr->format = req->format;
    if (req->format == RPT_FORMAT_DIARIZED_JSON)
        pr->diarize = true; /* the format exists to carry the speakers */
    const char *temp = upl_field(f, "temperature");
    if (temp && *temp) {
        char *end = NULL;
        double t = strtod(temp, &end);
        if (!end || *end || !isfinite(t) || t < 0 || t > 1) {
            *ret = http_send_error_param(req, 400, "invalid_field", "temperature",
                                         "temperature must be a number from 0 to 1 (got \"%.20s\")",
                                         temp);
            return false;
        }
        pr->temperature = (float)t;
    }
    const char *prompt = upl_field(f, "prompt");
    if (prompt && *prompt)
        pr->prompt = prompt;
    int ng = upl_field_count(f, "timestamp_granularities[]");
    for (int i = 0; i < ng; i++) {
        const char *g = upl_field_at(f, "timestamp_granularities[]", i);
        if (strcmp(g, "segment") != 0 && strcmp(g, "word") != 0) {
            *ret = http_send_error_param(req, 400, "invalid_field", "timestamp_granularities[]",
                                         "timestamp_granularities[] must be segment or word (got "
                                         "\"%.20s\")",
                                         g);
            return false;
        }
        if (strcmp(g, "word") == 0) {
            /* OpenAI: timestamp granularities need response_format verbose_json */
            if (req->format != RPT_FORMAT_VERBOSE_JSON) {
                *ret = http_send_error(req, 400, "invalid_field",
                                       "timestamp_granularities[]=word needs response_format "
                                       "verbose_json (got \"%.20s\")", fmt ? fmt : "json");
                return false;
            }
            pr->word_timestamps = true;
        } else {
            pr->want_segments = true;
        }
    }
    /* md-converter extension: word-level subtitle cues (whisper-cli -ml 1 -sow) */
    const char *mw = upl_field(f, "max_words_per_cue");
    if (mw && *mw) {
        char *end = NULL;
        long k = strtol(mw, &end, 10);
        if (!end || *end || k < 1 || k > 100) {
            *ret = http_send_error(req, 400, "invalid_field",
                                   "max_words_per_cue must be an integer from 1 to 100 (got "
                                   "\"%.20s\")", mw);
            return false;
        }
        if (req->format != RPT_FORMAT_SRT && req->format != RPT_FORMAT_VTT) {
            *ret = http_send_error(req, 400, "invalid_field",
                                   "max_words_per_cue needs response_format srt or vtt");
            return false;
        }
        pr->max_words_per_cue = (int)k;
    }
    /* stream=true: Server-Sent Events (http_stream.c).  OpenAI streams transcriptions in
     * the json shape only and has no stream parameter for translations. */
    if (!bool_field(req, "stream", &req->stream, ret))
        return false;
    if (req->stream && (translate || req->format != RPT_FORMAT_JSON)) {
        *ret = http_send_error_param(req, 400, "invalid_field", "stream",
                                     translate ? "translations do not stream (OpenAI's "
                                                 "translations have no stream parameter); send "
                                                 "stream=false"
                                               : "stream=true needs response_format json (the "
                                                 "events carry text deltas)");
        return false;
    }
    /* include[]=logprobs: per-token log-probabilities, json only (as OpenAI) */
    for (int k = 0; k < 2; k++) {
        const char *name = k == 0 ? "include[]" : "include";
        int ni = upl_field_count(f, name);
        for (int i = 0; i < ni; i++) {
            const char *v = upl_field_at(f, name, i);
            if (strcmp(v, "logprobs") != 0) {
                *ret = http_send_error_param(req, 400, "invalid_field", "include",
                                             "include[] accepts only logprobs (got \"%.20s\")", v);
                return false;
            }
            if (translate || req->format != RPT_FORMAT_JSON) {
                *ret = http_send_error_param(req, 400, "invalid_field", "include",
                                             "include[]=logprobs needs response_format json%s",
                                             translate ? " on /v1/audio/transcriptions "
                                                         "(translations have no include)"
                                                       : "");
                return false;
            }
            pr->logprobs = true;
        }
    }
    return check_turns(req, pr, ret);
}

enum MHD_Result http_openai_transcribe(svc_server *srv, http_req *req)
{
    enum MHD_Result ret;
    if (!req->submitted) {
        if (reject_empty(req, &ret))
            return ret;
        bool translate = strcmp(req->route->pattern, "/v1/audio/translations") == 0;
        if (!openai_fields(srv, req, translate, &ret))
            return ret;
        req->want_json = false; /* stream=true: the segment hook (server.c) sends events */
    }
    return submit_or_finish(srv, req);
}
