/*
 * mel.c — log-mel spectrogram as whisper.cpp computes it (see engine.h wsp__mel_compute).
 *
 * ref: OpenAI whisper/audio.py log_mel_spectrogram (STFT n_fft 400, hop 160, periodic
 * Hann, power spectrum, filterbank, log10, max−8 clamp, (x+4)/4); whisper.cpp
 * log_mel_spectrogram (padding: 200 reflected samples in front, 30 s + 200 zeros behind;
 * frame count (n_samples + 480000)/160; filterbank sums in double).
 * FFT: FFTW single precision, one r2c plan of size 400 made once under a mutex (FFTW's
 * planner is not thread-safe; fftwf_execute_dft_r2c on other arrays is).
 * Two uses: wsp__mel_compute, the whole-buffer mel (global clamp, as whisper.cpp), and
 * wsp__mel_frames, the raw log10 frames of any stretch of a stream, which the streaming
 * session's mel ring (melstream.c) computes window by window.
 * Threads: the frames are split into one chunk per thread of the caller's pool (the
 * engine's); the mel starts no thread of its own.  Each frame is computed the same way
 * whichever thread runs it, so the result does not depend on the thread count.
 */
#include "whisper/model.h"
#include "whisper/kernels.h"
#include "whisper/threadpool.h"

#include <fftw3.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define N_BINS (WSP_N_FFT / 2 + 1) /* 201 */
#define PAD_FRONT (WSP_N_FFT / 2)  /* 200 reflected samples */
#define MAX_MEL_THREADS 16

static pthread_mutex_t g_plan_mu = PTHREAD_MUTEX_INITIALIZER;
static fftwf_plan g_plan;
static float g_hann[WSP_N_FFT];

int wsp__mel_init(void)
{
    int rc = 0;
    pthread_mutex_lock(&g_plan_mu);
    if (!g_plan) {
        float *in = fftwf_malloc(sizeof(float) * WSP_N_FFT);
        fftwf_complex *out = fftwf_malloc(sizeof(fftwf_complex) * N_BINS);
        if (in && out)
            g_plan = fftwf_plan_dft_r2c_1d(WSP_N_FFT, in, out, FFTW_ESTIMATE);
        fftwf_free(in);
        fftwf_free(out);
        /* periodic Hann: 0.5·(1 − cos(2πi/N))  (torch.hann_window(400), periodic=True) */
        for (int i = 0; i < WSP_N_FFT; i++)
            g_hann[i] = (float)(0.5 * (1.0 - cos(2.0 * M_PI * i / WSP_N_FFT)));
        if (!g_plan)
            rc = WSP_ENOMEM;
    }
    pthread_mutex_unlock(&g_plan_mu);
    return rc;
}

/* Frame t of the stream (200 samples reflected in front: x[200] … x[1]; zeros at and
 * after n_total), without building a padded copy.  The buffer x holds stream samples
 * [base, base + len); returns a pointer into it when the frame lies inside it and
 * inside the stream, else fills buf (a sample outside the buffer reads 0: callers only
 * ask for frames whose samples below n_total are all there). */
static const float *frame_samples(const float *x, uint64_t base, size_t len, uint64_t n_total,
                                  int64_t t, float *buf)
{
    const int64_t start = t * WSP_HOP_LENGTH - PAD_FRONT;
    const int64_t lo = (int64_t)base, hi = (int64_t)(base + len);
    if (start >= lo && start + WSP_N_FFT <= hi && (uint64_t)(start + WSP_N_FFT) <= n_total)
        return x + (start - lo);
    for (int i = 0; i < WSP_N_FFT; i++) {
        int64_t k = start + i;
        if (k < 0) /* reflected: index -k, when the clip is that long */
            k = -k;
        buf[i] = (uint64_t)k < n_total && k >= lo && k < hi ? x[k - lo] : 0.0f;
    }
    return buf;
}

