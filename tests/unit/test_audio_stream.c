/*
 * test_audio_stream.c — the pull reader (aud_stream_*):
 *  - read in random chunk sizes (1 sample … 50 000) it gives exactly aud_decode_file's
 *    samples, info and errors on every file of ../shared/fixtures/audio and the
 *    whisper-ref clips, mono and keep_stereo (energies equal too);
 *  - aud_decode_file (now a loop over the reader) still gives the samples the old
 *    whole-buffer decoder gave: FNV-1a hashes recorded from it before the change, checked
 *    when the FFmpeg libraries are the versions they were recorded with;
 *  - a WebM without duration and a FLAC whose STREAMINFO lies about its length (short
 *    and absurdly long; patched here) report progress that grows, and stop at
 *    max_seconds while streaming, with the samples before the limit delivered;
 *  - aud_measure_file (packet durations, no decoding) agrees with the decoded length on
 *    every fixture it can measure, ignores the lying headers, and refuses an over-long
 *    file early (more than AUD_MEASURE_SLACK_S past the limit);
 *  - end, errors and cancellation are sticky; bad arguments are refused.
 */
#include <dirent.h>
#include <math.h>
#include <unistd.h>

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libswresample/swresample.h>

#include "testutil.h"

#include "mdc/audio.h"

static uint64_t fnv1a(const void *p, size_t n, uint64_t h)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) {
        h ^= b[i];
        h *= 1099511628211ull;
    }
    return h;
}

/* A random read size: mostly mid-sized, sometimes tiny (1–3 samples) or huge. */
static size_t random_chunk(uint32_t *seed)
{
    const uint32_t r = tu_xorshift32(seed);
    switch (r % 10) {
    case 0:
        return 1 + (r >> 8) % 3;
    case 1:
        return 1 + (r >> 8) % 50000;
    default:
        return 1 + (r >> 8) % 4000;
    }
}

typedef struct streamed {
    int rc;           /* open or read error, 0 when the stream ended */
    float *samples;   /* malloc'd */
    size_t n;
    aud_info info;
    aud_energy energy;
    double last_progress;
    int progress_steps; /* times the progress grew */
} streamed;

/* Reads `path` to its end (or first error) in random chunk sizes. */
static void stream_all(const char *path, const aud_limits *lim, uint32_t seed, streamed *out)
{
    memset(out, 0, sizeof *out);
    aud_stream *st = NULL;
    aud_error err;
    out->rc = aud_stream_open(path, lim, NULL, NULL, &st, &err);
    if (out->rc) {
        assert_null(st);
        assert_int_equal(err.code, out->rc);
        return;
    }
    size_t cap = 1 << 16;
    out->samples = malloc(cap * sizeof(float));
    assert_non_null(out->samples);
    double prev = 0;
    for (;;) {
        size_t want = random_chunk(&seed), got = 0;
        if (out->n + want > cap) {
            while (out->n + want > cap)
                cap *= 2;
            out->samples = realloc(out->samples, cap * sizeof(float));
            assert_non_null(out->samples);
        }
        int rc = aud_stream_read(st, out->samples + out->n, want, &got, &err);
        const double p = aud_stream_progress(st);
        assert_true(p >= prev && p <= 1.0); /* never decreases */
        out->progress_steps += p > prev;
        prev = p;
        if (rc) {
            assert_int_equal(got, 0);
            out->rc = rc;
            break;
        }
        assert_true(got <= want);
        if (got == 0)
            break;
        out->n += got;
        assert_true(fabs(aud_stream_info(st)->duration_s - (double)out->n / 16000) < 1e-9);
    }
    out->last_progress = prev;
    out->info = *aud_stream_info(st);
    aud_stream_take_energy(st, &out->energy);
    aud_stream_close(st);
}

static void streamed_free(streamed *s)
{
    free(s->samples);
    aud_energy_free(&s->energy);
}

