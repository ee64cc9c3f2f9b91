/*
 * test_audio_limits.c — limits enforced while decoding (duration, size), cancellation,
 * damaged input rules, determinism across containers, the downmix, the memory entry
 * point, the error table and the FFmpeg log rate limit.
 */
#include <math.h>
#include <unistd.h>

#include "testutil.h"

#include "audio/audio_internal.h" /* aud__log_stats */
#include "mdc/audio.h"
#include "mdc/log.h"

static const char *fx(const char *name)
{
    char rel[256];
    snprintf(rel, sizeof rel, "fixtures/audio/%s", name);
    const char *p = tu_shared(rel);
    if (!tu_exists(p)) {
        print_message("SKIP: %s not found\n", p);
        skip();
    }
    return p;
}

typedef struct {
    int polls;
    int cancel_at; /* 0 = never */
} poll_count;

static bool count_polls(void *user)
{
    poll_count *pc = user;
    pc->polls++;
    return pc->cancel_at && pc->polls >= pc->cancel_at;
}

static void test_too_long_stops_early(void **state)
{
    (void)state;
    const char *p = fx("meeting_ptbr_16k_mono_s16.wav");
    poll_count full = {0, 0}, lim = {0, 0};
    aud_pcm pcm;
    aud_error err;
    assert_int_equal(aud_decode_file(p, NULL, count_polls, &full, &pcm, &err), 0);
    aud_pcm_free(&pcm);
    aud_limits l = {.max_seconds = 2.0, .max_bytes = 0};
    assert_int_equal(aud_decode_file(p, &l, count_polls, &lim, &pcm, &err), AUD_ETOOLONG);
    assert_int_equal(err.code, AUD_ETOOLONG);
    assert_null(pcm.samples);
    assert_int_equal(pcm.n_samples, 0);
    assert_non_null(strstr(err.message, "2 s"));
    /* "Stops at once": the work done is a small fraction of the full decode (polls are
     * once per packet plus I/O interrupts; no timing). */
    print_message("polls: full %d, limited %d\n", full.polls, lim.polls);
    assert_true(lim.polls * 10 < full.polls);
}

/* A container with no duration at all (live WebM) is stopped by decoded samples. */
static void test_too_long_without_declared_duration(void **state)
{
    (void)state;
    const char *p = fx("meeting_ptbr_mediarecorder_opus.webm");
    aud_limits l = {.max_seconds = 30, .max_bytes = 0};
    aud_pcm pcm;
    aud_error err;
    assert_int_equal(aud_decode_file(p, &l, NULL, NULL, &pcm, &err), AUD_ETOOLONG);
    assert_null(pcm.samples);
}

static void test_limit_boundary(void **state)
{
    (void)state;
    const char *p = fx("meeting_en_16k_mono_s16.wav"); /* 64.197 s */
    aud_pcm pcm;
    aud_limits over = {.max_seconds = 64.5, .max_bytes = 0};
    assert_int_equal(aud_decode_file(p, &over, NULL, NULL, &pcm, NULL), 0);
    aud_pcm_free(&pcm);
    aud_limits under = {.max_seconds = 64.0, .max_bytes = 0};
    assert_int_equal(aud_decode_file(p, &under, NULL, NULL, &pcm, NULL), AUD_ETOOLONG);
    /* Byte limit: exactly the file size passes, one byte less fails before decoding. */
    aud_limits b_ok = {.max_seconds = 0, .max_bytes = 2054340};
    assert_int_equal(aud_decode_file(p, &b_ok, NULL, NULL, &pcm, NULL), 0);
    aud_pcm_free(&pcm);
    aud_limits b_bad = {.max_seconds = 0, .max_bytes = 2054339};
    poll_count pc = {0, 0};
    aud_error err;
    assert_int_equal(aud_decode_file(p, &b_bad, count_polls, &pc, &pcm, &err), AUD_ETOOLARGE);
    assert_int_equal(pc.polls, 0); /* refused from stat(), nothing opened */
    assert_non_null(strstr(err.message, "2054340"));
}

static void test_too_large_memory(void **state)
{
    (void)state;
    size_t len = 0;
    char *data = tu_read_file(fx("edge_silence_1s.wav"), &len);
    assert_non_null(data);
    aud_limits l = {.max_seconds = 0, .max_bytes = 1000};
    aud_pcm pcm;
    assert_int_equal(aud_decode_memory(data, len, &l, NULL, NULL, &pcm, NULL), AUD_ETOOLARGE);
    assert_int_equal(aud_decode_memory(data, 0, NULL, NULL, NULL, &pcm, NULL), AUD_EEMPTY);
    free(data);
}

static void test_cancel(void **state)
{
    (void)state;
    const char *p = fx("meeting_ptbr_aac_48k_mono_moov_at_end.m4a");
    for (int at = 1; at <= 200; at *= 5) { /* during probing, analysis and decoding */
        poll_count pc = {0, at};
        aud_pcm pcm;
        aud_error err;
        int rc = aud_decode_file(p, NULL, count_polls, &pc, &pcm, &err);
        assert_int_equal(rc, AUD_ECANCELED);
        assert_int_equal(err.code, AUD_ECANCELED);
        assert_null(pcm.samples);
        assert_int_equal(pc.polls, at); /* stops at the first true */
    }
}

