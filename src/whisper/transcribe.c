/*
 * transcribe.c — wsp_transcribe(): mel → language → 30 s windows → segments.
 *
 * Per window: encode at `seek`, decode (decoding.c, with temperature fallback), cut the
 * tokens into segments at timestamps, advance seek, feed the window's tokens to the next
 * prompt.  ref: whisper.cpp whisper_full_with_state (main loop, segment cutting, seek,
 * prompt_past, single-timestamp ending); OpenAI whisper/transcribe.py (language
 * detection, condition_on_previous_text, no-speech skip); ../shared/whisper-ref/README.md
 * (window/seek rules, t0/t1 in 10 ms units).
 *
 * Thread-safety: one call per wsp_state at a time; callbacks run on the calling thread.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mdc/clock.h"
#include "mdc/log.h"
#include "whisper/decoding.h"
#include "whisper/dtw.h"
#include "whisper/result.h"
#include "whisper/timestamps.h"
#include "whisper/tokenizer.h"

#define WSP__DELTA_MIN 10      /* frames: less than 100 ms left → stop (whisper.cpp) */
#define WSP__SHORT_TAIL 500    /* frames: < 5 s left → drop the past prompt (whisper.cpp) */
#define WSP__MAX_TEMPS 64
#define WSP__SEED 0x6d64632d77737000ull /* fixed: sampling at T > 0 is reproducible */

/* Inside wsp_transcribe: record the error and leave through the one cleanup path. */
#define FAIL(code, ...)                               \
    do {                                              \
        rc = wsp__fail(err, (code), __VA_ARGS__);     \
        goto fail;                                    \
    } while (0)

/* Non-speech tokens suppressed when suppress_non_speech_tokens is set, each also with a
 * leading space, plus " -" and " '" (ref: OpenAI tokenizer.py non_speech_tokens;
 * whisper.cpp non_speech_tokens). */
static const char *const k_non_speech[] = {
    "\"", "#", "(", ")", "*", "+", "/", ":", ";", "<", "=", ">", "@", "[", "\\", "]", "^",
    "_", "`", "{", "|", "}", "~", "「", "」", "『", "』", "<<", ">>", "<<<", ">>>", "--",
    "---", "-(", "-[", "('", "(\"", "((", "))", "(((", ")))", "[[", "]]", "{{", "}}", "♪♪",
    "♪♪♪", "♩", "♪", "♫", "♬", "♭", "♮", "♯"};

/* wsp__lm adapter over the engine: wsp__decode / wsp__kv_copy on one state, with the
 * time spent in the forward pass accumulated in decode_ms (milliseconds). */
typedef struct lm_ctx {
    wsp_state *state;
    int n_threads;
    double decode_ms;
} lm_ctx;

static int lm_decode(void *ctx, int decoder, const int32_t *tokens, int n_tokens, int n_past,
                     float *logits)
{
    lm_ctx *c = ctx;
    const double t0 = mdc_now_ms();
    int rc = wsp__decode(c->state, decoder, tokens, n_tokens, n_past, c->n_threads, logits);
    c->decode_ms += mdc_now_ms() - t0;
    return rc;
}

static void lm_kv_copy(void *ctx, int dst, int src, int n_past)
{
    lm_ctx *c = ctx;
    wsp__kv_copy(c->state, dst, src, n_past);
}

/* Everything one call owns; freed in one place. */
typedef struct job {
    wsp_result *r;
    int seg_cap;
    float *mel;
    wsp__dws *ws;
    wsp__tokenizer *tok;
    int32_t *past;     /* [past_cap] */
    int n_past, past_cap;
    int32_t *suppress; /* non-speech ids */
    int n_suppress;
    wsp__text tx;
    float *energy;     /* token_timestamps: [n_energy] smoothed |x| of the whole input */
    int n_energy;
    wsp__tt_state tt;
    int16_t *xslot;    /* DTW: [L][H] capture slots */
    int n_xheads;
    float *xcap;       /* [n_xheads][n_text_ctx][n_audio_ctx] */
    float *xlogits;    /* [n_vocab] (unused output of the DTW pass) */
    int32_t *xtok;     /* [n_text_ctx] */
} job;