/* One file, both output modes: stream == whole, bit for bit. */
static void compare_one(const char *path, uint32_t seed)
{
    for (int stereo = 0; stereo < 2; stereo++) {
        aud_limits lim = {.keep_stereo = stereo};
        aud_pcm whole;
        aud_error err;
        const int rc = aud_decode_file(path, &lim, NULL, NULL, &whole, &err);
        streamed s;
        stream_all(path, &lim, seed + (uint32_t)stereo, &s);
        print_message("%-58s stereo=%d rc=%d n=%zu progress steps %d\n", strrchr(path, '/') + 1,
                      stereo, rc, whole.n_samples, s.progress_steps);
        assert_int_equal(s.rc, rc);
        if (rc == 0) {
            assert_int_equal(s.n, whole.n_samples);
            assert_memory_equal(s.samples, whole.samples, s.n * sizeof(float));
            assert_string_equal(s.info.container, whole.info.container);
            assert_string_equal(s.info.codec, whole.info.codec);
            assert_int_equal(s.info.sample_rate, whole.info.sample_rate);
            assert_int_equal(s.info.channels, whole.info.channels);
            assert_true(s.info.duration_s == whole.info.duration_s);
            assert_true(s.info.declared_s == whole.info.declared_s);
            assert_int_equal(s.info.truncated, whole.info.truncated);
            assert_true(s.last_progress == 1.0);
            assert_int_equal(s.energy.n_samples, whole.energy.n_samples);
            assert_int_equal(s.energy.n_blocks, whole.energy.n_blocks);
            if (s.energy.n_blocks)
                assert_memory_equal(s.energy.sums, whole.energy.sums,
                                    2 * s.energy.n_blocks * sizeof(double));
            if (stereo && whole.info.channels == 2)
                assert_int_equal(whole.energy.n_samples, whole.n_samples);
            else
                assert_int_equal(whole.energy.n_samples, 0);
        }
        streamed_free(&s);
        aud_pcm_free(&whole);
    }
}

/* Calls fn(path, name) for every file of ../shared/fixtures/audio but the manifest;
 * skips the test when the folder is absent.  Returns the number of files. */
static int for_each_fixture(void (*fn)(const char *path, const char *name, void *user),
                            void *user)
{
    const char *dir = tu_shared("fixtures/audio");
    DIR *d = opendir(dir);
    if (!d) {
        print_message("SKIP: %s not found\n", dir);
        skip();
    }
    int files = 0;
    struct dirent *e;
    char path[2048];
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.' || strcmp(e->d_name, "MANIFEST.md") == 0)
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        fn(path, e->d_name, user);
        files++;
    }
    closedir(d);
    return files;
}

static void compare_fixture(const char *path, const char *name, void *user)
{
    (void)name;
    uint32_t *seed = user;
    compare_one(path, *seed);
    *seed = *seed * 2654435761u + 1;
}

static void test_stream_equals_whole_on_every_fixture(void **state)
{
    (void)state;
    uint32_t seed = 0x9e3779b9u;
    int files = for_each_fixture(compare_fixture, &seed);
    static const char *const clips[] = {"jfk.wav", "jfk_x5_60s.wav", "stereo_diarization.wav",
                                        "multilingual.mp3"};
    for (size_t i = 0; i < sizeof clips / sizeof clips[0]; i++) {
        char rel[128];
        snprintf(rel, sizeof rel, "whisper-ref/data/%s", clips[i]);
        if (tu_exists(tu_shared(rel))) {
            compare_one(tu_shared(rel), seed++);
            files++;
        }
    }
    print_message("%d files compared\n", files);
    assert_true(files >= 28);
}

/* FNV-1a 64 of the float32 samples the whole-buffer decoder gave before it became a
 * loop over the reader (recorded at commit 9ead877, libavcodec 3876196 = 59.37.100,
 * libavformat 3873636 = 59.27.100, libswresample 264036 = 4.7.100: Debian 12's FFmpeg 5.1). */
