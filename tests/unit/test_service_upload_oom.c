/*
 * test_service_upload_oom.c — allocation-failure loop over the upload form (upload.c)
 * and its multipart parser: the Nth allocation fails, for every N until a parse needs no
 * more; each failing run must end in a 500 "out of memory" (never another error, a crash
 * or a lost field), free everything (live allocation count back to its start) and leave
 * no temp file.  tests/unit/tu_failalloc.h replaces the allocator; under ASan/TSan the
 * test skips.
 */
#include <dirent.h>
#include <unistd.h>

#include "testutil.h"
#include "tu_failalloc.h"

#include "service/upload.h"

#if TU_FAILALLOC_AVAILABLE
static const char k_body[] = "--b\r\nContent-Disposition: form-data; name=\"language\"\r\n\r\npt\r\n"
                             "--b\r\nContent-Disposition: form-data; name=\"title\"\r\n\r\nReuni\xc3\xa3o\r\n"
                             "--b\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n1\r\n"
                             "--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"x.wav\"\r\n\r\n"
                             "RIFF\r\n--\r\n"
                             "--b--\r\n";

static int count_files(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        n += strncmp(e->d_name, "mdc-upload-", 11) == 0;
    closedir(d);
    return n;
}
#endif

static void test_every_allocation_fails_cleanly(void **state)
{
    (void)state;
    if (!TU_FAILALLOC_AVAILABLE)
        skip();
#if TU_FAILALLOC_AVAILABLE
    char dir[] = "/tmp/mdc-upl-oom-XXXXXX";
    assert_non_null(mkdtemp(dir));
    size_t n = sizeof k_body - 1;
    for (long k = 0;; k++) {
        assert_true(k < 10000);
        long live0 = tu_live();
        tu_fail_arm(k);
        upl_error err;
        upl_form *f = upl_new("multipart/form-data; boundary=b", 0, dir, &err);
        int rc = -1;
        if (f) {
            for (size_t i = 0; i < n; i += 7) /* small reads: more parser paths */
                upl_feed(f, k_body + i, n - i < 7 ? n - i : 7);
            rc = upl_finish(f);
        }
        int failed = tu_fail_disarm();
        if (!f) {
            assert_true(failed);
            assert_int_equal(err.status, 500);
        } else if (rc != 0) {
            assert_true(failed);
            const upl_error *e = upl_error_get(f);
            assert_int_equal(e->status, 500);
            assert_string_equal(e->message, "out of memory");
        } else {
            assert_string_equal(upl_field(f, "language"), "pt");
            assert_string_equal(upl_field(f, "title"), "Reuni\xc3\xa3o");
            assert_string_equal(upl_field(f, "a"), "1");
            assert_int_equal(upl_file_bytes(f), 8); /* "RIFF\r\n--" */
            assert_string_equal(upl_file_name(f), "x.wav");
        }
        upl_free(f);
        assert_int_equal(tu_live(), live0); /* nothing leaked */
        assert_int_equal(count_files(dir), 0);
        if (rc == 0 && !failed) {
            print_message("%ld allocation points failed one by one\n", k);
            assert_true(k > 3);
            break;
        }
    }
    rmdir(dir);
#endif
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_allocation_fails_cleanly),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
