/* errors.c — the audio error table (see AUD_ERRNO_MAP in include/mdc/audio.h). */
#include <stdarg.h>
#include <stdio.h>

#include "audio_internal.h"

const char *aud_strerror(int code)
{
    switch (code) {
#define AUD__MSG(name, c, msg) \
    case c:                    \
        return msg;
        AUD_ERRNO_MAP(AUD__MSG)
#undef AUD__MSG
    }
    return "unknown audio error";
}

const char *aud_err_name(int code)
{
    switch (code) {
#define AUD__NAME(name, c, msg) \
    case c:                     \
        return "AUD_" #name;
        AUD_ERRNO_MAP(AUD__NAME)
#undef AUD__NAME
    }
    return "AUD_UNKNOWN";
}

int aud__fail(aud_error *err, int code, const char *fmt, ...)
{
    if (err) {
        err->code = code;
        if (fmt) {
            va_list ap;
            va_start(ap, fmt);
            vsnprintf(err->message, sizeof err->message, fmt, ap);
            va_end(ap);
        } else {
            snprintf(err->message, sizeof err->message, "%s", aud_strerror(code));
        }
    }
    return code;
}
