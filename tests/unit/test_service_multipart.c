/*
 * test_service_multipart.c — the multipart parser (src/service/multipart.c) and the
 * upload form on top of it (upload.c): Content-Type/boundary rules, events split at
 * every byte position give the same result as one feed, error messages that name the
 * field, display names; then every input of tests/fuzz/regressions/multipart/ (the
 * fuzzer's seeds and crashers) through the fuzzer's own whole-vs-chunked oracle.
 * Run from the project root (tests/run.sh does); MDC_FUZZ_REGRESSIONS_MULTIPART overrides.
 */
#include <dirent.h>

#include "testutil.h"

#include "../fuzz/multipart_oracle.h"
#include "mdc/log.h"
#include "service/multipart.h"

static void quiet_sink(mdc_log_level level, const char *func, const char *msg, void *u)
{
    (void)level, (void)func, (void)msg, (void)u;
}

static void test_boundary_rules(void **state)
{
    (void)state;
    char b[MP_MAX_BOUNDARY + 1];
    assert_int_equal(mp_boundary_from_content_type("multipart/form-data; boundary=x", b, sizeof b), 0);
    assert_string_equal(b, "x"); /* RFC 2046: 1 character is a valid boundary */
    assert_int_equal(mp_boundary_from_content_type("Multipart/Form-Data;charset=utf-8; BOUNDARY=\"a b:c\"",
                                                   b, sizeof b), 0);
    assert_string_equal(b, "a b:c");
    assert_int_equal(mp_boundary_from_content_type("multipart/form-dataXYZ; boundary=x", b, sizeof b), -1);
    assert_int_equal(mp_boundary_from_content_type("multipart/mixed; boundary=x", b, sizeof b), -1);
    assert_int_equal(mp_boundary_from_content_type("application/x-www-form-urlencoded", b, sizeof b), -1);
    assert_int_equal(mp_boundary_from_content_type(NULL, b, sizeof b), -1);
    assert_int_equal(mp_boundary_from_content_type("multipart/form-data", b, sizeof b), -2);
    assert_int_equal(mp_boundary_from_content_type("multipart/form-data; boundary=", b, sizeof b), -2);
    assert_int_equal(mp_boundary_from_content_type("multipart/form-data; boundary=\"x \"", b, sizeof b), -2);
    char long71[120];
    snprintf(long71, sizeof long71, "multipart/form-data; boundary=%071d", 0);
    assert_int_equal(mp_boundary_from_content_type(long71, b, sizeof b), -2);
    long71[strlen(long71) - 1] = '\0'; /* 70: allowed */
    assert_int_equal(mp_boundary_from_content_type(long71, b, sizeof b), 0);
}

/* A form with several 1–4 byte values, a value holding delimiter-like bytes and a file;
 * parsed split in two at every position and byte by byte, every field must arrive. */
static const char k_body[] = "--B7\r\n"
                             "Content-Disposition: form-data; name=\"language\"\r\n\r\n"
                             "pt\r\n"
                             "--B7\r\n"
                             "Content-Disposition: form-data; name=\"a\"\r\n\r\n"
                             "1\r\n"
                             "--B7\r\n"
                             "Content-Disposition: form-data; name=\"a\"\r\n\r\n"
                             "\r\n--\r\n"
                             "--B7\r\n"
                             "Content-Disposition: form-data; name=\"title\"\r\n\r\n"
                             "\r\n--Bx\r\n" /* looks like a delimiter up to the 'x' */
                             "--B7\r\n"
                             "Content-Disposition: form-data; name=\"file\"; "
                             "filename=\"C:\\x\\reuni\xc3\xa3o_caf\xc3\xa9\"\r\n"
                             "Content-Type: audio/wav\r\n\r\n"
                             "RIFF\r\r\n-\r\n-"
                             "\r\n--B7--\r\n";

static void expect_form(upl_form *f)
{
    const upl_error *e = upl_error_get(f);
    if (e->status)
        fail_msg("unexpected error %u %s", e->status, e->message);
    assert_string_equal(upl_field(f, "language"), "pt");
    assert_int_equal(upl_field_count(f, "a"), 2);
    assert_string_equal(upl_field_at(f, "a", 0), "1");
    assert_string_equal(upl_field_at(f, "a", 1), "\r\n--");
    assert_string_equal(upl_field(f, "title"), "\r\n--Bx");
    assert_int_equal(upl_file_bytes(f), 11);
    assert_string_equal(upl_file_name(f), "reuni\xc3\xa3o_caf\xc3\xa9"); /* keeps its é */
}

static void test_split_everywhere(void **state)
{
    (void)state;
    const char *body = k_body;
    size_t n = sizeof k_body - 1;
    upl_error err;
    for (size_t cut = 0; cut <= n; cut++) {
        upl_form *f = upl_new("multipart/form-data; boundary=B7", 1 << 20, getenv("TMPDIR"), &err);
        assert_non_null(f);
        assert_int_equal(upl_feed(f, body, cut), 0);
        assert_int_equal(upl_feed(f, body + cut, n - cut), 0);
        assert_int_equal(upl_finish(f), 0);
        expect_form(f);
        upl_free(f);
    }
    upl_form *f = upl_new("multipart/form-data; boundary=B7", 1 << 20, NULL, &err);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(upl_feed(f, body + i, 1), 0);
    assert_int_equal(upl_finish(f), 0);
    expect_form(f);
    upl_free(f);
}