/* Frees everything a call owns (accepts a partly built job). */
static void job_free(job *j)
{
    wsp_result_free(j->r);
    free(j->mel);
    wsp__dws_free(j->ws);
    wsp__tokenizer_free(j->tok);
    free(j->past);
    free(j->suppress);
    free(j->energy);
    free(j->xslot);
    free(j->xcap);
    free(j->xlogits);
    free(j->xtok);
    wsp__text_free(&j->tx);
}

/* Id of the token whose bytes are exactly `s`, by a scan (used once per call). */
static int32_t find_token(const wsp__vocab *v, const char *s)
{
    const size_t n = strlen(s);
    for (int32_t i = 0; i < v->n_base; i++)
        if (v->bytes && v->bytes[i] && v->len[i] == n && memcmp(v->bytes[i], s, n) == 0)
            return i;
    return -1;
}

/* Language detection on the window at `seek` (already encoded): decode <|sot|> alone and
 * take the softmax over the language tokens (ref: OpenAI decoding.py detect_language;
 * whisper.cpp whisper_lang_auto_detect_with_state).  *id / *prob get the winner.
 * whisper.cpp's softmax always spans its 100-entry language table, tokens sot+1 …
 * sot+100, so on a 99-language model entry 99 ("yue") reads <|translate|>
 * (README-round2 §5): we include it in the sum too, so the probabilities are
 * whisper.cpp's, but pick the winner among the model's real languages only (whisper.cpp
 * could answer "yue", then decode with <|translate|> as the language token). */
static int detect_language(wsp_state *state, const wsp__vocab *v, const wsp__lm *lm,
                           float *row, int *id, float *prob)
{
    const int32_t sot = v->sot;
    int rc = lm->decode(lm->ctx, 0, &sot, 1, 0, row);
    if (rc)
        return rc;
    int n = v->n_langs;
    while (n > 0 && !wsp_lang_code(n - 1))
        n--;
    if (n <= 0)
        return WSP_EINTERNAL;
    const float *l = row + v->lang_first;
    int best = 0;
    for (int i = 1; i < n; i++)
        if (l[i] > l[best])
            best = i;
    enum { WCPP_LANG_TABLE = 100 }; /* ref: whisper.cpp g_lang (…, "yue") */
    const int n_sum = v->lang_first + WCPP_LANG_TABLE <= v->n_vocab ? WCPP_LANG_TABLE : n;
    float mx = l[best];
    for (int i = n; i < n_sum; i++)
        mx = l[i] > mx ? l[i] : mx;
    double sum = 0.0;
    for (int i = 0; i < n_sum; i++)
        sum += (float)exp((double)l[i] - (double)mx); /* each term stored as float, as whisper.cpp */
    *id = best;
    *prob = (float)((float)exp((double)l[best] - (double)mx) / sum);
    (void)state;
    return 0;
}

/* Appends one segment of window tokens tk[i0..i1] and fires the segment callback. */
static int emit_segment(job *j, const wsp__vocab *v, const wsp_params *p,
                        const wsp__window_out *w, int seek,
                        int64_t t0, int64_t t1, int i0, int i1)
{
    wsp_segment seg = {
        .t0 = t0,
        .t1 = t1,
        .text = wsp__text_take(&j->tx),
        .tokens = (wsp_token *)(w->tokens + i0),
        .n_tokens = i1 - i0 + 1,
        .seek = seek,
        .temperature = w->temperature,
        .avg_logprob = w->avg_logprob,
        .compression_ratio = w->compression_ratio,
        .no_speech_prob = w->no_speech_prob,
    };
    if (!seg.text)
        return WSP_ENOMEM;
    int idx = wsp__result_add_segment(j->r, &j->seg_cap, &seg);
    if (idx < 0) {
        free(seg.text);
        return idx;
    }
    if (j->energy) /* whisper.cpp: on each new segment, before the callback */
        wsp__tt_segment(&j->r->segments[idx], v, j->energy, j->n_energy, p->thold_pt,
                        p->thold_ptsum, &j->tt);
    if (p->segment_cb)
        p->segment_cb(&j->r->segments[idx], idx, p->segment_user_data);
    return 0;
}

