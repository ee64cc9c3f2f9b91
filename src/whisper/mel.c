/*
 * mel.c — log-mel spectrogram as whisper.cpp computes it (see engine.h wsp__mel_compute).
 *
 * ref: OpenAI whisper/audio.py log_mel_spectrogram (STFT n_fft 400, hop 160, periodic
 * Hann, power spectrum, filterbank, log10, max−8 clamp, (x+4)/4); whisper.cpp
 * log_mel_spectrogram (padding: 200 reflected samples in front, 30 s + 200 zeros behind;
 * frame count (n_samples + 480000)/160; filterbank sums in double).
 * FFT: FFTW single precision, one r2c plan of size 400 made once under a mutex (FFTW's
 * planner is not thread-safe; fftwf_execute_dft_r2c on other arrays is).
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

/* Frame t of the padded signal (200 samples reflected in front: x[200] … x[1]; zeros
 * after the clip), without building the padded copy — a 2-hour meeting would otherwise
 * need another 460 MB.  Returns a pointer into samples when the frame lies inside the
 * clip, else fills buf. */
static const float *frame_samples(const float *s, size_t n, int t, float *buf)
{
    const long start = (long)t * WSP_HOP_LENGTH - PAD_FRONT;
    if (start >= 0 && (size_t)start + WSP_N_FFT <= n)
        return s + start;
    for (int i = 0; i < WSP_N_FFT; i++) {
        const long k = start + i;
        if (k < 0) /* reflected: index -k, when the clip is that long */
            buf[i] = (size_t)(-k) < n ? s[-k] : 0.0f;
        else
            buf[i] = (size_t)k < n ? s[k] : 0.0f;
    }
    return buf;
}

typedef struct mel_job {
    const wsp_model *model;
    const float *samples; /* the clip (no padded copy: see frame_samples) */
    size_t n_samples;
    int n_frames, n_mels;
    float *mel;          /* [n_mels][n_frames] */
    int ith, nth;
    int rc;
    float max;           /* per-thread maximum */
} mel_job;

static void mel_worker(mel_job *j)
{
    float *in = fftwf_malloc(sizeof(float) * WSP_N_FFT);
    fftwf_complex *out = fftwf_malloc(sizeof(fftwf_complex) * N_BINS);
    float *filt = malloc(sizeof(float) * (size_t)j->n_mels * N_BINS);
    float power[N_BINS];
    j->max = -INFINITY;
    if (!in || !out || !filt) {
        j->rc = WSP_ENOMEM;
        goto done;
    }
    memcpy(filt, j->model->filters, sizeof(float) * (size_t)j->n_mels * N_BINS);
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
    for (int t = j->ith; t < j->n_frames; t += j->nth) {
        float xb[WSP_N_FFT];
        const float *x = frame_samples(j->samples, j->n_samples, t, xb);
        int any = 0;
        for (int i = 0; i < WSP_N_FFT; i++)
            any |= x[i] != 0.0f;
        if (!any) { /* silence and the 30 s tail pad: power 0 in every bin */
            for (int m = 0; m < j->n_mels; m++)
                j->mel[(size_t)m * (size_t)j->n_frames + (size_t)t] = log_floor;
            if (log_floor > j->max)
                j->max = log_floor;
            continue;
        }
        for (int i = 0; i < WSP_N_FFT; i++)
            in[i] = x[i] * g_hann[i];
        fftwf_execute_dft_r2c(g_plan, in, out);
        for (int k = 0; k < N_BINS; k++)
            power[k] = out[k][0] * out[k][0] + out[k][1] * out[k][1];
        for (int m = 0; m < j->n_mels; m++) {
            const float *f = filt + (size_t)m * N_BINS;
            double sum = 0;
            for (int k = lo[m]; k < hi[m]; k++)
                sum += (double)(power[k] * f[k]);
            const float v = (float)log10(sum > 1e-10 ? sum : 1e-10);
            j->mel[(size_t)m * (size_t)j->n_frames + (size_t)t] = v;
            if (v > j->max)
                j->max = v;
        }
    }
done:
    fftwf_free(in);
    fftwf_free(out);
    free(filt);
}

/* Pool task: chunk ith runs job ith of the array ctx. */
static void mel_task(void *ctx, int ith, int nth)
{
    (void)nth;
    mel_worker(&((mel_job *)ctx)[ith]);
}

int wsp__mel_compute(const wsp_model *model, const float *samples, size_t n_samples,
                     wsp__pool *pool, float **mel_out, int *n_frames_out, int *n_len_org)
{
    if (!model || (!samples && n_samples) || !mel_out || !n_frames_out)
        return WSP_EINVAL;
    *mel_out = NULL;
    if (n_samples > (size_t)INT32_MAX / 2)
        return WSP_EINVAL;
    int rc = wsp__mel_init();
    if (rc)
        return rc;
    const int n_mels = model->hp.n_mels;
    const size_t n_frames = (n_samples + WSP_N_SAMPLES_CHUNK) / WSP_HOP_LENGTH;
    /* frame t covers samples [160t − 200, 160t + 200) of the clip, reflected in front and
     * zero behind (the 30 s tail pad), see frame_samples() */
    float *mel = malloc(sizeof(float) * (size_t)n_mels * n_frames);
    if (!mel)
        return WSP_ENOMEM;

    const int ps = wsp__pool_size(pool);
    const int nth = ps > MAX_MEL_THREADS ? MAX_MEL_THREADS : ps;
    mel_job jobs[MAX_MEL_THREADS];
    for (int i = 0; i < nth; i++)
        jobs[i] = (mel_job){.model = model, .samples = samples, .n_samples = n_samples,
                            .n_frames = (int)n_frames,
                            .n_mels = n_mels, .mel = mel, .ith = i, .nth = nth};
    if (nth == 1)
        mel_worker(&jobs[0]);
    else
        wsp__pool_run_n(pool, mel_task, jobs, nth);
    float max = -INFINITY;
    for (int i = 0; i < nth; i++) {
        if (jobs[i].rc)
            rc = jobs[i].rc;
        if (jobs[i].max > max)
            max = jobs[i].max;
    }
    if (rc) {
        free(mel);
        return rc;
    }
    const float floor_v = max - 8.0f;
    const size_t total = (size_t)n_mels * n_frames;
    for (size_t i = 0; i < total; i++) {
        const float v = mel[i] < floor_v ? floor_v : mel[i];
        mel[i] = (v + 4.0f) / 4.0f;
    }
    *mel_out = mel;
    *n_frames_out = (int)n_frames;
    if (n_len_org)
        *n_len_org = (int)(1 + ((long)n_samples + PAD_FRONT - WSP_N_FFT) / WSP_HOP_LENGTH);
    return 0;
}
