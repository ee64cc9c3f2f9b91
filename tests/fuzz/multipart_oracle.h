/*
 * multipart_oracle.h — the check shared by the multipart fuzzer (fuzz_service_multipart.c)
 * and its regression replay (tests/unit/test_service_multipart.c).
 *
 * Input layout: the bytes up to the first '\n' (at most 255) are the request's
 * Content-Type value; the byte after it seeds the chunking; the rest is the body.  The
 * body is parsed twice by upload.c — in one feed, and in pseudo-random chunks of 1 to
 * 64 bytes — and both results must be identical: error status, code and message, every
 * field (name, value, order), the file's name, size and bytes.  Any difference aborts
 * (the fuzzer reports it as a crash).  Temp files go to $TMPDIR (or /tmp) and are
 * removed by upl_free().
 */
#ifndef MDC_TESTS_MULTIPART_ORACLE_H
#define MDC_TESTS_MULTIPART_ORACLE_H

#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "service/upload.h"

#define MO_MAX_FILE 4096 /* small, so the 413 path is reached */

static upl_form *mo__parse(const char *ct, const uint8_t *body, size_t n, unsigned seed,
                           bool chunked)
{
    upl_error err;
    const char *tmp = getenv("TMPDIR");
    upl_form *f = upl_new(ct, MO_MAX_FILE, tmp && *tmp ? tmp : "/tmp", &err);
    if (!f)
        return NULL;
    size_t i = 0;
    uint32_t x = seed * 2654435761u + 1;
    while (i < n) {
        size_t k = n - i;
        if (chunked) {
            x = x * 1103515245u + 12345u;
            size_t c = 1 + (x >> 16) % 64;
            k = c < k ? c : k;
        }
        upl_feed(f, (const char *)body + i, k);
        i += k;
    }
    upl_finish(f);
    return f;
}

static size_t mo__read_file(const char *path, char *buf, size_t cap)
{
    if (!path)
        return 0;
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        abort();
    ssize_t r = read(fd, buf, cap);
    close(fd);
    if (r < 0)
        abort();
    return (size_t)r;
}

/* Aborts when the two parses of data[0..size) differ.  Returns 1 when the form was
 * accepted (no error), else 0. */
static int mo_check(const uint8_t *data, size_t size)
{
    char ct[256];
    size_t i = 0;
    while (i < size && i < sizeof ct - 1 && data[i] != '\n') {
        ct[i] = (char)(data[i] ? data[i] : ' ');
        i++;
    }
    ct[i] = '\0';
    if (i < size && data[i] == '\n')
        i++;
    unsigned seed = i < size ? data[i++] : 0;
    const uint8_t *body = data + i;
    size_t n = size - i;

    upl_form *a = mo__parse(ct, body, n, seed, false);
    upl_form *b = mo__parse(ct, body, n, seed, true);
    if (!a || !b) {
        if (a || b)
            abort(); /* upl_new depends only on the Content-Type */
        return 0;
    }
    const upl_error *ea = upl_error_get(a), *eb = upl_error_get(b);
    if (ea->status != eb->status || strcmp(ea->code, eb->code) != 0 ||
        strcmp(ea->message, eb->message) != 0)
        abort();
    int ok = ea->status == 0;
    if (ok) {
        static const char *const names[] = {"language", "title", "a", "b", "x", "", "file"};
        for (size_t k = 0; k < sizeof names / sizeof names[0]; k++) {
            int na = upl_field_count(a, names[k]);
            if (na != upl_field_count(b, names[k]))
                abort();
            for (int j = 0; j < na; j++)
                if (strcmp(upl_field_at(a, names[k], j), upl_field_at(b, names[k], j)) != 0)
                    abort();
        }
        if (upl_file_bytes(a) != upl_file_bytes(b) ||
            strcmp(upl_file_name(a), upl_file_name(b)) != 0)
            abort();
        static char fa[MO_MAX_FILE + 1], fb[MO_MAX_FILE + 1];
        size_t la = mo__read_file(upl_file_path(a), fa, sizeof fa);
        size_t lb = mo__read_file(upl_file_path(b), fb, sizeof fb);
        if (la != lb || la != upl_file_bytes(a) || memcmp(fa, fb, la) != 0)
            abort();
    }
    upl_free(a);
    upl_free(b);
    return ok;
}

#endif
