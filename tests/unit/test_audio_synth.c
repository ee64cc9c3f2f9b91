/*
 * test_audio_synth.c — WAV files built in memory, where the right output is known
 * exactly: every channel reaches the mono mix with weight 1/N (LFE and channels beyond
 * any standard layout included), s16 → float is x/32768 with no resampling at 16 kHz,
 * implausible rates and channel counts are refused, and concurrent decodes on several
 * threads give the same samples as one at a time.
 */
#include <math.h>
#include <pthread.h>

#include "testutil.h"

#include "mdc/audio.h"

static void put16(uint8_t *p, uint32_t v) { p[0] = (uint8_t)v, p[1] = (uint8_t)(v >> 8); }
static void put32(uint8_t *p, uint32_t v)
{
    put16(p, v & 0xFFFF);
    put16(p + 2, v >> 16);
}

/* A PCM s16le WAV (44-byte header); channel c of every frame holds value(c).  Returns a
 * malloc'd buffer of *len bytes. */
static uint8_t *make_wav(int channels, int rate, int frames, int16_t (*value)(int c, int i),
                         size_t *len)
{
    size_t data = (size_t)frames * (size_t)channels * 2;
    uint8_t *w = calloc(1, 44 + data);
    assert_non_null(w);
    memcpy(w, "RIFF", 4);
    put32(w + 4, (uint32_t)(36 + data));
    memcpy(w + 8, "WAVEfmt ", 8);
    put32(w + 16, 16);
    put16(w + 20, 1); /* WAVE_FORMAT_PCM */
    put16(w + 22, (uint32_t)channels);
    put32(w + 24, (uint32_t)rate);
    put32(w + 28, (uint32_t)(rate * channels * 2));
    put16(w + 32, (uint32_t)(channels * 2));
    put16(w + 34, 16);
    memcpy(w + 36, "data", 4);
    put32(w + 40, (uint32_t)data);
    for (int i = 0; i < frames; i++)
        for (int c = 0; c < channels; c++)
            put16(w + 44 + ((size_t)i * channels + c) * 2, (uint16_t)value(c, i));
    *len = 44 + data;
    return w;
}

static int16_t by_channel(int c, int i) { (void)i; return (int16_t)((c + 1) * 1000); }
static int16_t ramp(int c, int i) { (void)c; return (int16_t)((i * 37) % 20000 - 10000); }

/* 5.1 (6 channels, one of them LFE) and 10 channels (no standard layout): the mix is
 * the plain mean of all channels. */
static void test_all_channels_averaged(void **state)
{
    (void)state;
    static const int counts[] = {2, 6, 10};
    for (size_t k = 0; k < sizeof counts / sizeof counts[0]; k++) {
        int n = counts[k];
        size_t len;
        uint8_t *w = make_wav(n, 16000, 16000, by_channel, &len);
        aud_pcm pcm;
        aud_error err;
        int rc = aud_decode_memory(w, len, NULL, NULL, NULL, &pcm, &err);
        if (rc)
            fail_msg("%d channels: %s", n, err.message);
        assert_int_equal(pcm.info.channels, n);
        assert_int_equal(pcm.n_samples, 16000);
        double want = 0;
        for (int c = 0; c < n; c++)
            want += (c + 1) * 1000.0 / 32768.0;
        want /= n;
        for (size_t i = 0; i < pcm.n_samples; i++)
            if (fabs(pcm.samples[i] - want) > 1e-4)
                fail_msg("%d channels: sample %zu = %f, want %f", n, i, pcm.samples[i], want);
        aud_pcm_free(&pcm);
        free(w);
    }
}