/* The FLAC and the s16 WAV hold the same samples: decoding must be bit-identical. */
static void test_flac_equals_wav(void **state)
{
    (void)state;
    aud_pcm a, b;
    assert_int_equal(aud_decode_file(fx("meeting_ptbr_16k_mono.flac"), NULL, NULL, NULL, &a, NULL), 0);
    assert_int_equal(aud_decode_file(fx("meeting_ptbr_16k_mono_s16.wav"), NULL, NULL, NULL, &b, NULL), 0);
    assert_int_equal(a.n_samples, b.n_samples);
    assert_int_equal(a.n_samples, 2721242);
    assert_memory_equal(a.samples, b.samples, a.n_samples * sizeof(float));
    aud_pcm_free(&a);
    aud_pcm_free(&b);
}

static double rms(const float *x, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += (double)x[i] * x[i];
    return n ? sqrt(s / (double)n) : 0;
}

/* Left = speech, right = silence: the mono mix keeps the speech at half level. */
static void test_stereo_left_speech_kept(void **state)
{
    (void)state;
    const char *p = fx("edge_stereo_left_speech_right_silent.wav");
    aud_pcm pcm;
    assert_int_equal(aud_decode_file(p, NULL, NULL, NULL, &pcm, NULL), 0);
    assert_int_equal(pcm.info.channels, 2);
    /* RMS of the left channel alone, straight from the s16 data (44-byte header). */
    size_t len = 0;
    unsigned char *raw = tu_read_file(p, &len);
    assert_non_null(raw);
    double s = 0;
    size_t frames = (len - 44) / 4;
    for (size_t i = 0; i < frames; i++) {
        int16_t l = (int16_t)(raw[44 + 4 * i] | raw[45 + 4 * i] << 8);
        s += ((double)l / 32768) * ((double)l / 32768);
    }
    free(raw);
    double left = sqrt(s / (double)frames), mix = rms(pcm.samples, pcm.n_samples);
    print_message("left RMS %.4f, mono mix RMS %.4f\n", left, mix);
    assert_true(left > 0.02);
    assert_true(fabs(mix - left / 2) < 0.1 * left); /* 1/N weights: half the level */
    aud_pcm_free(&pcm);
}

/* Memory and file paths are one decoder: same samples (moov-at-end needs seeking). */
static void test_memory_equals_file(void **state)
{
    (void)state;
    const char *p = fx("meeting_ptbr_black_video_h264_aac.mp4");
    size_t len = 0;
    char *data = tu_read_file(p, &len);
    assert_non_null(data);
    aud_pcm a, b;
    assert_int_equal(aud_decode_file(p, NULL, NULL, NULL, &a, NULL), 0);
    assert_int_equal(aud_decode_memory(data, len, NULL, NULL, NULL, &b, NULL), 0);
    assert_int_equal(a.n_samples, b.n_samples);
    assert_memory_equal(a.samples, b.samples, a.n_samples * sizeof(float));
    assert_string_equal(a.info.container, b.info.container);
    aud_pcm_free(&a);
    aud_pcm_free(&b);
    free(data);
}

/* A file cut short yields the decodable part, flagged truncated (audio.h rule). */
static void test_truncated_gives_decodable_part(void **state)
{
    (void)state;
    size_t len = 0;
    char *data = tu_read_file(fx("meeting_ptbr_16k_mono.flac"), &len);
    assert_non_null(data);
    aud_pcm pcm;
    assert_int_equal(aud_decode_memory(data, 200000, NULL, NULL, NULL, &pcm, NULL), 0);
    print_message("first 200000 bytes: %.2f s, truncated %d\n", pcm.info.duration_s,
                  pcm.info.truncated);
    assert_true(pcm.info.duration_s > 5 && pcm.info.duration_s < 20);
    assert_true(pcm.info.truncated);
    aud_pcm_free(&pcm);
    free(data);
    /* A WAV cut short: same rule (the header's data length is the claim). */
    data = tu_read_file(fx("meeting_ptbr_16k_mono_s16.wav"), &len);
    assert_non_null(data);
    assert_int_equal(aud_decode_memory(data, 320044, NULL, NULL, NULL, &pcm, NULL), 0);
    assert_int_equal(pcm.n_samples, 160000);
    assert_true(pcm.info.truncated);
    assert_true(pcm.info.declared_s > 170);
    aud_pcm_free(&pcm);
    free(data);
}

