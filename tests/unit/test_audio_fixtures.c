/*
 * test_audio_fixtures.c — every file of ../shared/fixtures/audio, as its MANIFEST.md row
 * says (decoded duration within one 20 ms frame at 16 kHz mono, or the listed error
 * class).  The .multipart files are HTTP request bodies: their payload is cut out and
 * decoded from memory.  A file in the folder that this table does not know fails the
 * test, so new fixtures cannot go untested.
 */
#include <dirent.h>
#include <math.h>

#include "testutil.h"

#include "mdc/audio.h"

#define FRAME_S 0.020 /* one 20 ms frame: the manifest's duration tolerance */

/* HTTP classes of the service's error table (DESIGN §3). */
enum { OK = 0, C413 = 413, C415 = 415, C422 = 422, C415_OR_422 = 1 };

typedef struct {
    const char *name;
    int expect;          /* OK or a class */
    double seconds;      /* expected decoded duration (OK rows) */
    double tol;          /* seconds */
    int rate, channels;  /* source stream (OK rows; 0 = not checked) */
    const char *codec;   /* source codec (OK rows; NULL = not checked) */
    bool multipart;      /* request body: decode the embedded file part */
} row;

static const row rows[] = {
    {"meeting_ptbr_16k_mono_s16.wav", OK, 170.078, FRAME_S, 16000, 1, "pcm_s16le", false},
    {"meeting_en_16k_mono_s16.wav", OK, 64.197, FRAME_S, 16000, 1, "pcm_s16le", false},
    {"meeting_ptbr_48k_f32_excerpt.wav", OK, 12.050, FRAME_S, 48000, 1, "pcm_f32le", false},
    {"meeting_ptbr_44k1_mono_48k_id3art.mp3", OK, 170.109, FRAME_S, 44100, 1, "mp3", false},
    {"meeting_ptbr_aac_48k_mono_moov_at_end.m4a", OK, 170.091, FRAME_S, 48000, 1, "aac", false},
    {"meeting_ptbr_opus_24k.opus", OK, 170.078, FRAME_S, 48000, 1, "opus", false},
    {"meeting_ptbr_mediarecorder_opus.webm", OK, 170.078, FRAME_S, 48000, 1, "opus", false},
    {"meeting_ptbr_16k_mono.flac", OK, 170.078, FRAME_S, 16000, 1, "flac", false},
    {"meeting_ptbr_black_video_h264_aac.mp4", OK, 170.091, FRAME_S, 48000, 1, "aac", false},
    {"meeting_ptbr_8k_mulaw_phone.wav", OK, 170.078, FRAME_S, 8000, 1, "pcm_mulaw", false},
    {"edge_speech_0.5s.wav", OK, 0.500, FRAME_S, 16000, 1, "pcm_s16le", false},
    {"edge_silence_1s.wav", OK, 1.000, FRAME_S, 16000, 1, "pcm_s16le", false},
    {"edge_5min_two_utterances.flac", OK, 300.000, FRAME_S, 16000, 1, "flac", false},
    {"edge_35s_word_across_30s.wav", OK, 35.000, FRAME_S, 16000, 1, "pcm_s16le", false},
    {"edge_stereo_left_speech_right_silent.wav", OK, 6.140, FRAME_S, 48000, 2, "pcm_s16le", false},
    {"edge_clipped_plus24db.wav", OK, 19.900, FRAME_S, 16000, 1, "pcm_s16le", false},
    {"bad_empty_0_bytes.wav", C422, 0, 0, 0, 0, NULL, false},
    /* Our rule: the data present is decoded (the header's claim is never trusted). */
    {"bad_wav_header_claims_1h.wav", OK, 1.000, FRAME_S, 16000, 1, "pcm_s16le", false},
    {"bad_wav_fmt_zero_channels.wav", C415, 0, 0, 0, 0, NULL, false},
    /* FFmpeg answers ENOMEM for its absurd extradata claim: a property of the input. */
    {"bad_wav_extradata_claim.wav", C415_OR_422, 0, 0, 0, 0, NULL, false},
    {"bad_truncated_first_5KiB_id3_only.mp3", C415_OR_422, 0, 0, 0, 0, NULL, false},
    {"bad_random_bytes.mp3", C415, 0, 0, 0, 0, NULL, false},
    {"bad_png_image_named.wav", C415_OR_422, 0, 0, 0, 0, NULL, false},
    {"bad_meeting_notes.txt", C415, 0, 0, 0, 0, NULL, false},
    /* payload: MP3 MPEG-2 L3 22.05 kHz, "21.4 s" (one decimal in the manifest) */
    {"bad_multipart_mp3_declared_text_plain.multipart", OK, 21.4, 0.05, 22050, 1, "mp3", true},
    {"bad_upload_name_nul_dotdot.wav", OK, 3.612, FRAME_S, 16000, 1, "pcm_s16le", false},
    {"bad_upload_name_nul_dotdot.multipart", OK, 3.612, FRAME_S, 16000, 1, "pcm_s16le", true},
    /* Our rule (audio.h): decoded, not refused from the declared 49.7 days. */
    {"bad_flac_claims_49_days.flac", OK, 1.000, FRAME_S, 16000, 1, "flac", false},
};
#define N_ROWS (sizeof rows / sizeof rows[0])