static const struct {
    const char *rel;
    bool keep_stereo;
    size_t n;
    uint64_t fnv;
} k_recorded[] = {
    {"fixtures/audio/bad_flac_claims_49_days.flac", false, 16000, 0x34282c70177d30adull},
    {"fixtures/audio/bad_multipart_mp3_declared_text_plain.multipart", false, 342309, 0xe54f7d31d90c62baull},
    {"fixtures/audio/bad_upload_name_nul_dotdot.wav", false, 57796, 0x0bc5c2043c5148b4ull},
    {"fixtures/audio/bad_wav_header_claims_1h.wav", false, 16000, 0x34282c70177d30adull},
    {"fixtures/audio/edge_35s_word_across_30s.wav", false, 560000, 0xa8e4b2ee9da1fb81ull},
    {"fixtures/audio/edge_5min_two_utterances.flac", false, 4800000, 0x447d67255a57b39bull},
    {"fixtures/audio/edge_clipped_plus24db.wav", false, 318400, 0x920148c8987d2e6aull},
    {"fixtures/audio/edge_silence_1s.wav", false, 16000, 0xf75309bcac42bb83ull},
    {"fixtures/audio/edge_speech_0.5s.wav", false, 8000, 0x1500f90885f27642ull},
    {"fixtures/audio/edge_stereo_left_speech_right_silent.wav", false, 98240, 0xba5f714f72e963e5ull},
    {"fixtures/audio/edge_stereo_left_speech_right_silent.wav", true, 98240, 0xe00dcccebb915610ull},
    {"fixtures/audio/meeting_en_16k_mono_s16.wav", false, 1027148, 0xb9c3d1e914d9c17aull},
    {"fixtures/audio/meeting_ptbr_16k_mono.flac", false, 2721242, 0x6008b1c23f08e446ull},
    {"fixtures/audio/meeting_ptbr_16k_mono_s16.wav", false, 2721242, 0x6008b1c23f08e446ull},
    {"fixtures/audio/meeting_ptbr_44k1_mono_48k_id3art.mp3", false, 2721750, 0xfdc72f429348a028ull},
    {"fixtures/audio/meeting_ptbr_48k_f32_excerpt.wav", false, 192801, 0x6e4bfc72f2b2825dull},
    {"fixtures/audio/meeting_ptbr_8k_mulaw_phone.wav", false, 2721242, 0x98c5bcb679ec6f37ull},
    {"fixtures/audio/meeting_ptbr_aac_48k_mono_moov_at_end.m4a", false, 2721451, 0x20495194995ec7b7ull},
    {"fixtures/audio/meeting_ptbr_black_video_h264_aac.mp4", false, 2721451, 0x20495194995ec7b7ull},
    {"fixtures/audio/meeting_ptbr_mediarecorder_opus.webm", false, 2721242, 0x93fb002b3ea62691ull},
    {"fixtures/audio/meeting_ptbr_opus_24k.opus", false, 2721242, 0x36f0d97d9c4f14d9ull},
    {"whisper-ref/data/jfk.wav", false, 176000, 0x1584885ed4b1ad16ull},
    {"whisper-ref/data/jfk_x5_60s.wav", false, 960000, 0x2781cf63b6ee40feull},
    {"whisper-ref/data/stereo_diarization.wav", false, 80000, 0x0edf550cdb7f7dbeull},
    {"whisper-ref/data/stereo_diarization.wav", true, 80000, 0x9bf962188c2e6ccdull},
    {"whisper-ref/data/multilingual.mp3", false, 958400, 0x07629b03a26bef65ull},
};

static void test_whole_equals_old_decoder(void **state)
{
    (void)state;
    if (avcodec_version() != 3876196u || avformat_version() != 3873636u ||
        swresample_version() != 264036u) {
        print_message("SKIP: FFmpeg %u/%u/%u is not the one the hashes were recorded with\n",
                      avcodec_version(), avformat_version(), swresample_version());
        skip();
    }
    for (size_t i = 0; i < sizeof k_recorded / sizeof k_recorded[0]; i++) {
        const char *p = tu_shared(k_recorded[i].rel);
        TU_REQUIRE_FILE(p);
        aud_limits lim = {.keep_stereo = k_recorded[i].keep_stereo};
        aud_pcm pcm;
        assert_int_equal(aud_decode_file(p, &lim, NULL, NULL, &pcm, NULL), 0);
        const uint64_t h = fnv1a(pcm.samples, pcm.n_samples * sizeof(float),
                                 1469598103934665603ull);
        print_message("%-66s %8zu %016llx\n", k_recorded[i].rel, pcm.n_samples,
                      (unsigned long long)h);
        assert_int_equal(pcm.n_samples, k_recorded[i].n);
        assert_true(h == k_recorded[i].fnv);
        aud_pcm_free(&pcm);
    }
}