/* Cuts the window's tokens into segments (ref: whisper.cpp whisper_full_with_state,
 * "output results"): a timestamp > <|0.00|> ends the running segment (t1 = seek +
 * 2·(tid − beg)) if it has text bytes; runs of timestamps collapse and the next segment
 * starts at the run's last timestamp; text after the last
 * timestamp ends at seek + seek_delta; the first t0 is seek + 2·(tid of token 0 − beg),
 * or seek when token 0 has no timestamp (deliberate deviation, see below). */
static int cut_segments(job *j, const wsp__vocab *v, const wsp_params *p,
                        const wsp__window_out *w, int seek, int seek_delta)
{
    const wsp_token *tk = w->tokens;
    const int n = w->n_tokens;
    /* whisper.cpp uses the first token's tid even when it is 0 (timestamps off), which
     * gives t0 = seek − 100728; we start such a segment at the window start instead. */
    int64_t t0 = tk[0].tid >= v->beg ? seek + 2 * (int64_t)(tk[0].tid - v->beg) : seek;
    int i0 = 0;
    size_t raw = 0; /* text bytes since the last cut (whisper.cpp's text.empty()) */
    for (int i = 0; i < n; i++) {
        if (wsp__tok_is_text(v, tk[i].id)) {
            uint32_t len;
            const uint8_t *b = wsp__tok_bytes(v, tk[i].id, &len);
            if (wsp__text_append(&j->tx, b, len))
                return WSP_ENOMEM;
            raw += len;
        }
        if (tk[i].id > v->beg) {
            const int64_t t1 = seek + 2 * (int64_t)(tk[i].tid - v->beg);
            const int i_cut = i;
            while (i < n && tk[i].id > v->beg)
                i++;
            i--;
            if (raw > 0) {
                int rc = emit_segment(j, v, p, w, seek, t0, t1, i0, i_cut);
                if (rc)
                    return rc;
            }
            raw = 0;
            /* the next segment starts at the LAST timestamp of the run (whisper.cpp at the
             * reference commit: golden tiny-dims jfk segment 1 starts at 770, not 558) */
            t0 = seek + 2 * (int64_t)(tk[i].tid - v->beg);
            i0 = i + 1;
        }
    }
    if (raw > 0)
        return emit_segment(j, v, p, w, seek, t0, seek + seek_delta, i0, n - 1);
    return 0;
}

/* DTW times for the segments [first, n_segments) of the window at `seek` (ref: whisper.cpp
 * whisper_full_with_state, "dtw_token_timestamps": once per window after its segments):
 * decodes [sot, (lang), <|notimestamps|>, text tokens, eot] in one batch on decoder 0
 * from an empty cache with the alignment heads captured, over n_frames =
 * min(3000, seek_delta, seek_end − seek) mel frames.  A window too long for the text
 * context or too short for the median filter keeps t_dtw = -1 (whisper.cpp asserts). */
static int dtw_window(job *j, wsp_state *state, lm_ctx *lc, const wsp__vocab *v, int lang_tok,
                      int seek, int n_frames, int first, int *n_calls)
{
    const wsp_hparams *hp = wsp_model_hparams(wsp__state_model(state));
    int N = 0;
    j->xtok[N++] = v->sot;
    if (lang_tok >= 0)
        j->xtok[N++] = lang_tok;
    const int n_sot = N;
    j->xtok[N++] = v->notimestamps;
    for (int s = first; s < j->r->n_segments; s++)
        for (int k = 0; k < j->r->segments[s].n_tokens; k++) {
            const int32_t id = j->r->segments[s].tokens[k].id;
            if (id >= v->eot)
                continue;
            if (N + 1 >= hp->n_text_ctx)
                return 0;
            j->xtok[N++] = id;
        }
    j->xtok[N++] = v->eot;
    if (n_frames / 2 <= 7)
        return 0;
    wsp__set_xattn_capture(state, j->xslot, j->xcap);
    const double t0 = mdc_now_ms();
    int rc = wsp__decode(state, 0, j->xtok, N, 0, lc->n_threads, j->xlogits);
    lc->decode_ms += mdc_now_ms() - t0;
    (*n_calls)++;
    wsp__set_xattn_capture(state, NULL, NULL);
    if (rc)
        return rc;
    rc = wsp__dtw_window(j->xcap, j->n_xheads, N, hp->n_audio_ctx, n_sot, n_frames / 2, seek,
                         j->r->segments + first, j->r->n_segments - first, v);
    return rc == WSP_EINVAL ? 0 : rc;
}

