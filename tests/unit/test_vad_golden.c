/*
 * test_vad_golden.c — our Silero VAD against whisper.cpp's (../shared/whisper-ref/golden/vad/,
 * README-round2.md §6), with the real trained model ggml-silero-v6.2.0.bin:
 *  - every clip: n_probs exact, every probability within 1e-3 (the observed build-to-build
 *    spread is 1.4e-4; the worst difference and the count of bit-identical values are
 *    printed — with net.c's ggml summation order they are all identical on this host's
 *    glibc), both parameter sets' segments
 *    identical — unless the manifest's closest approach of a probability to 0.5 or 0.35
 *    is within that tolerance, where a flip is allowed and reported;
 *  - the input is decoded with our audio module, turned into int16 and checked against
 *    the manifest's PCM sha256 first (for the clips FFmpeg resampled the comparison is
 *    skipped when our decoder's PCM differs — the VAD's figures on our PCM are printed
 *    for the record; the 16 kHz ones must match);
 *  - jfk.wav: 344 probabilities, 4 segments (whisper.cpp's tests/test-vad.cpp);
 *  - the --vad layout: the filtered audio's length and the processed→original table of
 *    whisper_full equal vad_jfk_x5_60s.json's whisper_full_vad_layout, and mapping the
 *    filtered transcript's segment times gives whisper-cli --vad's times (vad_mapping_check).
 * MDC_SANITIZE=1 runs jfk and the short clips only.
 */
#include "testutil.h"

#include "mdc/audio.h"
#include "mdc/vad.h"

#include <float.h>
#include <jansson.h>
#include <math.h>

#define PROB_TOL 1e-3

/* ---- SHA-256 (FIPS 180-4), for the manifest's PCM hashes ------------------------------ */
static const uint32_t k_sha[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};
#define ROR(x, n) (((x) >> (n)) | ((x) << (32 - (n))))

