/*
 * transcribe.c — the streaming session (wsp_session_*) and wsp_transcribe() over it:
 * samples → per-window mel (melstream.c) → language → 30 s windows → segments.
 *
 * A window runs as soon as its mel frames and the look-ahead the seek rules need are
 * there (see window_ready); wsp_transcribe() is begin, one feed, end.
 * Per window: encode at `seek`, decode (decoding.c, with temperature fallback), cut the
 * tokens into segments at timestamps, advance seek, feed the window's tokens to the next
 * prompt.  ref: whisper.cpp whisper_full_with_state (main loop, segment cutting, seek,
 * prompt_past, single-timestamp ending); OpenAI whisper/transcribe.py (language
 * detection, condition_on_previous_text, no-speech skip); ../shared/whisper-ref/README.md
 * (window/seek rules, t0/t1 in 10 ms units).
 *
 * Thread-safety: one session or call per wsp_state at a time; callbacks run on the thread
 * calling feed/end.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mdc/clock.h"
#include "mdc/log.h"
#include "whisper/decoding.h"
#include "whisper/dtw.h"
#include "whisper/melstream.h"
#include "whisper/result.h"
#include "whisper/state.h"
#include "whisper/timestamps.h"
#include "whisper/tokenizer.h"

#define WSP__DELTA_MIN 10      /* frames: less than 100 ms left → stop (whisper.cpp) */
#define WSP__SHORT_TAIL 500    /* frames: < 5 s left → drop the past prompt (whisper.cpp) */
#define WSP__MAX_TEMPS 64
/* frames past a window the decoder's end rules look at (at_end: seek + seek_delta + 10 >=
 * seek_end with seek_delta <= 3000): a window waits for seek + 3000 + 11 frames of audio,
 * so an end not yet seen cannot change its decisions */
#define WSP__LOOKAHEAD (WSP_N_FRAMES_CHUNK + WSP__DELTA_MIN + 1)
/* token_timestamps: the signal energy is kept for the first 62 s of the input only
 * (whisper.cpp indexes it from sample 0 for every segment; docs/whisper.md "The one
 * other difference: token_timestamps on inputs longer than 62 s") */
#define WSP__TT_SAMPLES ((size_t)2 * WSP_N_SAMPLES_CHUNK + 2 * WSP_SAMPLE_RATE)
#define WSP__TT_HW 32 /* energy half window, samples (whisper.cpp) */

/* wsp__lm adapter over the engine: wsp__engine_decode (continuous batching with the
 * engine's other transcriptions, state.h) / wsp__kv_reorder on one state, with the time
 * spent in the forward pass accumulated in decode_ms (milliseconds). */
typedef struct lm_ctx {
    wsp_state *state;
    int n_threads;
    double decode_ms;
} lm_ctx;

static int lm_decode(void *ctx, const wsp__row *rows, int n_rows)
{
    lm_ctx *c = ctx;
    const double t0 = mdc_now_ms();
    int rc = wsp__engine_decode(c->state, rows, n_rows, c->n_threads);
    c->decode_ms += mdc_now_ms() - t0;
    return rc;
}

static void lm_kv_reorder(void *ctx, const int *parent, int n, int n_past)
{
    lm_ctx *c = ctx;
    wsp__kv_reorder(c->state, parent, n, n_past);
}

/* What a call decided before touching the audio: the model's facts, the language, the
 * temperatures, the decoder count, the task tokens.  Filled by plan(). */
typedef struct plan {
    const wsp_params *p;
    const wsp_model *model;
    const wsp_hparams *hp;
    const wsp__vocab *v;
    const wsp__model_tables *mt;
    int n_threads;
    bool multi;    /* multilingual vocabulary */
    bool detect;   /* language to be detected */
    bool no_ts;    /* timestamps off (asked, or the distil heuristic) */
    int lang_id;   /* -1 until known */
    float temps[WSP__MAX_TEMPS];
    int n_temps;
    int n_dec;     /* decoders this call uses */
} plan;

/* Everything one call owns or accumulates; freed in one place. */
typedef struct job {
    wsp_result *r;
    int seg_cap;
    int seek_start, seek_end;
    wsp__dws *ws;
    const float *win;  /* the current window's normalised mel [n_mels][win_w] */
    int win_w;
    int32_t *past;     /* [past_cap] */
    int n_past, past_cap;
    wsp__text tx;
    int encoded_seek;  /* window the state's encoder output belongs to, -1 none */
    double encode_ms;
    int n_calls, n_windows, last_pct;
    int32_t init[4];   /* task tokens */
    int n_init;
    float *energy;     /* token_timestamps: [n_energy] smoothed |x| of the first samples */
    int n_energy;
    wsp__tt_state tt;
    int16_t *xslot;    /* DTW: [L][H] capture slots */
    int n_xheads;
    float *xcap;       /* [n_xheads][n_text_ctx][n_audio_ctx] */
    int32_t *xtok;     /* [n_text_ctx] */
    wsp__row *xrows;   /* [n_text_ctx] the DTW pass */
} job;