typedef struct mel_job {
    const wsp_model *model;
    const float *x;       /* stream samples [base, base + len) */
    uint64_t base, n_total;
    size_t len;
    int64_t t0;           /* first frame */
    int n, n_mels;        /* frames [t0, t0 + n) */
    float *dst;           /* [n_mels] rows of `stride`; frame t0 + i at column i */
    size_t stride;
    float *fmax;          /* NULL or [n]: max over bands per frame */
    int ith, nth;
    int rc;
    float max;            /* per-thread maximum */
} mel_job;

static void mel_worker(mel_job *j)
{
    float *in = fftwf_malloc(sizeof(float) * WSP_N_FFT);
    fftwf_complex *out = fftwf_malloc(sizeof(fftwf_complex) * N_BINS);
    const float *filt = j->model->filters; /* [n_mels][201] */
    float power[N_BINS];
    j->max = -INFINITY;
    if (!in || !out) {
        j->rc = WSP_ENOMEM;
        goto done;
    }
    /* Each band's filter is a narrow triangle: sum only over its non-zero bins (skipping
     * exact zeros leaves the double sum bit-identical). */
    int lo[128], hi[128];
    for (int m = 0; m < j->n_mels; m++) {
        const float *f = filt + (size_t)m * N_BINS;
        lo[m] = 0;
        hi[m] = N_BINS;
        while (lo[m] < N_BINS && f[lo[m]] == 0.0f)
            lo[m]++;
        while (hi[m] > lo[m] && f[hi[m] - 1] == 0.0f)
            hi[m]--;
    }
    const float log_floor = -10.0f; /* log10(1e-10): what an all-zero frame gives */
    for (int i = j->ith; i < j->n; i += j->nth) {
        float xb[WSP_N_FFT];
        const float *x = frame_samples(j->x, j->base, j->len, j->n_total, j->t0 + i, xb);
        float fm = -INFINITY;
        int any = 0;
        for (int k = 0; k < WSP_N_FFT; k++)
            any |= x[k] != 0.0f;
        if (!any) { /* silence and the 30 s tail pad: power 0 in every bin */
            for (int m = 0; m < j->n_mels; m++)
                j->dst[(size_t)m * j->stride + (size_t)i] = log_floor;
            fm = log_floor;
        } else {
            for (int k = 0; k < WSP_N_FFT; k++)
                in[k] = x[k] * g_hann[k];
            fftwf_execute_dft_r2c(g_plan, in, out);
            for (int k = 0; k < N_BINS; k++)
                power[k] = out[k][0] * out[k][0] + out[k][1] * out[k][1];
            for (int m = 0; m < j->n_mels; m++) {
                const float *f = filt + (size_t)m * N_BINS;
                double sum = 0;
                for (int k = lo[m]; k < hi[m]; k++)
                    sum += (double)(power[k] * f[k]);
                const float v = (float)log10(sum > 1e-10 ? sum : 1e-10);
                j->dst[(size_t)m * j->stride + (size_t)i] = v;
                if (v > fm)
                    fm = v;
            }
        }
        if (j->fmax)
            j->fmax[i] = fm;
        if (fm > j->max)
            j->max = fm;
    }
done:
    fftwf_free(in);
    fftwf_free(out);
}

/* Pool task: chunk ith runs job ith of the array ctx. */
static void mel_task(void *ctx, int ith, int nth)
{
    (void)nth;
    mel_worker(&((mel_job *)ctx)[ith]);
}

