/*
 * test_audio_regressions.c — replays every file of tests/fuzz/regressions/audio/
 * (inputs the fuzzer found crashing, hanging or leaking, kept after the fix) through
 * aud_decode_file() and aud_decode_memory().  Any return code is fine; what is tested
 * is that nothing crashes, leaks (under ASan) or disagrees between the two entry points.
 * Run from the project root (tests/run.sh does); MDC_FUZZ_REGRESSIONS overrides.
 */
#include <dirent.h>

#include "testutil.h"

#include "mdc/audio.h"
#include "mdc/log.h"

static void quiet_sink(mdc_log_level level, const char *func, const char *msg, void *u)
{
    (void)level, (void)func, (void)msg, (void)u;
}

static void test_replay_all(void **state)
{
    (void)state;
    const char *dir = getenv("MDC_FUZZ_REGRESSIONS");
    if (!dir)
        dir = "tests/fuzz/regressions/audio";
    DIR *d = opendir(dir);
    if (!d)
        fail_msg("cannot open %s (run from the project root)", dir);
    mdc_log_set_sink(quiet_sink, NULL);
    struct dirent *e;
    int n = 0;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        aud_limits lim = {.max_seconds = 600, .max_bytes = 0};
        aud_pcm a, b;
        aud_error err;
        int rc = aud_decode_file(path, &lim, NULL, NULL, &a, &err);
        size_t len = 0;
        char *data = tu_read_file(path, &len);
        assert_non_null(data);
        int rc2 = aud_decode_memory(data, len, &lim, NULL, NULL, &b, NULL);
        print_message("%-60s %s %.3f s\n", e->d_name, aud_err_name(rc), a.info.duration_s);
        assert_int_equal(rc, rc2);
        assert_int_equal(a.n_samples, b.n_samples);
        if (rc != 0)
            assert_null(a.samples);
        aud_pcm_free(&a);
        aud_pcm_free(&b);
        free(data);
        n++;
    }
    closedir(d);
    mdc_log_set_sink(NULL, NULL);
    print_message("%d regression inputs replayed\n", n);
    assert_true(n >= 1); /* the folder always holds at least its hand-made seeds */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_replay_all),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