static void sha_block(uint32_t h[8], const uint8_t *p)
{
    uint32_t w[64];
    for (int i = 0; i < 16; i++)
        w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 | (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
    for (int i = 16; i < 64; i++) {
        uint32_t s0 = ROR(w[i - 15], 7) ^ ROR(w[i - 15], 18) ^ (w[i - 15] >> 3);
        uint32_t s1 = ROR(w[i - 2], 17) ^ ROR(w[i - 2], 19) ^ (w[i - 2] >> 10);
        w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], hh = h[7];
    for (int i = 0; i < 64; i++) {
        uint32_t t1 = hh + (ROR(e, 6) ^ ROR(e, 11) ^ ROR(e, 25)) + ((e & f) ^ (~e & g)) + k_sha[i] + w[i];
        uint32_t t2 = (ROR(a, 2) ^ ROR(a, 13) ^ ROR(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
        hh = g; g = f; f = e; e = d + t1; d = c; c = b; b = a; a = t1 + t2;
    }
    h[0] += a; h[1] += b; h[2] += c; h[3] += d; h[4] += e; h[5] += f; h[6] += g; h[7] += hh;
}

static void sha256_hex(const uint8_t *data, size_t len, char out[65])
{
    uint32_t h[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                     0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
    size_t i = 0;
    for (; i + 64 <= len; i += 64)
        sha_block(h, data + i);
    uint8_t tail[128] = {0};
    size_t r = len - i;
    memcpy(tail, data + i, r);
    tail[r] = 0x80;
    size_t tl = r + 9 <= 64 ? 64 : 128;
    uint64_t bits = (uint64_t)len * 8;
    for (int k = 0; k < 8; k++)
        tail[tl - 1 - k] = (uint8_t)(bits >> (8 * k));
    sha_block(h, tail);
    if (tl == 128)
        sha_block(h, tail + 64);
    for (int k = 0; k < 8; k++)
        snprintf(out + 8 * k, 9, "%08x", h[k]);
}

/* ---- helpers -------------------------------------------------------------------------- */
static const char *model_path(void)
{
    return tu_shared("whisper-ref/models/ggml-silero-v6.2.0.bin");
}

static json_t *load_json(const char *rel)
{
    json_error_t je;
    json_t *j = json_load_file(tu_shared(rel), 0, &je);
    if (!j)
        print_message("cannot parse %s: %s\n", rel, je.text);
    return j;
}

/* Decodes `rel` with our audio module, as int16-exact floats (s16 / 32768, as whisper.cpp's
 * harness read FFmpeg's s16 output); *sha_ok tells whether the PCM sha256 equals `sha`. */
static float *decode_checked(const char *rel, const char *sha, size_t *n, int *sha_ok)
{
    aud_pcm pcm = {0};
    aud_error aerr = {0};
    int rc = aud_decode_file(tu_shared(rel), NULL, NULL, NULL, &pcm, &aerr);
    assert_int_equal(rc, 0);
    int16_t *s16 = malloc(pcm.n_samples * sizeof *s16 + 1);
    float *x = malloc(pcm.n_samples * sizeof *x + 1);
    assert_non_null(s16);
    assert_non_null(x);
    for (size_t i = 0; i < pcm.n_samples; i++) {
        float v = pcm.samples[i] * 32768.0f;
        long q = lrintf(v);
        q = q > 32767 ? 32767 : (q < -32768 ? -32768 : q);
        s16[i] = (int16_t)q;
        x[i] = (float)s16[i] / 32768.0f;
    }
    char hex[65];
    sha256_hex((const uint8_t *)s16, pcm.n_samples * 2, hex);
    *n = pcm.n_samples;
    *sha_ok = strcmp(hex, sha) == 0;
    if (!*sha_ok)
        print_message("  %s: our PCM sha256 %s != manifest %s\n", rel, hex, sha);
    free(s16);
    aud_pcm_free(&pcm);
    return x;
}

static int spans_equal(const vad_span *s, size_t n, json_t *gold)
{
    if (json_array_size(gold) != n)
        return 0;
    for (size_t i = 0; i < n; i++) {
        json_t *g = json_array_get(gold, i);
        if ((int64_t)json_number_value(json_array_get(g, 0)) != s[i].t0_cs ||
            (int64_t)json_number_value(json_array_get(g, 1)) != s[i].t1_cs)
            return 0;
    }
    return 1;
}

static void print_spans(const char *what, const vad_span *s, size_t n)
{
    print_message("  %s (%zu):", what, n);
    for (size_t i = 0; i < n && i < 8; i++)
        print_message(" [%lld,%lld]", (long long)s[i].t0_cs, (long long)s[i].t1_cs);
    print_message("\n");
}

/* Source file (under the shared folder) of a manifest clip. */
static const char *clip_source(const char *clip, json_t *info)
{
    if (strcmp(clip, "multilingual") == 0)
        return "whisper-ref/data/multilingual.mp3";
    if (strcmp(clip, "stereo_diarization_downmix") == 0)
        return "whisper-ref/data/stereo_diarization.wav";
    static char buf[256];
    const char *src = json_string_value(json_object_get(info, "source"));
    if (strncmp(src, "data/", 5) == 0) {
        snprintf(buf, sizeof buf, "whisper-ref/%.*s", (int)strcspn(src, " "), src);
        return buf;
    }
    snprintf(buf, sizeof buf, "%.*s", (int)strcspn(src, " "), src);
    return buf;
}

static void check_clip(const vad_model *m, const char *clip, json_t *info, int *n_checked)
{
    const char *sha = json_string_value(json_object_get(info, "pcm_data_sha256"));
    const int resampled = !sha;
    if (!sha)
        sha = json_string_value(json_object_get(info, "converted_pcm_data_sha256"));
    const char *note = json_string_value(json_object_get(info, "conversion_note"));
    const int lossless = !note || strstr(note, "unchanged") || strstr(note, "lossless");
    const char *src = clip_source(clip, info);
    TU_REQUIRE_FILE(tu_shared(src));
    size_t n = 0;
    int sha_ok = 0;
    float *x = decode_checked(src, sha, &n, &sha_ok);
    if (!sha_ok) {
        /* Only FFmpeg-resampled clips may differ (decoder/resampler version): not a
         * comparison of the VAD, so no assertion — the figures are printed for the record. */
        assert_true(resampled && !lossless);
        char rel2[256];
        snprintf(rel2, sizeof rel2, "whisper-ref/golden/vad/vad_%s.json", clip);
        json_t *g2 = load_json(rel2);
        float *pr = NULL;
        size_t np2 = 0;
        if (g2 && vad_detect(m, x, n, &pr, &np2, NULL, NULL, NULL) == 0) {
            json_t *gp2 = json_object_get(g2, "probs");
            double md = 0;
            for (size_t i = 0; i < np2 && i < json_array_size(gp2); i++) {
                double d = fabs((double)pr[i] - json_number_value(json_array_get(gp2, i)));
                md = d > md ? d : md;
            }
            vad_params p = vad_default_params();
            vad_span *sp = NULL;
            size_t ns = 0;
            int eq = vad_segments_from_probs(pr, np2, 512, &p, &sp, &ns) == 0 &&
                     spans_equal(sp, ns, json_object_get(json_object_get(g2, "segments_default"), "segments_cs"));
            print_message("  %s: not compared (our decoder's PCM differs); for the record: %zu/%zu "
                          "probs, max |Δp| %.3g, default segments %s\n", clip, np2,
                          json_array_size(gp2), md, eq ? "identical" : "differ");
            free(sp);
        }
        free(pr);
        json_decref(g2);
        free(x);
        return;
    }
    char rel[256];
    snprintf(rel, sizeof rel, "whisper-ref/golden/vad/vad_%s.json", clip);
    json_t *g = load_json(rel);
    assert_non_null(g);
    assert_int_equal(json_integer_value(json_object_get(g, "n_samples")), (json_int_t)n);

    float *probs = NULL;
    size_t np = 0;
    vad_error err = {0};
    assert_int_equal(vad_detect(m, x, n, &probs, &np, NULL, NULL, &err), 0);
    json_t *gp = json_object_get(g, "probs");
    assert_int_equal(np, json_array_size(gp));
    assert_int_equal(np, (size_t)json_integer_value(json_object_get(g, "n_probs")));
    double maxd = 0, sumd = 0;
    size_t worst = 0, same = 0;
    float *gold = malloc(np * sizeof *gold + 1);
    for (size_t i = 0; i < np; i++) {
        gold[i] = (float)json_number_value(json_array_get(gp, i));
        double d = fabs((double)probs[i] - gold[i]);
        same += probs[i] == gold[i];
        sumd += d;
        if (d > maxd) {
            maxd = d;
            worst = i;
        }
    }
    print_message("  %-28s %6zu probs: %6zu bit-identical, max |Δp| %.3g (chunk %zu), mean %.3g\n",
                  clip, np, same, maxd, worst, np ? sumd / (double)np : 0.0);
    assert_true(maxd <= PROB_TOL);

    const double near05 = json_number_value(json_object_get(info, "min_abs_prob_minus_0.5"));
    const double near035 = json_number_value(json_object_get(info, "min_abs_prob_minus_0.35"));
    const int may_flip = near05 <= PROB_TOL || near035 <= PROB_TOL;
    const char *sets[2] = {"segments_default", "segments_min_silence_500ms"};
    for (int k = 0; k < 2; k++) {
        vad_params p = vad_default_params();
        if (k == 1)
            p.min_silence_duration_ms = 500;
        vad_span *s = NULL;
        size_t ns = 0;
        assert_int_equal(vad_segments_from_probs(probs, np, vad_model_n_window(m), &p, &s, &ns), 0);
        json_t *gs = json_object_get(json_object_get(g, sets[k]), "segments_cs");
        int eq = spans_equal(s, ns, gs);
        /* The rules are a pure function: on the reference's own probabilities they must
         * give the reference's segments exactly, whatever the network's tolerance. */
        vad_span *s2 = NULL;
        size_t ns2 = 0;
        assert_int_equal(vad_segments_from_probs(gold, np, 512, &p, &s2, &ns2), 0);
        assert_true(spans_equal(s2, ns2, gs));
        free(s2);
        if (!eq) {
            print_spans("ours", s, ns);
            print_message("  %s: %s differ (closest approach %.3g to 0.5, %.3g to 0.35)\n", clip,
                          sets[k], near05, near035);
            assert_true(may_flip);
        }
        free(s);
    }
    (*n_checked)++;
    free(gold);
    free(probs);
    free(x);
    json_decref(g);
}

static void test_vad_goldens(void **state)
{
    (void)state;
    TU_REQUIRE_FILE(model_path());
    json_t *man = load_json("whisper-ref/golden/vad/manifest.json");
    assert_non_null(man);
    vad_model *m = NULL;
    vad_error err = {0};
    assert_int_equal(vad_model_load(model_path(), &m, &err), 0);
    assert_string_equal(vad_model_description(m), "silero-16k 6.2.0");
    const int quick = getenv("MDC_SANITIZE") != NULL;
    const char *key;
    json_t *info;
    int n_checked = 0;
    json_object_foreach(json_object_get(man, "clips"), key, info)
    {
        if (quick && json_integer_value(json_object_get(info, "n_samples")) > 200000)
            continue;
        check_clip(m, key, info, &n_checked);
    }
    print_message("  %d clips compared\n", n_checked);
    assert_true(n_checked >= (quick ? 3 : 9));
    vad_model_free(m);
    json_decref(man);
}

/* whisper.cpp's own assertion (tests/test-vad.cpp): jfk.wav → 344 probs, 4 segments. */
static void test_vad_jfk_counts(void **state)
{
    (void)state;
    TU_REQUIRE_FILE(model_path());
    size_t n = 0;
    float *x = tu_read_wav_pcm16(tu_shared("whisper-ref/data/jfk.wav"), &n);
    assert_non_null(x);
    vad_model *m = NULL;
    assert_int_equal(vad_model_load(model_path(), &m, NULL), 0);
    float *probs = NULL;
    size_t np = 0;
    assert_int_equal(vad_detect(m, x, n, &probs, &np, NULL, NULL, NULL), 0);
    assert_int_equal(np, 344);
    vad_params p = vad_default_params();
    vad_span *s = NULL;
    size_t ns = 0;
    assert_int_equal(vad_segments_from_probs(probs, np, 512, &p, &s, &ns), 0);
    assert_int_equal(ns, 4);
    free(s);
    free(probs);
    free(x);
    vad_model_free(m);
}

/* The filtered audio and table of whisper_full(vad = true) on jfk_x5_60s, from the
 * reference's own segments, and the mapping of the filtered transcript's times. */
static void test_vad_layout_and_mapping(void **state)
{
    (void)state;
    json_t *g = load_json("whisper-ref/golden/vad/vad_jfk_x5_60s.json");
    json_t *chk = load_json("whisper-ref/golden/vad/vad_mapping_check.json");
    if (!g || !chk)
        skip();
    size_t n = (size_t)json_integer_value(json_object_get(g, "n_samples"));
    float *x = calloc(n, sizeof *x);
    for (size_t i = 0; i < n; i++)
        x[i] = (float)((i % 97) + 1) / 1000.0f; /* any non-zero signal: we check copies */
    json_t *gs = json_object_get(json_object_get(g, "segments_default"), "segments_cs");
    size_t ns = json_array_size(gs);
    vad_span *sp = calloc(ns, sizeof *sp);
    for (size_t i = 0; i < ns; i++) {
        sp[i].t0_cs = (int64_t)json_number_value(json_array_get(json_array_get(gs, i), 0));
        sp[i].t1_cs = (int64_t)json_number_value(json_array_get(json_array_get(gs, i), 1));
    }
    vad_filtered f = {0};
    assert_int_equal(vad_filter_audio(x, n, sp, ns, vad_default_params().samples_overlap, &f), 0);
    json_t *lay = json_object_get(g, "whisper_full_vad_layout");
    assert_int_equal(f.n_samples, (size_t)json_integer_value(json_object_get(lay, "filtered_n_samples")));
    json_t *pieces = json_object_get(lay, "pieces");
    for (size_t i = 0; i < json_array_size(pieces); i++) {
        json_t *pc = json_array_get(pieces, i);
        json_t *src = json_object_get(pc, "src_samples");
        size_t a = (size_t)json_integer_value(json_array_get(src, 0));
        size_t b = (size_t)json_integer_value(json_array_get(src, 1));
        size_t dst = (size_t)json_integer_value(json_object_get(pc, "dst_offset"));
        assert_memory_equal(f.samples + dst, x + a, (b - a) * sizeof(float));
        if (i + 1 < json_array_size(pieces)) /* 0.1 s of zeros after each piece but the last */
            for (size_t k = 0; k < 1600; k++)
                assert_true(f.samples[dst + (b - a) + k] == 0.0f);
    }
    json_t *tab = json_object_get(lay, "mapping_table_processed_cs_to_original_cs");
    assert_int_equal(f.n_map, json_array_size(tab));
    for (size_t i = 0; i < f.n_map; i++) {
        assert_int_equal(f.map[i].processed_cs, json_integer_value(json_array_get(json_array_get(tab, i), 0)));
        assert_int_equal(f.map[i].original_cs, json_integer_value(json_array_get(json_array_get(tab, i), 1)));
    }
    json_t *rows = json_object_get(chk, "segments");
    assert_true(json_array_size(rows) >= 21);
    for (size_t i = 0; i < json_array_size(rows); i++) {
        json_t *r = json_array_get(rows, i);
        int64_t t0 = json_integer_value(json_array_get(json_object_get(r, "processed"), 0));
        int64_t t1 = json_integer_value(json_array_get(json_object_get(r, "processed"), 1));
        vad_map_segment(&f, &t0, &t1);
        json_t *cli = json_object_get(r, "whisper_cli");
        assert_int_equal(t0, json_integer_value(json_array_get(cli, 0)));
        assert_int_equal(t1, json_integer_value(json_array_get(cli, 1)));
    }
    vad_filtered_free(&f);
    free(sp);
    free(x);
    json_decref(g);
    json_decref(chk);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vad_jfk_counts),
        cmocka_unit_test(test_vad_goldens),
        cmocka_unit_test(test_vad_layout_and_mapping),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