int wsp__mel_frames(const wsp_model *model, const float *x, uint64_t x_base, size_t x_len,
                    uint64_t n_total, int64_t t0, int n, wsp__pool *pool, float *dst,
                    size_t dst_stride, float *fmax, float *max_out)
{
    if (!model || (!x && x_len) || !dst || n < 0 || t0 < 0 || !max_out)
        return WSP_EINVAL;
    *max_out = -INFINITY;
    if (n == 0)
        return 0;
    int rc = wsp__mel_init();
    if (rc)
        return rc;
    /* a thread per 64 frames at most: a few frames are not worth waking the pool */
    const int ps = wsp__pool_size(pool);
    int nth = ps > MAX_MEL_THREADS ? MAX_MEL_THREADS : ps;
    if (nth > (n + 63) / 64)
        nth = (n + 63) / 64;
    mel_job jobs[MAX_MEL_THREADS];
    for (int i = 0; i < nth; i++)
        jobs[i] = (mel_job){.model = model, .x = x, .base = x_base, .n_total = n_total,
                            .len = x_len, .t0 = t0, .n = n, .n_mels = model->hp.n_mels,
                            .dst = dst, .stride = dst_stride, .fmax = fmax, .ith = i,
                            .nth = nth};
    if (nth == 1)
        mel_worker(&jobs[0]);
    else
        wsp__pool_run_n(pool, mel_task, jobs, nth);
    for (int i = 0; i < nth; i++) {
        if (jobs[i].rc)
            rc = jobs[i].rc;
        if (jobs[i].max > *max_out)
            *max_out = jobs[i].max;
    }
    return rc;
}

void wsp__mel_normalize(float *dst, const float *raw, int n_rows, int n_cols,
                        size_t dst_stride, size_t raw_stride, float max)
{
    const float floor_v = max - 8.0f;
    for (int m = 0; m < n_rows; m++) {
        const float *r = raw + (size_t)m * raw_stride;
        float *d = dst + (size_t)m * dst_stride;
        for (int i = 0; i < n_cols; i++) {
            const float v = r[i] < floor_v ? floor_v : r[i];
            d[i] = (v + 4.0f) / 4.0f;
        }
    }
}

int wsp__mel_max(const wsp_model *model, const float *samples, size_t n_samples,
                 wsp__pool *pool, float *max_out)
{
    if (!model || (!samples && n_samples) || !max_out)
        return WSP_EINVAL;
    enum { BATCH = 4096 }; /* frames per pass: 1.3 MB of scratch for 80 bands */
    const int n_mels = model->hp.n_mels;
    const int64_t n_frames = (int64_t)((n_samples + WSP_N_SAMPLES_CHUNK) / WSP_HOP_LENGTH);
    float *scratch = malloc(sizeof(float) * (size_t)n_mels * BATCH);
    if (!scratch)
        return WSP_ENOMEM;
    float max = -INFINITY;
    int rc = 0;
    for (int64_t t = 0; t < n_frames && !rc; t += BATCH) {
        const int n = n_frames - t < BATCH ? (int)(n_frames - t) : BATCH;
        float m;
        rc = wsp__mel_frames(model, samples, 0, n_samples, n_samples, t, n, pool, scratch,
                             BATCH, NULL, &m);
        if (m > max)
            max = m;
    }
    free(scratch);
    *max_out = max;
    return rc;
}

int wsp__mel_compute(const wsp_model *model, const float *samples, size_t n_samples,
                     wsp__pool *pool, float **mel_out, int *n_frames_out, int *n_len_org)
{
    if (!model || (!samples && n_samples) || !mel_out || !n_frames_out)
        return WSP_EINVAL;
    *mel_out = NULL;
    if (n_samples > (size_t)INT32_MAX / 2)
        return WSP_EINVAL;
    const int n_mels = model->hp.n_mels;
    const size_t n_frames = (n_samples + WSP_N_SAMPLES_CHUNK) / WSP_HOP_LENGTH;
    /* frame t covers samples [160t − 200, 160t + 200) of the clip, reflected in front and
     * zero behind (the 30 s tail pad), see frame_samples() */
    float *mel = malloc(sizeof(float) * (size_t)n_mels * n_frames);
    if (!mel)
        return WSP_ENOMEM;
    float max;
    int rc = wsp__mel_frames(model, samples, 0, n_samples, n_samples, 0, (int)n_frames, pool,
                             mel, n_frames, NULL, &max);
    if (rc) {
        free(mel);
        return rc;
    }
    wsp__mel_normalize(mel, mel, n_mels, (int)n_frames, n_frames, n_frames, max);
    *mel_out = mel;
    *n_frames_out = (int)n_frames;
    if (n_len_org)
        *n_len_org = (int)(1 + ((long)n_samples + PAD_FRONT - WSP_N_FFT) / WSP_HOP_LENGTH);
    return 0;
}