static int class_of(int code)
{
    switch (code) {
    case AUD_EEMPTY: case AUD_ENOSTREAM: case AUD_ENOSAMPLES: return C422;
    case AUD_ENOTAUDIO: case AUD_ECORRUPT: return C415;
    case AUD_ETOOLONG: case AUD_ETOOLARGE: return C413;
    default: return -1; /* EIO/ENOMEM/EINVAL/ECANCELED: never right for a fixture */
    }
}

static const row *find_row(const char *name)
{
    for (size_t i = 0; i < N_ROWS; i++)
        if (strcmp(rows[i].name, name) == 0)
            return &rows[i];
    return NULL;
}

/* The first file part of a multipart body: bytes between the part's blank line and the
 * CRLF before the next boundary.  Returns a pointer into body. */
static const char *multipart_payload(const char *body, size_t len, size_t *out_len)
{
    const char *nl = memchr(body, '\n', len); /* end of the first boundary line */
    assert_non_null(nl);
    size_t blen = (size_t)(nl - body) - 1; /* "--BOUNDARY" without CR */
    const char *hdr_end = memmem(body, len, "\r\n\r\n", 4);
    assert_non_null(hdr_end);
    const char *start = hdr_end + 4;
    char delim[128];
    assert_true(blen + 2 < sizeof delim);
    delim[0] = '\r', delim[1] = '\n';
    memcpy(delim + 2, body, blen);
    const char *end = memmem(start, len - (size_t)(start - body), delim, blen + 2);
    assert_non_null(end);
    *out_len = (size_t)(end - start);
    return start;
}

static void check_row(const row *r)
{
    const char *path = tu_shared("fixtures/audio");
    char full[1200];
    snprintf(full, sizeof full, "%s/%s", path, r->name);
    TU_REQUIRE_FILE(full);
    aud_pcm pcm;
    aud_error err = {0};
    int rc;
    char *body = NULL;
    if (r->multipart) {
        size_t len = 0, plen = 0;
        body = tu_read_file(full, &len);
        assert_non_null(body);
        const char *p = multipart_payload(body, len, &plen);
        rc = aud_decode_memory(p, plen, NULL, NULL, NULL, &pcm, &err);
    } else {
        rc = aud_decode_file(full, NULL, NULL, NULL, &pcm, &err);
    }
    print_message("%-50s rc=%-14s %8.3f s  %s\n", r->name, aud_err_name(rc),
                  pcm.info.duration_s, rc ? err.message : pcm.info.codec);
    if (r->expect == OK) {
        if (rc != 0)
            fail_msg("%s: expected success, got %s: %s", r->name, aud_err_name(rc),
                     err.message);
        assert_non_null(pcm.samples);
        assert_int_equal(pcm.n_samples, (size_t)llround(pcm.info.duration_s * AUD_SAMPLE_RATE));
        double d = (double)pcm.n_samples / AUD_SAMPLE_RATE;
        if (fabs(d - r->seconds) > r->tol)
            fail_msg("%s: decoded %.4f s, manifest says %.3f s (±%.3f)", r->name, d,
                     r->seconds, r->tol);
        if (r->rate)
            assert_int_equal(pcm.info.sample_rate, r->rate);
        if (r->channels)
            assert_int_equal(pcm.info.channels, r->channels);
        if (r->codec)
            assert_string_equal(pcm.info.codec, r->codec);
        assert_true(pcm.info.container[0] != '\0');
        for (size_t i = 0; i < pcm.n_samples; i++)
            if (!isfinite(pcm.samples[i]) || fabsf(pcm.samples[i]) > 1.5f)
                fail_msg("%s: sample %zu = %g out of range", r->name, i, pcm.samples[i]);
    } else {
        assert_int_not_equal(rc, 0);
        assert_null(pcm.samples);
        assert_int_equal(pcm.n_samples, 0);
        assert_int_equal(err.code, rc);
        assert_true(strlen(err.message) > 10);
        int cls = class_of(rc);
        bool ok = r->expect == C415_OR_422 ? (cls == C415 || cls == C422) : cls == r->expect;
        if (!ok)
            fail_msg("%s: got %s (class %d), manifest wants class %d", r->name,
                     aud_err_name(rc), cls, r->expect);
    }
    aud_pcm_free(&pcm);
    free(body);
}