/* Mono s16 at 16 kHz: no resampling, each sample is exactly x / 32768. */
static void test_identity_at_16k(void **state)
{
    (void)state;
    size_t len;
    uint8_t *w = make_wav(1, 16000, 5000, ramp, &len);
    aud_pcm pcm;
    assert_int_equal(aud_decode_memory(w, len, NULL, NULL, NULL, &pcm, NULL), 0);
    assert_int_equal(pcm.n_samples, 5000);
    for (int i = 0; i < 5000; i++)
        assert_true(pcm.samples[i] == (float)ramp(0, i) / 32768.0f);
    assert_false(pcm.info.truncated);
    aud_pcm_free(&pcm);
    free(w);
}

/* Resampling keeps the duration: 1 s at 8, 22.05, 44.1, 48 and 96 kHz → 16000 ± 1. */
static void test_resampled_lengths(void **state)
{
    (void)state;
    static const int rates[] = {8000, 22050, 44100, 48000, 96000};
    for (size_t k = 0; k < sizeof rates / sizeof rates[0]; k++) {
        size_t len;
        uint8_t *w = make_wav(1, rates[k], rates[k], ramp, &len);
        aud_pcm pcm;
        assert_int_equal(aud_decode_memory(w, len, NULL, NULL, NULL, &pcm, NULL), 0);
        assert_int_equal(pcm.info.sample_rate, rates[k]);
        assert_true(labs((long)pcm.n_samples - 16000) <= 1);
        aud_pcm_free(&pcm);
        free(w);
    }
}

static void test_implausible_headers_refused(void **state)
{
    (void)state;
    size_t len;
    aud_pcm pcm;
    aud_error err;
    uint8_t *w = make_wav(1, 500, 500, ramp, &len); /* 500 Hz */
    assert_int_equal(aud_decode_memory(w, len, NULL, NULL, NULL, &pcm, &err), AUD_ECORRUPT);
    free(w);
    w = make_wav(65, 16000, 100, by_channel, &len); /* more than 64 channels */
    int rc = aud_decode_memory(w, len, NULL, NULL, NULL, &pcm, &err);
    assert_true(rc == AUD_ECORRUPT || rc == AUD_ENOTAUDIO);
    free(w);
}

typedef struct {
    const char *path;
    aud_pcm pcm;
    int rc;
} job;

static void *run_job(void *arg)
{
    job *j = arg;
    j->rc = aud_decode_file(j->path, NULL, NULL, NULL, &j->pcm, NULL);
    return NULL;
}

/* Calls are independent: 4 threads at once give what one thread gives. */
static void test_concurrent_decodes(void **state)
{
    (void)state;
    static const char *names[] = {"meeting_en_16k_mono_s16.wav", "edge_clipped_plus24db.wav",
                                  "meeting_ptbr_48k_f32_excerpt.wav",
                                  "edge_stereo_left_speech_right_silent.wav"};
    job jobs[4];
    pthread_t th[4];
    for (int i = 0; i < 4; i++) {
        char rel[256];
        snprintf(rel, sizeof rel, "fixtures/audio/%s", names[i]);
        memset(&jobs[i], 0, sizeof jobs[i]);
        jobs[i].path = strdup(tu_shared(rel));
        TU_REQUIRE_FILE(jobs[i].path);
    }
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&th[i], NULL, run_job, &jobs[i]), 0);
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    for (int i = 0; i < 4; i++) {
        assert_int_equal(jobs[i].rc, 0);
        aud_pcm one;
        assert_int_equal(aud_decode_file(jobs[i].path, NULL, NULL, NULL, &one, NULL), 0);
        assert_int_equal(one.n_samples, jobs[i].pcm.n_samples);
        assert_memory_equal(one.samples, jobs[i].pcm.samples, one.n_samples * sizeof(float));
        aud_pcm_free(&one);
        aud_pcm_free(&jobs[i].pcm);
        free((char *)jobs[i].path);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_all_channels_averaged),
        cmocka_unit_test(test_identity_at_16k),
        cmocka_unit_test(test_resampled_lengths),
        cmocka_unit_test(test_implausible_headers_refused),
        cmocka_unit_test(test_concurrent_decodes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
