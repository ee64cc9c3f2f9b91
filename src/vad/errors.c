/*
 * errors.c — VAD error names and messages from the one X-macro table in mdc/vad.h.
 */
#include "mdc/vad.h"

const char *vad_strerror(int code)
{
    switch (code) {
#define VAD__MSG(name, value, msg) \
    case value:                    \
        return msg;
        VAD_ERRNO_MAP(VAD__MSG)
#undef VAD__MSG
    }
    return "unknown VAD error";
}

const char *vad_err_name(int code)
{
    switch (code) {
#define VAD__NAME(name, value, msg) \
    case value:                     \
        return "VAD_" #name;
        VAD_ERRNO_MAP(VAD__NAME)
#undef VAD__NAME
    }
    return "VAD_EUNKNOWN";
}