/* Parses body (boundary B) in one feed and returns its error. */
static upl_error parse_error(const char *body, uint64_t max_file)
{
    upl_error err;
    upl_form *f = upl_new("multipart/form-data; boundary=B", max_file, NULL, &err);
    assert_non_null(f);
    upl_feed(f, body, strlen(body));
    upl_finish(f);
    err = *upl_error_get(f);
    upl_free(f);
    return err;
}

static void test_errors_name_the_problem(void **state)
{
    (void)state;
    upl_error e = parse_error("--B\r\nContent-Disposition: form-data; name=\"audio\"; filename=\"a.wav\"\r\n\r\n"
                              "RIFF\r\n--B--\r\n", 0);
    assert_int_equal(e.status, 400);
    assert_non_null(strstr(e.message, "unexpected file in field `audio`: the file goes in `file`"));

    static char big[UPL_MAX_FIELD_BYTES + 200];
    int k = snprintf(big, sizeof big, "--B\r\nContent-Disposition: form-data; name=\"title\"\r\n\r\n");
    memset(big + k, 't', UPL_MAX_FIELD_BYTES + 1);
    snprintf(big + k + UPL_MAX_FIELD_BYTES + 1, 40, "\r\n--B--\r\n");
    e = parse_error(big, 0);
    assert_int_equal(e.status, 400);
    assert_string_equal(e.code, "field_too_long");
    assert_non_null(strstr(e.message, "`title`"));

    e = parse_error("--B\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a\"\r\n\r\n1\r\n"
                    "--B\r\nContent-Disposition: form-data; name=\"file\"; filename=\"b\"\r\n\r\n2\r\n--B--", 0);
    assert_int_equal(e.status, 400);
    assert_non_null(strstr(e.message, "more than one `file` part"));

    e = parse_error("--B\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a\"\r\n\r\n12345\r\n--B--", 4);
    assert_int_equal(e.status, 413);

    e = parse_error("--B\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a\"\r\n\r\n12", 0);
    assert_int_equal(e.status, 400);
    assert_non_null(strstr(e.message, "truncated"));

    e = parse_error("--B\r\nContent-Type: text/plain\r\n\r\nx\r\n--B--", 0);
    assert_int_equal(e.status, 400);
    assert_non_null(strstr(e.message, "name"));

    e = parse_error("--Bz\r\n", 0); /* a delimiter line must end after the boundary */
    assert_int_equal(e.status, 400);

    upl_error err;
    assert_null(upl_new("multipart/form-dataXYZ; boundary=B", 0, NULL, &err));
    assert_int_equal(err.status, 400);
    assert_null(upl_new("multipart/form-data", 0, NULL, &err));
    assert_int_equal(err.status, 400);
    assert_non_null(strstr(err.message, "boundary"));
}

static void test_display_names(void **state)
{
    (void)state;
    char out[256];
    const char *n = "reuni\xc3\xa3o_caf\xc3\xa9";
    upl_sanitize_name(n, strlen(n), out, sizeof out);
    assert_string_equal(out, n);
    upl_sanitize_name(n, strlen(n), out, 13); /* room for 12 bytes: "é" would be cut */
    assert_string_equal(out, "reuni\xc3\xa3o_caf");
    upl_sanitize_name("../../x\0.wav", 12, out, sizeof out);
    assert_string_equal(out, "x.wav");
    upl_sanitize_name("..", 2, out, sizeof out);
    assert_string_equal(out, "upload");
}

static void test_replay_regressions(void **state)
{
    (void)state;
    const char *dir = getenv("MDC_FUZZ_REGRESSIONS_MULTIPART");
    if (!dir)
        dir = "tests/fuzz/regressions/multipart";
    DIR *d = opendir(dir);
    if (!d)
        fail_msg("cannot open %s (run from the project root)", dir);
    mdc_log_set_sink(quiet_sink, NULL);
    struct dirent *e;
    int n = 0, accepted = 0;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        size_t len = 0;
        char *data = tu_read_file(path, &len);
        assert_non_null(data);
        int ok = mo_check((const uint8_t *)data, len); /* aborts on a disagreement */
        print_message("%-50s %s\n", e->d_name, ok ? "accepted" : "refused");
        accepted += ok;
        free(data);
        n++;
    }
    closedir(d);
    mdc_log_set_sink(NULL, NULL);
    print_message("%d regression inputs replayed, %d accepted\n", n, accepted);
    assert_true(n >= 1);
    assert_true(accepted >= 1); /* the hand-made seeds include valid forms */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_boundary_rules),
        cmocka_unit_test(test_split_everywhere),
        cmocka_unit_test(test_errors_name_the_problem),
        cmocka_unit_test(test_display_names),
        cmocka_unit_test(test_replay_regressions),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
