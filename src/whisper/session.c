/*
 * session.c — INTERIM: the wsp_session_* API over wsp_transcribe (buffers everything,
 * transcribes at end).  Replaced by the streaming window loop in the next commits; the
 * public contract (include/mdc/whisper.h) is the final one.
 */
#include <stdlib.h>
#include <string.h>

#include "whisper/engine.h"
#include "whisper/state.h"

struct wsp_session {
    wsp_state *state;
    wsp_params p;
    float *pcm;
    size_t n, cap;
    int phase; /* 0 open, 1 ended, 2 failed */
};

int wsp_session_begin(wsp_state *state, const wsp_params *params, wsp_session **out,
                      wsp_error *err)
{
    if (out)
        *out = NULL;
    if (!state || !params || !out)
        return wsp__fail(err, WSP_EINVAL, "wsp_session_begin: NULL state, params or out");
    wsp_session *s = calloc(1, sizeof *s);
    if (!s)
        return wsp__fail(err, WSP_ENOMEM, "out of memory for the session");
    s->state = state;
    s->p = *params;
    *out = s;
    return 0;
}

void wsp_session_set_expected_samples(wsp_session *s, uint64_t n) { (void)s, (void)n; }

int wsp_session_feed(wsp_session *s, const float *pcm, size_t n, wsp_error *err)
{
    if (!s || (!pcm && n))
        return wsp__fail(err, WSP_EINVAL, "wsp_session_feed: NULL session or pcm");
    if (s->phase)
        return wsp__fail(err, WSP_EINVAL, "wsp_session_feed: session %s",
                         s->phase == 1 ? "already ended" : "failed");
    if (s->n + n > s->cap) {
        size_t c = s->cap ? s->cap : 16000;
        while (c < s->n + n)
            c *= 2;
        float *p = realloc(s->pcm, sizeof(float) * c);
        if (!p) {
            s->phase = 2;
            return wsp__fail(err, WSP_ENOMEM, "out of memory");
        }
        s->pcm = p;
        s->cap = c;
    }
    if (n)
        memcpy(s->pcm + s->n, pcm, sizeof(float) * n);
    s->n += n;
    return 0;
}

int wsp_session_end(wsp_session *s, wsp_result **out, wsp_error *err)
{
    if (out)
        *out = NULL;
    if (!s || !out)
        return wsp__fail(err, WSP_EINVAL, "wsp_session_end: NULL session or out");
    if (s->phase)
        return wsp__fail(err, WSP_EINVAL, "wsp_session_end: session %s",
                         s->phase == 1 ? "already ended" : "failed");
    s->phase = 1;
    return wsp_transcribe(s->state, s->pcm, s->n, &s->p, out, err);
}

void wsp_session_free(wsp_session *s)
{
    if (!s)
        return;
    free(s->pcm);
    free(s);
}

void wsp_session_get_stats(const wsp_session *s, wsp_session_stats *out)
{
    if (!out)
        return;
    memset(out, 0, sizeof *out);
    if (s) {
        out->samples_fed = s->n;
        out->bytes_held = sizeof *s + s->cap * sizeof(float);
    }
}