/* Streams `path` under max_seconds; checks that progress grew before the limit stopped
 * it and that the samples up to the limit came out.  Returns the progress reached. */
static double stream_to_limit(const char *path, double max_seconds)
{
    aud_limits lim = {.max_seconds = max_seconds};
    aud_stream *st = NULL;
    aud_error err;
    assert_int_equal(aud_stream_open(path, &lim, NULL, NULL, &st, &err), 0);
    float buf[4000];
    size_t total = 0, got = 0;
    double prev = 0;
    int grew = 0, rc;
    while ((rc = aud_stream_read(st, buf, 4000, &got, &err)) == 0 && got > 0) {
        total += got;
        const double p = aud_stream_progress(st);
        assert_true(p >= prev);
        grew += p > prev;
        prev = p;
    }
    print_message("%s, limit %.0f s: %s after %.3f s delivered, progress %.3f (grew %d "
                  "times): %s\n", strrchr(path, '/') + 1, max_seconds, aud_err_name(rc),
                  (double)total / 16000, prev, grew, err.message);
    assert_int_equal(rc, AUD_ETOOLONG);
    assert_non_null(strstr(err.message, "longer than the maximum"));
    /* everything up to the limit, less at most one frame still pending */
    assert_true(total <= (size_t)(max_seconds * 16000));
    assert_true(total + 16000 > (size_t)(max_seconds * 16000));
    assert_true(grew >= 10);
    assert_true(prev > 0.1 && prev < 1.0);
    /* sticky */
    assert_int_equal(aud_stream_read(st, buf, 4000, &got, NULL), AUD_ETOOLONG);
    assert_int_equal(got, 0);
    aud_stream_close(st);
    return prev;
}

static void test_webm_without_duration(void **state)
{
    (void)state;
    const char *p = tu_shared("fixtures/audio/meeting_ptbr_mediarecorder_opus.webm");
    TU_REQUIRE_FILE(p);
    aud_stream *st = NULL;
    assert_int_equal(aud_stream_open(p, NULL, NULL, NULL, &st, NULL), 0);
    assert_true(aud_stream_info(st)->declared_s < 0); /* the container says nothing */
    assert_true(aud_stream_progress(st) < 0.05);
    aud_stream_close(st);
    const double at = stream_to_limit(p, 60);
    assert_true(fabs(at - 60.0 / 170.078) < 0.1); /* bytes track time at a steady rate */
}

/* Writes the 170 s FLAC with STREAMINFO total_samples replaced (36 bits at bytes 21–25,
 * the upper nibble of byte 21 belongs to bits-per-sample) and the MD5 zeroed. */
