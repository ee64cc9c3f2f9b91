/* errors.c — error table of the engine (see include/mdc/whisper.h WSP_ERRNO_MAP). */
#include "whisper/engine.h"

#include <stdarg.h>
#include <stdio.h>

const char *wsp_strerror(int code)
{
    switch (code) {
#define WSP__MSG(name, c, msg) \
    case c:                    \
        return msg;
        WSP_ERRNO_MAP(WSP__MSG)
#undef WSP__MSG
    }
    return "unknown error";
}

const char *wsp_err_name(int code)
{
    switch (code) {
#define WSP__NAME(name, c, msg) \
    case c:                     \
        return "WSP_" #name;
        WSP_ERRNO_MAP(WSP__NAME)
#undef WSP__NAME
    }
    return "WSP_E?";
}

int wsp__fail(wsp_error *err, int code, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        err->code = code;
        vsnprintf(err->message, sizeof err->message, fmt, ap);
        va_end(ap);
    }
    return code;
}