static void test_every_row(void **state)
{
    (void)state;
    for (size_t i = 0; i < N_ROWS; i++)
        check_row(&rows[i]);
}

static void test_every_fixture_has_a_row(void **state)
{
    (void)state;
    const char *dir = tu_shared("fixtures/audio");
    DIR *d = opendir(dir);
    if (!d) {
        print_message("SKIP: %s not found\n", dir);
        skip();
    }
    struct dirent *e;
    int files = 0;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.' || strcmp(e->d_name, "MANIFEST.md") == 0)
            continue;
        files++;
        if (!find_row(e->d_name)) {
            closedir(d);
            fail_msg("fixture %s has no row in test_audio_fixtures.c", e->d_name);
        }
    }
    closedir(d);
    assert_int_equal(files, (int)N_ROWS);
}

/* Header claims are reported, not trusted: the 49-day FLAC decodes its 1 s and says the
 * output is short of the claim. */
static void test_lying_flac_reports_claim(void **state)
{
    (void)state;
    const char *p = tu_shared("fixtures/audio/bad_flac_claims_49_days.flac");
    TU_REQUIRE_FILE(p);
    aud_pcm pcm;
    aud_limits lim = {.max_seconds = 3 * 3600, .max_bytes = 0};
    assert_int_equal(aud_decode_file(p, &lim, NULL, NULL, &pcm, NULL), 0);
    assert_true(pcm.info.declared_s > 4.29e6);
    assert_true(pcm.info.truncated);
    assert_int_equal(pcm.n_samples, 16000);
    aud_pcm_free(&pcm);
}

/* The WAV whose header claims 1 h over 1 s of data: the 1 s decodes, the claim (which
 * libavformat clamps away) is reported from the RIFF header, the output is flagged. */
static void test_lying_wav_reports_claim(void **state)
{
    (void)state;
    const char *p = tu_shared("fixtures/audio/bad_wav_header_claims_1h.wav");
    TU_REQUIRE_FILE(p);
    aud_pcm pcm;
    aud_limits lim = {.max_seconds = 60, .max_bytes = 0};
    assert_int_equal(aud_decode_file(p, &lim, NULL, NULL, &pcm, NULL), 0);
    assert_int_equal(pcm.n_samples, 16000);
    assert_true(fabs(pcm.info.declared_s - 115197952.0 / 32000) < 0.001);
    assert_true(pcm.info.truncated);
    aud_pcm_free(&pcm);
}

/* Valid files are not flagged as damaged; files without a duration say -1. */
static void test_valid_files_not_truncated(void **state)
{
    (void)state;
    static const char *names[] = {
        "meeting_ptbr_16k_mono_s16.wav", "meeting_ptbr_48k_f32_excerpt.wav",
        "meeting_ptbr_8k_mulaw_phone.wav", "meeting_ptbr_16k_mono.flac", "meeting_ptbr_44k1_mono_48k_id3art.mp3",
        "meeting_ptbr_aac_48k_mono_moov_at_end.m4a", "meeting_ptbr_opus_24k.opus",
        "meeting_ptbr_mediarecorder_opus.webm", "meeting_ptbr_black_video_h264_aac.mp4"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        char rel[256];
        snprintf(rel, sizeof rel, "fixtures/audio/%s", names[i]);
        const char *p = tu_shared(rel);
        TU_REQUIRE_FILE(p);
        aud_pcm pcm;
        assert_int_equal(aud_decode_file(p, NULL, NULL, NULL, &pcm, NULL), 0);
        assert_false(pcm.info.truncated);
        if (strstr(names[i], ".webm"))
            assert_true(pcm.info.declared_s < 0);
        else
            assert_true(fabs(pcm.info.declared_s - pcm.info.duration_s) < 0.1);
        aud_pcm_free(&pcm);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_fixture_has_a_row),
        cmocka_unit_test(test_every_row),
        cmocka_unit_test(test_lying_flac_reports_claim),
        cmocka_unit_test(test_lying_wav_reports_claim),
        cmocka_unit_test(test_valid_files_not_truncated),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