static void write_lying_flac(const char *out, uint64_t total_samples)
{
    size_t len = 0;
    unsigned char *d = tu_read_file(tu_shared("fixtures/audio/meeting_ptbr_16k_mono.flac"), &len);
    assert_non_null(d);
    assert_memory_equal(d, "fLaC", 4);
    d[21] = (unsigned char)((d[21] & 0xF0) | ((total_samples >> 32) & 0x0F));
    d[22] = (unsigned char)(total_samples >> 24);
    d[23] = (unsigned char)(total_samples >> 16);
    d[24] = (unsigned char)(total_samples >> 8);
    d[25] = (unsigned char)total_samples;
    memset(d + 26, 0, 16);
    FILE *f = fopen(out, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(d, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
    free(d);
}

static void test_flac_header_lies(void **state)
{
    (void)state;
    TU_REQUIRE_FILE(tu_shared("fixtures/audio/meeting_ptbr_16k_mono.flac"));
    const uint64_t claims[] = {160000 /* 10 s */, (1ull << 36) - 1 /* 49.7 days */};
    for (size_t i = 0; i < 2; i++) {
        char path[] = "/tmp/mdc-test-lying-XXXXXX";
        int fd = mkstemp(path);
        assert_true(fd >= 0);
        close(fd);
        write_lying_flac(path, claims[i]);
        aud_stream *st = NULL;
        assert_int_equal(aud_stream_open(path, NULL, NULL, NULL, &st, NULL), 0);
        print_message("claim %llu samples: declared %.1f s\n", (unsigned long long)claims[i],
                      aud_stream_info(st)->declared_s);
        assert_true(fabs(aud_stream_info(st)->declared_s - (double)claims[i] / 16000) < 1);
        aud_stream_close(st);
        stream_to_limit(path, 100);
        /* unlimited: all of the data, whatever the header said */
        aud_pcm pcm;
        assert_int_equal(aud_decode_file(path, NULL, NULL, NULL, &pcm, NULL), 0);
        assert_int_equal(pcm.n_samples, 2721242);
        aud_pcm_free(&pcm);
        unlink(path);
    }
}

/* Decoded and measured length of one fixture agree (see test_measure). */
static void measure_fixture(const char *path, const char *name, void *user)
{
    int *measured = user;
    aud_pcm pcm;
    const int rc = aud_decode_file(path, NULL, NULL, NULL, &pcm, NULL);
    double sec = -2;
    const int mrc = aud_measure_file(path, NULL, NULL, NULL, &sec, NULL);
    print_message("%-50s decoded %d %9.3f s, measured %d %9.3f s\n", name, rc,
                  pcm.info.duration_s, mrc, sec);
    if (rc == 0) {
        assert_int_equal(mrc, 0);
        if (sec >= 0) {
            /* priming and padding differ by tens of ms; a damaged packet may be counted
             * but not decoded */
            assert_true(fabs(sec - pcm.info.duration_s) < 0.2 ||
                        (pcm.info.truncated && sec >= pcm.info.duration_s));
            (*measured)++;
        }
    } else if (mrc == 0) {
        assert_true(rc == AUD_ENOSAMPLES || rc == AUD_ECORRUPT); /* found by decoding */
    } else {
        assert_int_equal(mrc, rc); /* refused when opening, the same way */
    }
    aud_pcm_free(&pcm);
}

static void test_measure(void **state)
{
    (void)state;
    int measured = 0;
    for_each_fixture(measure_fixture, &measured);
    assert_true(measured >= 15);
    /* early refusal: the 170 s WebM under 60 s; not under 169.5 s (within the slack) */
    const char *webm = tu_shared("fixtures/audio/meeting_ptbr_mediarecorder_opus.webm");
    aud_limits lim = {.max_seconds = 60};
    aud_error err;
    double sec = 0;
    assert_int_equal(aud_measure_file(webm, &lim, NULL, NULL, &sec, &err), AUD_ETOOLONG);
    assert_true(sec == -1);
    assert_non_null(strstr(err.message, "longer than the maximum of 60 s"));
    lim.max_seconds = 169.5;
    assert_int_equal(aud_measure_file(webm, &lim, NULL, NULL, &sec, &err), 0);
    assert_true(fabs(sec - 170.078) < 0.1);
    /* a header claiming 49.7 days over 1 s of frames: measured as the 1 s */
    lim.max_seconds = 10;
    assert_int_equal(aud_measure_file(tu_shared("fixtures/audio/bad_flac_claims_49_days.flac"), &lim,
                                      NULL, NULL, &sec, &err), 0);
    assert_true(fabs(sec - 1.0) < 0.2);
    assert_int_equal(aud_measure_file(webm, NULL, NULL, NULL, NULL, &err), AUD_EINVAL);
}

typedef struct {
    int polls, cancel_at;
} poll_count;

static bool count_polls(void *user)
{
    poll_count *pc = user;
    pc->polls++;
    return pc->polls >= pc->cancel_at;
}

static void test_sticky_end_cancel_and_args(void **state)
{
    (void)state;
    const char *p = tu_shared("whisper-ref/data/jfk.wav");
    TU_REQUIRE_FILE(p);
    aud_stream *st = NULL;
    aud_error err;
    float buf[1024];
    size_t got = 99;
    assert_int_equal(aud_stream_open(NULL, NULL, NULL, NULL, &st, &err), AUD_EINVAL);
    assert_int_equal(aud_stream_open(p, NULL, NULL, NULL, NULL, &err), AUD_EINVAL);
    assert_int_equal(aud_stream_read(NULL, buf, 1, &got, &err), AUD_EINVAL);
    assert_int_equal(got, 0);
    assert_int_equal(aud_stream_open_memory(buf, 0, NULL, NULL, NULL, &st, &err), AUD_EEMPTY);
    assert_null(st);
    aud_stream_close(NULL);
    assert_null(aud_stream_info(NULL));

    /* the end is reported again and again; max 0 reads nothing */
    assert_int_equal(aud_stream_open(p, NULL, NULL, NULL, &st, &err), 0);
    assert_int_equal(aud_stream_read(st, buf, 0, &got, &err), 0);
    assert_int_equal(got, 0);
    size_t n = 0;
    while (aud_stream_read(st, buf, 1024, &got, &err) == 0 && got > 0)
        n += got;
    assert_int_equal(n, 176000);
    for (int k = 0; k < 3; k++) {
        assert_int_equal(aud_stream_read(st, buf, 1024, &got, &err), 0);
        assert_int_equal(got, 0);
    }
    assert_true(aud_stream_progress(st) == 1.0);
    aud_stream_close(st);

    /* cancelled mid-stream: ECANCELED, then the same again without another poll */
    poll_count pc = {0, 40};
    assert_int_equal(aud_stream_open(p, NULL, count_polls, &pc, &st, &err), 0);
    int rc;
    n = 0;
    while ((rc = aud_stream_read(st, buf, 1024, &got, &err)) == 0 && got > 0)
        n += got;
    assert_int_equal(rc, AUD_ECANCELED);
    assert_true(n < 176000);
    const int polls = pc.polls;
    assert_int_equal(aud_stream_read(st, buf, 1024, &got, &err), AUD_ECANCELED);
    assert_int_equal(pc.polls, polls);
    aud_stream_close(st);
}

/* The memory entry point streams the same samples as the file one. */
static void test_memory_stream(void **state)
{
    (void)state;
    const char *p = tu_shared("fixtures/audio/meeting_ptbr_opus_24k.opus");
    TU_REQUIRE_FILE(p);
    size_t len = 0;
    void *data = tu_read_file(p, &len);
    assert_non_null(data);
    aud_pcm whole;
    assert_int_equal(aud_decode_file(p, NULL, NULL, NULL, &whole, NULL), 0);
    aud_stream *st = NULL;
    assert_int_equal(aud_stream_open_memory(data, len, NULL, NULL, NULL, &st, NULL), 0);
    float buf[777];
    size_t n = 0, got = 0;
    while (aud_stream_read(st, buf, 777, &got, NULL) == 0 && got > 0) {
        assert_true(n + got <= whole.n_samples);
        assert_memory_equal(buf, whole.samples + n, got * sizeof(float));
        n += got;
    }
    assert_int_equal(n, whole.n_samples);
    aud_stream_close(st);
    aud_pcm_free(&whole);
    free(data);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stream_equals_whole_on_every_fixture),
        cmocka_unit_test(test_whole_equals_old_decoder),
        cmocka_unit_test(test_webm_without_duration),
        cmocka_unit_test(test_flac_header_lies),
        cmocka_unit_test(test_measure),
        cmocka_unit_test(test_sticky_end_cancel_and_args),
        cmocka_unit_test(test_memory_stream),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