/* Keeps past[n_past − keep …) and appends add[0..n_add), bounded by past_cap (oldest
 * tokens dropped). */
static void past_update(job *j, int keep, const wsp_token *add, int n_add)
{
    if (keep > j->n_past)
        keep = j->n_past;
    memmove(j->past, j->past + (j->n_past - keep), sizeof(int32_t) * (size_t)keep);
    j->n_past = keep;
    for (int i = 0; i < n_add; i++) {
        if (j->n_past == j->past_cap) {
            memmove(j->past, j->past + 1, sizeof(int32_t) * (size_t)(j->past_cap - 1));
            j->n_past--;
        }
        j->past[j->n_past++] = add[i].id;
    }
}

/* Reports pct (clamped to 0…100) when it changed since the last report. */
static void progress(const wsp_params *p, int pct, int *last)
{
    if (pct > 100)
        pct = 100;
    if (pct < 0)
        pct = 0;
    if (p->progress_cb && pct != *last) {
        *last = pct;
        p->progress_cb(pct, p->progress_user_data);
    }
}

int wsp_transcribe(wsp_state *state, const float *samples, size_t n_samples,
                   const wsp_params *params, wsp_result **out, wsp_error *err)
{
    if (out)
        *out = NULL;
    if (!state || !params || !out || (!samples && n_samples > 0))
        return wsp__fail(err, WSP_EINVAL, "wsp_transcribe: NULL state, params, samples or out");
    if (n_samples == 0)
        return wsp__fail(err, WSP_ENOAUDIO, "wsp_transcribe: no audio samples");
    const wsp_params *p = params;
    const double t_start = mdc_now_ms();
    const wsp_model *model = wsp__state_model(state);
    const wsp_hparams *hp = wsp_model_hparams(model);
    const wsp__vocab *v = wsp__model_vocab(model);
    const int n_threads = p->n_threads > 0 ? p->n_threads : 1;
    const bool multi = v->n_vocab >= 51865;
    job j = {0};
    int rc = 0;

    /* language (never a silent default: NULL/""/"auto" means detect) */
    int lang_id = -1;
    const bool detect = !p->language || !p->language[0] || strcmp(p->language, "auto") == 0;
    if (!detect) {
        lang_id = wsp_lang_id(p->language);
        if (lang_id < 0 || (multi && lang_id >= v->n_langs))
            return wsp__fail(err, WSP_ELANG, "unknown language code \"%s\"", p->language);
        if (!multi && lang_id != 0)
            MDC_LOG_WARN("English-only model: language \"%s\" ignored", p->language);
    }

    j.r = wsp__result_new();
    if (!j.r)
        return wsp__fail(err, WSP_ENOMEM, "out of memory for the result");
    wsp__set_abort(state, p->abort_cb, p->abort_user_data);

    if (p->token_timestamps) { /* hw 32 samples: whisper.cpp whisper_full_with_state */
        if (n_samples > INT32_MAX)
            FAIL(WSP_EINVAL, "token_timestamps: input longer than %d samples", INT32_MAX);
        j.energy = wsp__tt_energy(samples, n_samples, 32);
        j.n_energy = (int)n_samples;
        if (!j.energy)
            FAIL(WSP_ENOMEM, "out of memory for the signal energy (%zu samples)", n_samples);
    }

    if (p->dtw_aheads_preset != WSP_AHEADS_NONE) {
        const size_t L = (size_t)hp->n_text_layer, H = (size_t)hp->n_text_head;
        j.xslot = malloc(sizeof(int16_t) * L * H);
        if (!j.xslot)
            FAIL(WSP_ENOMEM, "out of memory for the alignment heads");
        j.n_xheads = wsp__dtw_slots(p->dtw_aheads_preset, (int)L, (int)H, j.xslot);
        if (j.n_xheads <= 0)
            FAIL(WSP_EINVAL, "alignment heads \"%s\" do not fit this model (%d text layers, "
                 "%d heads)", wsp_aheads_preset_name(p->dtw_aheads_preset), (int)L, (int)H);
        j.xcap = malloc(sizeof(float) * (size_t)j.n_xheads * (size_t)hp->n_text_ctx *
                        (size_t)hp->n_audio_ctx);
        j.xlogits = malloc(sizeof(float) * (size_t)hp->n_vocab);
        j.xtok = malloc(sizeof(int32_t) * (size_t)hp->n_text_ctx);
        if (!j.xcap || !j.xlogits || !j.xtok)
            FAIL(WSP_ENOMEM, "out of memory for the DTW attention capture");
    }

    /* mel */
    int n_frames = 0, n_len_org = 0;
    double t = mdc_now_ms();
    rc = wsp__mel_compute(model, samples, n_samples, n_threads, &j.mel, &n_frames, &n_len_org);
    j.r->timings.mel_ms = mdc_now_ms() - t;
    if (rc) {
        FAIL(rc, "log-mel spectrogram failed: %s", wsp_strerror(rc));
    }
    const int seek_start = p->offset_ms > 0 ? p->offset_ms / 10 : 0;
    int seek_end = n_len_org;
    if (p->duration_ms > 0 && seek_start + p->duration_ms / 10 < seek_end)
        seek_end = seek_start + p->duration_ms / 10;
    j.r->duration_s = (p->offset_ms > 0 || p->duration_ms > 0)
                          ? (seek_end > seek_start ? (seek_end - seek_start) * 0.01 : 0.0)
                          : (double)n_samples / WSP_SAMPLE_RATE;

    lm_ctx lc = {state, n_threads, 0.0};
    const wsp__lm lm = {lm_decode, lm_kv_copy, &lc, wsp__n_decoders(state), hp->n_text_ctx};
    /* temperatures [t0, t0 + inc, … < 1 + 1e-6] (ref: whisper.cpp) */
    float temps[WSP__MAX_TEMPS];
    int n_temps = 0;
    if (p->temperature_inc > 0.0f) {
        for (float x = p->temperature; x < 1.0f + 1e-6f && n_temps < WSP__MAX_TEMPS;
             x += p->temperature_inc)
            temps[n_temps++] = x;
    }
    if (n_temps == 0)
        temps[n_temps++] = p->temperature;
    /* decoders this call can use: best_of when sampling, beam_size + 1 spare for beams */
    int n_dec = 1;
    for (int i = 0; i < n_temps; i++) {
        int k = temps[i] > 0.0f ? p->best_of
                                : (p->strategy == WSP_SAMPLING_BEAM_SEARCH ? p->beam_size + 1 : 1);
        if (k > n_dec)
            n_dec = k;
    }
    if (n_dec > lm.n_decoders)
        n_dec = lm.n_decoders;
    rc = wsp__dws_new(v, hp->n_text_ctx, n_dec, WSP__SEED, &j.ws);
    j.past_cap = 2 * hp->n_text_ctx;
    j.past = malloc(sizeof(int32_t) * (size_t)j.past_cap);
    if (rc || !j.past) {
        FAIL(WSP_ENOMEM, "out of memory for the decoders");
    }

    int encoded_seek = -1;
    double encode_ms = 0.0;
    int n_calls = 0, n_windows = 0, last_pct = -1;
    const bool too_short = seek_end < seek_start + WSP__DELTA_MIN;
    if (detect) {
        if (!multi) {
            lang_id = 0;
            j.r->language_prob = 1.0f;
        } else if (!too_short) {
            t = mdc_now_ms();
            rc = wsp__encode(state, j.mel, n_frames, seek_start, n_threads);
            encode_ms += mdc_now_ms() - t;
            if (!rc) {
                encoded_seek = seek_start;
                float *row = malloc(sizeof(float) * (size_t)v->n_vocab);
                rc = row ? detect_language(state, v, &lm, row, &lang_id, &j.r->language_prob)
                         : WSP_ENOMEM;
                free(row);
                n_calls++;
            }
            if (rc) {
                FAIL(rc, "language detection failed: %s", wsp_strerror(rc));
            }
            MDC_LOG_INFO("detected language %s (p = %.3f)", wsp_lang_code(lang_id),
                         (double)j.r->language_prob);
        }
    } else {
        j.r->language_prob = 1.0f;
        if (!multi)
            lang_id = 0;
    }
    if (lang_id >= 0)
        snprintf(j.r->language, sizeof j.r->language, "%s", wsp_lang_code(lang_id));

    /* task tokens (ref: whisper.cpp prompt_init; distil heuristic) */
    bool no_ts = p->no_timestamps;
    if (p->distil_no_timestamps_heuristic && hp->n_text_layer == 2 && hp->n_vocab != 51866 &&
        !no_ts) {
        MDC_LOG_WARN("2 decoder layers: treated as a first-release distil model, timestamps off");
        no_ts = true;
    }
    int32_t init[4];
    int n_init = 0;
    init[n_init++] = v->sot;
    if (multi) {
        init[n_init++] = v->lang_first + (lang_id >= 0 ? lang_id : 0);
        init[n_init++] = p->translate ? v->translate : v->transcribe;
    } else if (p->translate) {
        MDC_LOG_WARN("English-only model: translate ignored");
    }
    if (no_ts)
        init[n_init++] = v->notimestamps;

    /* initial prompt and non-speech suppression need the bytes → id table */
    if ((p->initial_prompt && p->initial_prompt[0]) || p->suppress_non_speech_tokens) {
        rc = wsp__tokenizer_new(v, &j.tok);
        if (rc) {
            FAIL(rc, "cannot build the tokenizer table");
        }
    }
    if (p->initial_prompt && p->initial_prompt[0]) {
        int need = wsp__tokenize(j.tok, p->initial_prompt, NULL, 0);
        int32_t *ids = need > 0 ? malloc(sizeof(int32_t) * (size_t)need) : NULL;
        if (need > 0 && !ids) {
            FAIL(WSP_ENOMEM, "out of memory for the initial prompt");
        }
        if (need > 0)
            wsp__tokenize(j.tok, p->initial_prompt, ids, need);
        for (int i = need > j.past_cap ? need - j.past_cap : 0; i < need; i++)
            j.past[j.n_past++] = ids[i];
        free(ids);
    }
    if (p->suppress_non_speech_tokens) {
        const int n_ns = (int)(sizeof k_non_speech / sizeof k_non_speech[0]);
        j.suppress = malloc(sizeof(int32_t) * (size_t)(2 * n_ns + 2));
        if (!j.suppress) {
            FAIL(WSP_ENOMEM, "out of memory");
        }
        char buf[32];
        for (int i = 0; i < n_ns; i++) {
            int32_t id = wsp__tokenizer_find(j.tok, (const uint8_t *)k_non_speech[i],
                                             strlen(k_non_speech[i]));
            if (id >= 0)
                j.suppress[j.n_suppress++] = id;
            snprintf(buf, sizeof buf, " %s", k_non_speech[i]);
            id = wsp__tokenizer_find(j.tok, (const uint8_t *)buf, strlen(buf));
            if (id >= 0)
                j.suppress[j.n_suppress++] = id;
        }
        static const char *const extra[2] = {" -", " '"};
        for (int i = 0; i < 2; i++) {
            int32_t id = wsp__tokenizer_find(j.tok, (const uint8_t *)extra[i], 2);
            if (id >= 0)
                j.suppress[j.n_suppress++] = id;
        }
    }

    wsp__window_opts wo = {
        .strategy = p->strategy,
        .best_of = p->best_of > 0 ? p->best_of : 1,
        .beam_size = p->beam_size > 0 ? p->beam_size : 1,
        .patience = p->patience,
        .length_penalty = p->length_penalty,
        .temperatures = temps,
        .n_temperatures = n_temps,
        .entropy_thold = p->entropy_thold,
        .logprob_thold = p->logprob_thold,
        .no_speech_thold = p->no_speech_thold,
        .compression_ratio_threshold = p->compression_ratio_threshold,
        .filter = {.suppress_blank = p->suppress_blank,
                   .no_timestamps = no_ts,
                   .max_initial_ts = p->max_initial_ts,
                   .n_audio_ctx = hp->n_audio_ctx,
                   .blank_id = find_token(v, " "),
                   .suppress_ids = j.suppress,
                   .n_suppress_ids = j.n_suppress},
        .seek_end = seek_end,
        .n_max_text_ctx = p->n_max_text_ctx,
        .init = init,
        .n_init = n_init,
        .abort_cb = p->abort_cb,
        .abort_user_data = p->abort_user_data,
    };

    int seek = seek_start;
    while (!too_short && seek + WSP__DELTA_MIN < seek_end) {
        if (p->abort_cb && p->abort_cb(p->abort_user_data)) {
            rc = WSP_ECANCELED;
            break;
        }
        if (encoded_seek != seek) {
            t = mdc_now_ms();
            rc = wsp__encode(state, j.mel, n_frames, seek, n_threads);
            encode_ms += mdc_now_ms() - t;
            if (rc)
                break;
            encoded_seek = seek;
        }
        n_windows++;
        if (seek > seek_start && seek + WSP__SHORT_TAIL >= seek_end)
            j.n_past = 0; /* short tail: the past prompt tends to make it hallucinate */
        wo.seek = seek;
        wo.past = j.past;
        wo.n_past = j.n_past;
        wsp__window_out w;
        rc = wsp__decode_window(j.ws, &lm, &wo, &w);
        n_calls += w.n_decode_calls;
        if (rc)
            break;
        const bool no_speech = w.no_speech_prob > p->no_speech_thold &&
                               w.avg_logprobs < p->logprob_thold;
        /* next prompt: the part of the past this window used + its result tokens */
        past_update(&j, w.n_past_used, w.tokens, no_speech ? 0 : w.result_len);
        if (!p->condition_on_previous_text)
            j.n_past = 0;
        int seek_delta = w.seek_delta;
        if (w.n_tokens > 0 && !no_speech) {
            const int first = j.r->n_segments;
            rc = cut_segments(&j, v, p, &w, seek, seek_delta);
            if (!rc && j.xcap && j.r->n_segments > first) {
                int nf = seek_delta < WSP_N_FRAMES_CHUNK ? seek_delta : WSP_N_FRAMES_CHUNK;
                nf = seek_end - seek < nf ? seek_end - seek : nf;
                rc = dtw_window(&j, state, &lc, v, multi ? init[1] : -1, seek, nf, first,
                                &n_calls);
            }
            if (rc)
                break;
        }
        /* "single timestamp ending": text then one timestamp → skip the whole window
         * (ref: whisper.cpp PR 2629) */
        if (w.n_tokens > 1 && w.tokens[w.n_tokens - 2].id < v->beg &&
            w.tokens[w.n_tokens - 1].id > v->beg) {
            seek_delta = seek_end - seek < WSP_N_FRAMES_CHUNK ? seek_end - seek : WSP_N_FRAMES_CHUNK;
        }
        if (seek_delta <= 0)
            seek_delta = WSP_N_FRAMES_CHUNK; /* never loop on the same window */
        seek += seek_delta;
        progress(p, (int)(100LL * (seek - seek_start) / (seek_end - seek_start)), &last_pct);
    }
    if (rc == WSP_ECANCELED)
        FAIL(rc, "transcription cancelled");
    if (rc)
        FAIL(rc, "transcription failed at %.2f s: %s", seek * 0.01, wsp_strerror(rc));
    /* an unfinished UTF-8 sequence at the very end becomes U+FFFD in the last segment */
    if (j.tx.n_carry > 0 && j.r->n_segments > 0) {
        wsp__text_flush(&j.tx);
        wsp_segment *last = &j.r->segments[j.r->n_segments - 1];
        size_t a = strlen(last->text), b = j.tx.len;
        char *s = realloc(last->text, a + b + 1);
        if (s) {
            memcpy(s + a, j.tx.buf, b);
            s[a + b] = '\0';
            last->text = s;
        }
    }
    wsp__set_abort(state, NULL, NULL);
    progress(p, 100, &last_pct);
    j.r->timings.encode_ms = encode_ms;
    j.r->timings.decode_ms = lc.decode_ms;
    j.r->timings.n_windows = n_windows;
    j.r->timings.n_decode_steps = n_calls;
    j.r->timings.total_ms = mdc_now_ms() - t_start;
    *out = j.r;
    j.r = NULL;
    job_free(&j);
    return 0;

fail:
    job_free(&j);
    wsp__set_abort(state, NULL, NULL);
    return rc;
}