/* Frees everything a call owns (accepts a partly built job). */
static void job_free(job *j)
{
    wsp_result_free(j->r);
    wsp__dws_free(j->ws);
    free(j->past);
    free(j->energy);
    free(j->xslot);
    free(j->xcap);
    free(j->xtok);
    free(j->xrows);
    wsp__text_free(&j->tx);
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
    const wsp__row r = {.token = v->sot, .pos = 0, .seq = 0, .logits = row};
    int rc = lm->decode(lm->ctx, &r, 1);
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
    for (int i = 0; i < N; i++) /* no logits: only the captured attention is used */
        j->xrows[i] = (wsp__row){.token = j->xtok[i], .pos = i, .seq = 0, .logits = NULL};
    wsp__set_xattn_capture(state, j->xslot, j->xcap);
    const double t0 = mdc_now_ms();
    int rc = wsp__decode_batch(state, j->xrows, N, lc->n_threads);
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

/* 1. Plan: checks the parameters against the model and the state's pool, resolves the
 * language code, the fallback temperatures [t0, t0 + inc, … < 1 + 1e-6] (ref:
 * whisper.cpp) and the decoder count (best_of when sampling, beam_size + 1 for beams). */
static int make_plan(wsp_state *state, const wsp_params *p, plan *pl, wsp_error *err)
{
    memset(pl, 0, sizeof *pl);
    pl->p = p;
    pl->model = wsp__state_model(state);
    pl->hp = wsp_model_hparams(pl->model);
    pl->v = wsp__model_vocab(pl->model);
    pl->mt = wsp__model_tables_of(pl->model);
    /* the state's pool (an engine state: the engine's, n_threads must fit it) */
    if (wsp__state_pool(state, p->n_threads) != 0)
        return wsp__fail(err, WSP_EINVAL,
                         "n_threads %d does not match the engine's %d threads per transcription",
                         p->n_threads, wsp__pool_size(state->pool));
    pl->n_threads = wsp__pool_size(state->pool);
    pl->multi = pl->v->n_vocab >= 51865;
    /* language (never a silent default: NULL/""/"auto" means detect) */
    pl->lang_id = -1;
    pl->detect = !p->language || !p->language[0] || strcmp(p->language, "auto") == 0;
    if (!pl->detect) {
        pl->lang_id = wsp_lang_id(p->language);
        if (pl->lang_id < 0 || (pl->multi && pl->lang_id >= pl->v->n_langs))
            return wsp__fail(err, WSP_ELANG, "unknown language code \"%s\"", p->language);
        if (!pl->multi && pl->lang_id != 0)
            MDC_LOG_WARN("English-only model: language \"%s\" ignored", p->language);
    }
    if (p->temperature_inc > 0.0f) {
        for (float x = p->temperature; x < 1.0f + 1e-6f && pl->n_temps < WSP__MAX_TEMPS;
             x += p->temperature_inc)
            pl->temps[pl->n_temps++] = x;
    }
    if (pl->n_temps == 0)
        pl->temps[pl->n_temps++] = p->temperature;
    pl->n_dec = 1;
    for (int i = 0; i < pl->n_temps; i++) {
        int k = pl->temps[i] > 0.0f
                    ? p->best_of
                    : (p->strategy == WSP_SAMPLING_BEAM_SEARCH ? p->beam_size + 1 : 1);
        if (k > pl->n_dec)
            pl->n_dec = k;
    }
    if (pl->n_dec > wsp__n_decoders(state))
        pl->n_dec = wsp__n_decoders(state);
    /* whisper.cpp's distil heuristic */
    pl->no_ts = p->no_timestamps;
    if (p->distil_no_timestamps_heuristic && pl->hp->n_text_layer == 2 &&
        pl->hp->n_vocab != 51866 && !pl->no_ts) {
        MDC_LOG_WARN("2 decoder layers: treated as a first-release distil model, timestamps off");
        pl->no_ts = true;
    }
    return 0;
}

/* 2. Prepare: the result, the DTW capture buffers (dtw_aheads_preset), the seek start,
 * the decoders' workspace and the past-prompt buffer with the initial prompt.  (The
 * signal energy of token_timestamps comes with the first window: energy_ready.) */
static int prepare(const plan *pl, job *j, wsp_error *err)
{
    const wsp_params *p = pl->p;
    j->encoded_seek = -1;
    j->last_pct = -1;
    j->r = wsp__result_new();
    if (!j->r)
        return wsp__fail(err, WSP_ENOMEM, "out of memory for the result");
    const wsp_hparams *hp = pl->hp;
    if (p->dtw_aheads_preset != WSP_AHEADS_NONE) {
        const size_t L = (size_t)hp->n_text_layer, H = (size_t)hp->n_text_head;
        j->xslot = malloc(sizeof(int16_t) * L * H);
        if (!j->xslot)
            return wsp__fail(err, WSP_ENOMEM, "out of memory for the alignment heads");
        j->n_xheads = wsp__dtw_slots(p->dtw_aheads_preset, (int)L, (int)H, j->xslot);
        if (j->n_xheads <= 0)
            return wsp__fail(err, WSP_EINVAL,
                             "alignment heads \"%s\" do not fit this model (%d text layers, "
                             "%d heads)",
                             wsp_aheads_preset_name(p->dtw_aheads_preset), (int)L, (int)H);
        j->xcap = malloc(sizeof(float) * (size_t)j->n_xheads * (size_t)hp->n_text_ctx *
                         (size_t)hp->n_audio_ctx);
        j->xtok = malloc(sizeof(int32_t) * (size_t)hp->n_text_ctx);
        j->xrows = malloc(sizeof(wsp__row) * (size_t)hp->n_text_ctx);
        if (!j->xcap || !j->xtok || !j->xrows)
            return wsp__fail(err, WSP_ENOMEM, "out of memory for the DTW attention capture");
    }
    j->seek_start = p->offset_ms > 0 ? p->offset_ms / 10 : 0;
    int rc = wsp__dws_new(pl->v, pl->hp->n_text_ctx, pl->n_dec, p->seed, &j->ws);
    j->past_cap = 2 * pl->hp->n_text_ctx;
    j->past = malloc(sizeof(int32_t) * (size_t)j->past_cap);
    if (rc || !j->past)
        return wsp__fail(err, WSP_ENOMEM, "out of memory for the decoders");
    if (p->initial_prompt && p->initial_prompt[0]) {
        int need = wsp__tokenize(pl->mt->tok, p->initial_prompt, NULL, 0);
        int32_t *ids = need > 0 ? malloc(sizeof(int32_t) * (size_t)need) : NULL;
        if (need > 0 && !ids)
            return wsp__fail(err, WSP_ENOMEM, "out of memory for the initial prompt");
        if (need > 0)
            wsp__tokenize(pl->mt->tok, p->initial_prompt, ids, need);
        for (int i = need > j->past_cap ? need - j->past_cap : 0; i < need; i++)
            j->past[j->n_past++] = ids[i];
        free(ids);
    }
    return 0;
}

/* Encodes window `seek` (its mel in j->win) unless the state already holds it. */
static int encode_window(wsp_state *state, const plan *pl, job *j, int seek)
{
    if (j->encoded_seek == seek)
        return 0;
    const double t = mdc_now_ms();
    int rc = wsp__encode(state, j->win, j->win_w, 0, pl->n_threads);
    j->encode_ms += mdc_now_ms() - t;
    if (!rc)
        j->encoded_seek = seek;
    return rc;
}

/* 3. Language: detected on the first window when asked (multilingual models), then the
 * task tokens <|sot|> [<|lang|> <|task|>] [<|notimestamps|>] (ref: whisper.cpp
 * prompt_init). */
static int language_and_task(wsp_state *state, plan *pl, const wsp__lm *lm, job *j,
                             wsp_error *err)
{
    const wsp__vocab *v = pl->v;
    const bool too_short = j->seek_end < j->seek_start + WSP__DELTA_MIN;
    if (!(pl->detect && pl->multi))
        j->r->language_prob = 1.0f; /* given, or the only language of an .en model */
    if (!pl->multi) {
        pl->lang_id = 0;
    } else if (pl->detect && !too_short) {
        int rc = encode_window(state, pl, j, j->seek_start);
        if (!rc) {
            float *row = malloc(sizeof(float) * (size_t)v->n_vocab);
            rc = row ? detect_language(state, v, lm, row, &pl->lang_id, &j->r->language_prob)
                     : WSP_ENOMEM;
            free(row);
            j->n_calls++;
        }
        if (rc)
            return wsp__fail(err, rc, "language detection failed: %s", wsp_strerror(rc));
        MDC_LOG_INFO("detected language %s (p = %.3f)", wsp_lang_code(pl->lang_id),
                     (double)j->r->language_prob);
    }
    if (pl->lang_id >= 0)
        snprintf(j->r->language, sizeof j->r->language, "%s", wsp_lang_code(pl->lang_id));
    j->init[j->n_init++] = v->sot;
    if (pl->multi) {
        j->init[j->n_init++] = v->lang_first + (pl->lang_id >= 0 ? pl->lang_id : 0);
        j->init[j->n_init++] = pl->p->translate ? v->translate : v->transcribe;
    } else if (pl->p->translate) {
        MDC_LOG_WARN("English-only model: translate ignored");
    }
    if (pl->no_ts)
        j->init[j->n_init++] = v->notimestamps;
    return 0;
}

/* ---- the session ------------------------------------------------------------- */

enum { S_OPEN = 0, S_ENDED, S_FAILED };

struct wsp_session {
    wsp_state *state;
    wsp_params p;          /* the caller's parameters (strings cleared after begin) */
    plan pl;
    job j;
    lm_ctx lc;
    wsp__lm lm;
    wsp__window_opts wo;   /* built once the task tokens are known (start) */
    wsp__melstream *ms;
    float *win;            /* [n_mels][W] normalised mel of the window at win_seek */
    int win_seek;          /* -1: none */
    float *tt_x;           /* token_timestamps: the first tt_n <= WSP__TT_SAMPLES + 32
                              samples, until the energy is computed from them */
    size_t tt_n;
    uint64_t n_fed;        /* samples fed so far */
    uint64_t expected;     /* progress hint (0: none) */
    int seek;              /* next window */
    int phase;             /* S_OPEN, S_ENDED, S_FAILED */
    bool started;          /* language and task tokens done */
    bool fixed_clamp;      /* mel_clamp GLOBAL and the maximum known: clamp at fixed_max */
    float fixed_max;
    bool done;             /* no window left */
    size_t bytes_fixed;    /* heap bytes allocated at begin (see wsp_session_get_stats) */
    double t_start;
};

#define WSP__TT_TOTAL (WSP__TT_SAMPLES + WSP__TT_HW)
/* samples a session accepts: every frame index and seek + window stays an int */
#define WSP__MAX_SAMPLES ((uint64_t)(INT32_MAX - 8 * WSP_N_FRAMES_CHUNK) * WSP_HOP_LENGTH)

/* Frames that carry audio for n samples (whisper.cpp's n_len_org; n < 200 gives 0/1). */
static int64_t len_org(uint64_t n) { return 1 + ((int64_t)n + 200 - WSP_N_FFT) / WSP_HOP_LENGTH; }

/* The end of the seek range (10 ms frames): exact once decidable (*known), else a lower
 * bound (the audio pushed so far). */
static int sess_seek_end(const wsp_session *s, uint64_t n, bool ended, bool *known)
{
    const int64_t cap = s->p.duration_ms > 0 ? s->j.seek_start + s->p.duration_ms / 10 : INT64_MAX;
    const int64_t lo = len_org(n);
    *known = ended || lo >= cap;
    return (int)(lo < cap ? lo : cap);
}

/* token_timestamps: the energy of the first samples once they are all there (or the
 * stream ended).  whisper.cpp computes it over the whole input; entries [0, 62 s) are the
 * same when the input is longer (each reads ±32 samples). */
static int energy_ready(wsp_session *s, wsp_error *err)
{
    if (!s->tt_x)
        return 0;
    const bool ended = s->ms->ended;
    if (!ended && s->tt_n < WSP__TT_TOTAL)
        return 0;
    s->j.energy = wsp__tt_energy(s->tt_x, s->tt_n, WSP__TT_HW);
    if (!s->j.energy)
        return wsp__fail(err, WSP_ENOMEM, "out of memory for the signal energy");
    s->j.n_energy = ended && s->n_fed <= WSP__TT_TOTAL ? (int)s->tt_n : (int)WSP__TT_SAMPLES;
    free(s->tt_x);
    s->tt_x = NULL;
    return 0;
}

/* A window at seek can run: its mel frames are there, and either the end of the audio
 * is known or it is more than WSP__LOOKAHEAD frames away (then no rule can tell it from
 * a later end), and the token-timestamp energy is there. */
static bool window_ready(const wsp_session *s, int seek, bool known, int seek_end)
{
    if (s->ms->ended)
        return true;
    if (s->tt_x && s->tt_n < WSP__TT_TOTAL)
        return false;
    if (!known && seek_end < seek + WSP__LOOKAHEAD)
        return false;
    return wsp__ms_has_frames(s->ms, (int64_t)seek + s->ms->width);
}

/* The normalised mel of the window at seek into s->win (once per seek). */
static int load_window(wsp_session *s, int seek, wsp_error *err)
{
    if (s->win_seek == seek)
        return 0;
    const double t = mdc_now_ms();
    int rc = wsp__ms_window(s->ms, seek, s->fixed_clamp ? &s->fixed_max : NULL,
                            s->state->pool, s->win);
    s->j.r->timings.mel_ms += mdc_now_ms() - t;
    if (rc)
        return wsp__fail(err, rc, "log-mel spectrogram failed at %.2f s: %s", seek * 0.01,
                         wsp_strerror(rc));
    s->win_seek = seek;
    return 0;
}

/* Progress after a window: against the end when known, else against the hint (at most
 * 99 until the end), else nothing. */
static void sess_progress(wsp_session *s, bool known, int seek_end)
{
    int end = seek_end, cap = 100;
    if (!known) {
        if (!s->expected)
            return;
        bool k;
        end = sess_seek_end(s, s->expected, true, &k);
        cap = 99;
    }
    if (end <= s->j.seek_start)
        return;
    int pct = (int)(100LL * (s->seek - s->j.seek_start) / (end - s->j.seek_start));
    progress(&s->p, pct > cap ? cap : pct, &s->j.last_pct);
}

/* Language and task tokens (on the first window), then the decoding options. */
static int start(wsp_session *s, wsp_error *err)
{
    const plan *pl = &s->pl;
    const wsp_params *p = &s->p;
    int rc = language_and_task(s->state, &s->pl, &s->lm, &s->j, err);
    if (rc)
        return rc;
    s->wo = (wsp__window_opts){
        .strategy = p->strategy,
        .best_of = p->best_of > 0 ? p->best_of : 1,
        .beam_size = p->beam_size > 0 ? p->beam_size : 1,
        .patience = p->patience,
        .length_penalty = p->length_penalty,
        .temperatures = pl->temps,
        .n_temperatures = pl->n_temps,
        .entropy_thold = p->entropy_thold,
        .logprob_thold = p->logprob_thold,
        .no_speech_thold = p->no_speech_thold,
        .compression_ratio_threshold = p->compression_ratio_threshold,
        .filter = {.suppress_blank = p->suppress_blank,
                   .no_timestamps = pl->no_ts,
                   .max_initial_ts = p->max_initial_ts,
                   .n_audio_ctx = pl->hp->n_audio_ctx,
                   .blank_id = pl->mt->blank_id,
                   .suppress_ids = p->suppress_non_speech_tokens ? pl->mt->non_speech : NULL,
                   .n_suppress_ids = p->suppress_non_speech_tokens ? pl->mt->n_non_speech : 0},
        .n_max_text_ctx = p->n_max_text_ctx,
        .init = s->j.init,
        .n_init = s->j.n_init,
        .batch_rows = p->batch_decoders ? WSP__N_DECODERS : 1,
        .abort_cb = p->abort_cb,
        .abort_user_data = p->abort_user_data,
    };
    s->seek = s->j.seek_start;
    s->started = true;
    return 0;
}

/* 4. One window at s->seek: encode, decode (all fallback temperatures as needed), cut
 * segments (then DTW token times for them when asked), update the past prompt, advance
 * the seek (ref: whisper.cpp whisper_full_with_state).  seek_end as sess_seek_end. */
static int window_step(wsp_session *s, bool known, int seek_end, wsp_error *err)
{
    const wsp_params *p = &s->p;
    const plan *pl = &s->pl;
    const wsp__vocab *v = pl->v;
    job *j = &s->j;
    const int seek_start = j->seek_start, seek = s->seek;
    int rc = 0;
    if (p->abort_cb && p->abort_cb(p->abort_user_data))
        return wsp__fail(err, WSP_ECANCELED, "transcription cancelled");
    rc = load_window(s, seek, err);
    if (rc)
        return rc;
    rc = encode_window(s->state, pl, j, seek);
    if (rc)
        goto fail;
    j->n_windows++;
    if (seek > seek_start && seek + WSP__SHORT_TAIL >= seek_end)
        j->n_past = 0; /* short tail: the past prompt tends to make it hallucinate */
    s->wo.seek = seek;
    s->wo.seek_end = seek_end;
    s->wo.past = j->past;
    s->wo.n_past = j->n_past;
    wsp__window_out w;
    rc = wsp__decode_window(j->ws, &s->lm, &s->wo, &w);
    j->n_calls += w.n_decode_calls;
    if (rc)
        goto fail;
    const bool no_speech = w.no_speech_prob > p->no_speech_thold &&
                           w.avg_logprobs < p->logprob_thold;
    /* next prompt: the part of the past this window used + its result tokens */
    past_update(j, w.n_past_used, w.tokens, no_speech ? 0 : w.result_len);
    if (!p->condition_on_previous_text)
        j->n_past = 0;
    int seek_delta = w.seek_delta;
    if (w.n_tokens > 0 && !no_speech) {
        const int first = j->r->n_segments;
        rc = cut_segments(j, v, p, &w, seek, seek_delta);
        if (!rc && j->xcap && j->r->n_segments > first) {
            int nf = seek_delta < WSP_N_FRAMES_CHUNK ? seek_delta : WSP_N_FRAMES_CHUNK;
            nf = seek_end - seek < nf ? seek_end - seek : nf;
            rc = dtw_window(j, s->state, &s->lc, v, pl->multi ? j->init[1] : -1, seek, nf,
                            first, &j->n_calls);
        }
        if (rc)
            goto fail;
    }
    /* "single timestamp ending": text then one timestamp → skip the whole window
     * (ref: whisper.cpp PR 2629) */
    if (w.n_tokens > 1 && w.tokens[w.n_tokens - 2].id < v->beg &&
        w.tokens[w.n_tokens - 1].id > v->beg) {
        seek_delta = seek_end - seek < WSP_N_FRAMES_CHUNK ? seek_end - seek : WSP_N_FRAMES_CHUNK;
    }
    if (seek_delta <= 0)
        seek_delta = WSP_N_FRAMES_CHUNK; /* never loop on the same window */
    s->seek = seek + seek_delta;
    wsp__ms_release(s->ms, s->seek);
    sess_progress(s, known, seek_end);
    return 0;
fail:
    if (rc == WSP_ECANCELED)
        return wsp__fail(err, rc, "transcription cancelled");
    return wsp__fail(err, rc, "transcription failed at %.2f s: %s", seek * 0.01,
                     wsp_strerror(rc));
}

/* Runs every window that can run now (all remaining ones once the stream ended);
 * *ran counts them. */
static int run_ready(wsp_session *s, int *ran, wsp_error *err)
{
    const bool ended = s->ms->ended;
    while (!s->done) {
        bool known;
        const int seek_end = sess_seek_end(s, ended ? s->n_fed : s->ms->n_in, ended, &known);
        s->j.seek_end = seek_end;
        const int seek = s->started ? s->seek : s->j.seek_start;
        if (known && (seek_end < s->j.seek_start + WSP__DELTA_MIN ||
                      seek + WSP__DELTA_MIN >= seek_end)) {
            int rc = s->started ? 0 : start(s, err); /* too short: no detection */
            s->done = true;
            return rc;
        }
        if (!window_ready(s, seek, known, seek_end))
            return 0;
        int rc = energy_ready(s, err);
        if (!rc && !s->started) {
            rc = load_window(s, seek, err);
            if (!rc)
                rc = start(s, err);
        }
        if (!rc)
            rc = window_step(s, known, seek_end, err);
        if (rc)
            return rc;
        (*ran)++;
    }
    return 0;
}

/* 5. Finish: an unfinished UTF-8 sequence at the very end becomes U+FFFD in the last
 * segment; duration; timings; 100 %. */
static void finish(wsp_session *s)
{
    job *j = &s->j;
    if (j->tx.n_carry > 0 && j->r->n_segments > 0) {
        wsp__text_flush(&j->tx);
        wsp_segment *last = &j->r->segments[j->r->n_segments - 1];
        size_t a = strlen(last->text), b = j->tx.len;
        char *t = realloc(last->text, a + b + 1);
        if (t) {
            memcpy(t + a, j->tx.buf, b);
            t[a + b] = '\0';
            last->text = t;
        }
    }
    bool known;
    const int seek_end = sess_seek_end(s, s->n_fed, true, &known);
    j->r->duration_s =
        (s->p.offset_ms > 0 || s->p.duration_ms > 0)
            ? (seek_end > j->seek_start ? (seek_end - j->seek_start) * 0.01 : 0.0)
            : (double)s->n_fed / WSP_SAMPLE_RATE;
    progress(&s->p, 100, &j->last_pct);
    j->r->timings.encode_ms = j->encode_ms;
    j->r->timings.decode_ms = s->lc.decode_ms;
    j->r->timings.n_windows = j->n_windows;
    j->r->timings.n_decode_steps = j->n_calls;
    j->r->timings.total_ms = mdc_now_ms() - s->t_start;
}

/* wsp_session_begin after the argument checks. */
static int session_begin(wsp_state *state, const wsp_params *params, wsp_session **out,
                         wsp_error *err)
{
    wsp_session *s = calloc(1, sizeof *s);
    if (!s)
        return wsp__fail(err, WSP_ENOMEM, "out of memory for the session");
    s->t_start = mdc_now_ms();
    s->state = state;
    s->p = *params;
    s->win_seek = -1;
    int rc = make_plan(state, &s->p, &s->pl, err);
    if (!rc)
        rc = prepare(&s->pl, &s->j, err);
    if (rc) {
        wsp_session_free(s);
        return rc;
    }
    s->lc = (lm_ctx){state, s->pl.n_threads, 0.0};
    s->lm = (wsp__lm){lm_decode, lm_kv_reorder, &s->lc, wsp__n_decoders(state),
                      s->pl.hp->n_text_ctx};
    const bool tt = s->p.token_timestamps;
    rc = wsp__ms_new(s->pl.model, s->j.seek_start, tt ? WSP__TT_TOTAL : 0, &s->ms);
    if (!rc) {
        s->win = malloc(sizeof(float) * (size_t)s->ms->n_mels * (size_t)s->ms->width);
        s->j.win = s->win;
        s->j.win_w = s->ms->width;
        if (tt)
            s->tt_x = malloc(sizeof(float) * WSP__TT_TOTAL);
        if (!s->win || (tt && !s->tt_x))
            rc = WSP_ENOMEM;
    }
    if (rc) {
        wsp_session_free(s);
        return wsp__fail(err, WSP_ENOMEM, "out of memory for the session's audio buffers");
    }
    /* the strings were used by make_plan/prepare only */
    s->p.language = NULL;
    s->p.initial_prompt = NULL;
    const wsp_hparams *hp = s->pl.hp;
    s->bytes_fixed = sizeof *s + s->ms->bytes +
                     sizeof(float) * (size_t)s->ms->n_mels * (size_t)s->ms->width +
                     sizeof(int32_t) * (size_t)s->j.past_cap;
    if (s->j.xcap)
        s->bytes_fixed += sizeof(int16_t) * (size_t)hp->n_text_layer * (size_t)hp->n_text_head +
                          sizeof(float) * ((size_t)s->j.n_xheads * (size_t)hp->n_text_ctx *
                                               (size_t)hp->n_audio_ctx +
                                           (size_t)hp->n_vocab) +
                          sizeof(int32_t) * (size_t)hp->n_text_ctx;
    *out = s;
    return 0;
}

int wsp_session_begin(wsp_state *state, const wsp_params *params, wsp_session **out,
                      wsp_error *err)
{
    if (out)
        *out = NULL;
    if (!state || !params || !out)
        return wsp__fail(err, WSP_EINVAL, "wsp_session_begin: NULL state, params or out");
    if (params->mel_clamp != WSP_MEL_CLAMP_RUNNING && params->mel_clamp != WSP_MEL_CLAMP_GLOBAL)
        return wsp__fail(err, WSP_EINVAL, "mel_clamp: unknown value %d", (int)params->mel_clamp);
    return session_begin(state, params, out, err);
}

int wsp_session_set_mel_max(wsp_session *s, float max, wsp_error *err)
{
    if (!s || !isfinite(max))
        return wsp__fail(err, WSP_EINVAL, "wsp_session_set_mel_max: NULL session or %g", (double)max);
    if (s->p.mel_clamp != WSP_MEL_CLAMP_GLOBAL)
        return wsp__fail(err, WSP_EINVAL,
                         "wsp_session_set_mel_max: the session's mel_clamp is running");
    if (s->n_fed > 0 || s->phase != S_OPEN)
        return wsp__fail(err, WSP_EINVAL, "wsp_session_set_mel_max: after the first feed");
    s->fixed_clamp = true;
    s->fixed_max = max;
    return 0;
}

/* A GLOBAL session may not feed before it knows the maximum (no silent RUNNING). */
static int need_max(const wsp_session *s, const char *fn, wsp_error *err)
{
    if (s->p.mel_clamp == WSP_MEL_CLAMP_GLOBAL && !s->fixed_clamp)
        return wsp__fail(err, WSP_EINVAL,
                         "%s: mel_clamp global needs the recording's mel maximum first "
                         "(wsp_session_set_mel_max from a wsp_mel_peak pass), or set "
                         "mel_clamp running",
                         fn);
    return 0;
}

void wsp_session_set_expected_samples(wsp_session *s, uint64_t n_samples)
{
    if (s)
        s->expected = n_samples;
}

/* The error of a call on a session that is not open. */
static int not_open(const wsp_session *s, const char *fn, wsp_error *err)
{
    return wsp__fail(err, WSP_EINVAL, "%s: session %s", fn,
                     s->phase == S_ENDED ? "already ended" : "failed");
}

int wsp_session_feed(wsp_session *s, const float *pcm, size_t n, wsp_error *err)
{
    if (!s || (!pcm && n))
        return wsp__fail(err, WSP_EINVAL, "wsp_session_feed: NULL session or samples");
    if (s->phase != S_OPEN)
        return not_open(s, "wsp_session_feed", err);
    if (n > 0 && need_max(s, "wsp_session_feed", err))
        return WSP_EINVAL;
    if (n > WSP__MAX_SAMPLES - s->n_fed) {
        s->phase = S_FAILED;
        return wsp__fail(err, WSP_EINVAL, "wsp_session_feed: more than %llu samples",
                         (unsigned long long)WSP__MAX_SAMPLES);
    }
    if (s->tt_x && s->tt_n < WSP__TT_TOTAL) {
        const size_t c = n < WSP__TT_TOTAL - s->tt_n ? n : WSP__TT_TOTAL - s->tt_n;
        memcpy(s->tt_x + s->tt_n, pcm, sizeof(float) * c);
        s->tt_n += c;
    }
    s->n_fed += n;
    wsp__set_abort(s->state, s->p.abort_cb, s->p.abort_user_data);
    int rc = 0;
    while (!rc && n > 0 && !s->done) {
        int mrc = 0, ran = 0;
        const double t = mdc_now_ms();
        const size_t took = wsp__ms_push(s->ms, pcm, n, s->state->pool, &mrc);
        s->j.r->timings.mel_ms += mdc_now_ms() - t;
        pcm += took;
        n -= took;
        if (mrc) {
            rc = wsp__fail(err, mrc, "log-mel spectrogram failed: %s", wsp_strerror(mrc));
            break;
        }
        rc = run_ready(s, &ran, err);
        if (!rc && took == 0 && ran == 0 && !s->done)
            rc = wsp__fail(err, WSP_EINTERNAL, "session buffer full with no window ready");
    }
    /* the session may wait for more audio now: out of continuous batching's lock-step */
    wsp__engine_leave(s->state);
    wsp__set_abort(s->state, NULL, NULL);
    if (rc)
        s->phase = S_FAILED;
    return rc;
}

int wsp_session_end(wsp_session *s, wsp_result **out, wsp_error *err)
{
    if (out)
        *out = NULL;
    if (!s || !out)
        return wsp__fail(err, WSP_EINVAL, "wsp_session_end: NULL session or out");
    if (s->phase != S_OPEN)
        return not_open(s, "wsp_session_end", err);
    s->phase = S_ENDED;
    if (s->n_fed == 0)
        return wsp__fail(err, WSP_ENOAUDIO, "wsp_session_end: no audio samples");
    if (need_max(s, "wsp_session_end", err))
        return WSP_EINVAL;
    wsp__ms_end(s->ms);
    wsp__set_abort(s->state, s->p.abort_cb, s->p.abort_user_data);
    int ran = 0;
    int rc = run_ready(s, &ran, err);
    wsp__engine_leave(s->state); /* transcription over: out of the lock-step */
    wsp__set_abort(s->state, NULL, NULL);
    if (rc)
        return rc;
    finish(s);
    *out = s->j.r;
    s->j.r = NULL;
    return 0;
}

void wsp_session_free(wsp_session *s)
{
    if (!s)
        return;
    job_free(&s->j);
    wsp__ms_free(s->ms);
    free(s->win);
    free(s->tt_x);
    free(s);
}

void wsp_session_get_stats(const wsp_session *s, wsp_session_stats *out)
{
    if (!out)
        return;
    memset(out, 0, sizeof *out);
    if (!s)
        return;
    out->samples_fed = s->n_fed;
    out->samples_done = s->started ? (uint64_t)s->seek * WSP_HOP_LENGTH : 0;
    out->n_windows = s->j.n_windows;
    out->n_segments = s->j.r ? s->j.r->n_segments : 0;
    out->bytes_held = s->bytes_fixed + s->j.tx.cap + (s->tt_x ? sizeof(float) * WSP__TT_TOTAL : 0) +
                      (s->j.energy ? sizeof(float) * (size_t)s->j.n_energy : 0);
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
    wsp_session *s = NULL;
    int rc = wsp_session_begin(state, params, &s, err);
    if (rc)
        return rc;
    if (params->mel_clamp == WSP_MEL_CLAMP_GLOBAL) { /* whisper.cpp's whole-mel maximum */
        const double t = mdc_now_ms();
        float max = 0.0f;
        rc = wsp__mel_max(s->pl.model, samples, n_samples, state->pool, &max);
        s->j.r->timings.mel_ms += mdc_now_ms() - t;
        if (rc) {
            wsp_session_free(s);
            return wsp__fail(err, rc, "log-mel maximum failed: %s", wsp_strerror(rc));
        }
        s->fixed_clamp = true;
        s->fixed_max = max;
    }
    wsp_session_set_expected_samples(s, n_samples);
    rc = wsp_session_feed(s, samples, n_samples, err);
    if (!rc)
        rc = wsp_session_end(s, out, err);
    wsp_session_free(s);
    return rc;
}

/* ---- the first pass of a GLOBAL session: the stream's mel maximum ---------------- */

struct wsp_mel_peak {
    wsp__melstream *ms; /* every frame dropped once computed: only its maximum stays */
    bool ended;
};

int wsp_mel_peak_new(const wsp_model *model, wsp_mel_peak **out, wsp_error *err)
{
    if (out)
        *out = NULL;
    if (!model || !out)
        return wsp__fail(err, WSP_EINVAL, "wsp_mel_peak_new: NULL model or out");
    wsp_mel_peak *pk = calloc(1, sizeof *pk);
    if (!pk || wsp__ms_new(model, INT64_MAX, 0, &pk->ms)) {
        free(pk);
        return wsp__fail(err, WSP_ENOMEM, "out of memory for the mel peak");
    }
    *out = pk;
    return 0;
}

int wsp_mel_peak_feed(wsp_mel_peak *pk, const float *pcm, size_t n, wsp_error *err)
{
    if (!pk || (!pcm && n) || pk->ended)
        return wsp__fail(err, WSP_EINVAL, "wsp_mel_peak_feed: NULL, or after end");
    if (n > WSP__MAX_SAMPLES - pk->ms->n_in)
        return wsp__fail(err, WSP_EINVAL, "wsp_mel_peak_feed: more than %llu samples",
                         (unsigned long long)WSP__MAX_SAMPLES);
    while (n > 0) {
        int rc = 0;
        const size_t took = wsp__ms_push(pk->ms, pcm, n, NULL, &rc);
        if (rc)
            return wsp__fail(err, rc, "log-mel spectrogram failed: %s", wsp_strerror(rc));
        if (took == 0)
            return wsp__fail(err, WSP_EINTERNAL, "wsp_mel_peak_feed: buffer full");
        pcm += took;
        n -= took;
    }
    return 0;
}

int wsp_mel_peak_end(wsp_mel_peak *pk, float *max_out, wsp_error *err)
{
    if (!pk || !max_out || pk->ended || pk->ms->n_in == 0)
        return wsp__fail(err, WSP_EINVAL, "wsp_mel_peak_end: NULL, no samples or ended");
    pk->ended = true;
    int rc = wsp__ms_max_all(pk->ms, NULL, max_out);
    if (rc)
        return wsp__fail(err, rc, "log-mel spectrogram failed: %s", wsp_strerror(rc));
    return 0;
}

void wsp_mel_peak_free(wsp_mel_peak *pk)
{
    if (!pk)
        return;
    wsp__ms_free(pk->ms);
    free(pk);
}