/* Damaged packets in the middle are skipped; the rest decodes, flagged truncated. */
static void test_corrupt_middle_skipped(void **state)
{
    (void)state;
    size_t len = 0;
    unsigned char *data = tu_read_file(fx("meeting_ptbr_aac_48k_mono_moov_at_end.m4a"), &len);
    assert_non_null(data);
    uint32_t x = 12345;
    for (size_t i = 400000; i < 430000; i++) { /* inside mdat (40 … 1381301) */
        x = x * 1103515245u + 12345u;
        data[i] = (unsigned char)(x >> 16);
    }
    aud_pcm pcm;
    aud_error err;
    int rc = aud_decode_memory(data, len, NULL, NULL, NULL, &pcm, &err);
    assert_int_equal(rc, 0);
    print_message("corrupt middle: %.2f s, truncated %d\n", pcm.info.duration_s,
                  pcm.info.truncated);
    assert_true(pcm.info.duration_s > 160);
    assert_true(pcm.info.truncated);
    aud_pcm_free(&pcm);
    free(data);
}

typedef struct {
    int ffmpeg_lines;
} log_capture;

static void capture_sink(mdc_log_level level, const char *func, const char *msg, void *user)
{
    (void)level, (void)msg;
    log_capture *c = user;
    if (func && strcmp(func, "ffmpeg") == 0)
        c->ffmpeg_lines++;
}

/* A file that makes the decoder complain on every packet cannot flood the log. */
static void test_log_rate_limited(void **state)
{
    (void)state;
    size_t len = 0;
    unsigned char *data = tu_read_file(fx("meeting_ptbr_44k1_mono_48k_id3art.mp3"), &len);
    assert_non_null(data);
    for (size_t i = 360000; i + 8 < len; i += 997) /* damage frames all along */
        memset(data + i, 0xA5, 8);
    log_capture c = {0};
    mdc_log_set_sink(capture_sink, &c);
    unsigned long pass0, drop0, pass1, drop1;
    aud_init();
    aud__log_stats(&pass0, &drop0);
    aud_pcm pcm;
    (void)aud_decode_memory(data, len, NULL, NULL, NULL, &pcm, NULL);
    aud_pcm_free(&pcm);
    aud__log_stats(&pass1, &drop1);
    mdc_log_set_sink(NULL, NULL);
    free(data);
    print_message("ffmpeg lines logged %d, passed %lu, dropped %lu\n", c.ffmpeg_lines,
                  pass1 - pass0, drop1 - drop0);
    assert_true(drop1 - drop0 > 0);
    assert_true(pass1 - pass0 >= 1 && pass1 - pass0 <= 2 * AUD_LOG_BURST);
    /* at most two windows' worth (the decode may straddle a window edge) + summaries */
    assert_true(c.ffmpeg_lines <= 2 * AUD_LOG_BURST + 2);
}

/* Found by the fuzzer: an APC file declaring 16 Hz made the resampler expand every input
 * sample 1000x (38 s under ASan for 3.6 KB).  Implausible rates are refused. */
static void test_implausible_rate_refused(void **state)
{
    (void)state;
    const char *p = "tests/fuzz/regressions/audio/fuzz-timeout-apc-16hz-upsampling.bin";
    if (!tu_exists(p)) {
        print_message("SKIP: %s not found (run from the project root)\n", p);
        skip();
    }
    aud_pcm pcm;
    aud_error err;
    assert_int_equal(aud_decode_file(p, NULL, NULL, NULL, &pcm, &err), AUD_ECORRUPT);
    assert_non_null(strstr(err.message, "16 Hz"));
}

static void test_errors_and_args(void **state)
{
    (void)state;
    assert_string_equal(aud_err_name(AUD_ETOOLONG), "AUD_ETOOLONG");
    assert_string_equal(aud_err_name(0), "AUD_OK");
    assert_string_equal(aud_err_name(-999), "AUD_UNKNOWN");
    assert_non_null(strstr(aud_strerror(AUD_ENOSTREAM), "no audio stream"));
    assert_non_null(aud_strerror(12345));
    aud_pcm pcm;
    aud_error err;
    assert_int_equal(aud_decode_file(NULL, NULL, NULL, NULL, &pcm, &err), AUD_EINVAL);
    assert_int_equal(aud_decode_file("/nonexistent/x.wav", NULL, NULL, NULL, &pcm, &err), AUD_EIO);
    assert_int_equal(aud_decode_file("/tmp", NULL, NULL, NULL, &pcm, &err), AUD_EIO);
    assert_int_equal(aud_decode_memory(NULL, 5, NULL, NULL, NULL, &pcm, NULL), AUD_EINVAL);
    aud_pcm_free(NULL);
    aud_pcm_free(&pcm); /* empty after a failure */
    aud_pcm_free(&pcm);
    assert_null(pcm.samples);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_log_rate_limited), /* first: the log window is fresh */
        cmocka_unit_test(test_too_long_stops_early),
        cmocka_unit_test(test_too_long_without_declared_duration),
        cmocka_unit_test(test_limit_boundary),
        cmocka_unit_test(test_too_large_memory),
        cmocka_unit_test(test_cancel),
        cmocka_unit_test(test_flac_equals_wav),
        cmocka_unit_test(test_stereo_left_speech_kept),
        cmocka_unit_test(test_memory_equals_file),
        cmocka_unit_test(test_truncated_gives_decodable_part),
        cmocka_unit_test(test_corrupt_middle_skipped),
        cmocka_unit_test(test_implausible_rate_refused),
        cmocka_unit_test(test_errors_and_args),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
