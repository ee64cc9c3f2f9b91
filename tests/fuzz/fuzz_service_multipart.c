/*
 * fuzz_service_multipart.c — libFuzzer harness for the upload form and its multipart
 * parser (src/service/upload.c, multipart.c): every input is parsed in one feed and in
 * random chunks and the results must agree (multipart_oracle.h); ASan/UBSan catch memory
 * and arithmetic errors.  Run: tests/fuzz/run.sh multipart [SECONDS].
 * fuzz-modules: whisper audio report metrics
 */
#include <stddef.h>
#include <stdint.h>

#include "mdc/log.h"
#include "multipart_oracle.h"

static void quiet(mdc_log_level level, const char *func, const char *msg, void *u)
{
    (void)level, (void)func, (void)msg, (void)u;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int init;
    if (!init) {
        mdc_log_set_sink(quiet, NULL);
        init = 1;
    }
    mo_check(data, size);
    return 0;
}
