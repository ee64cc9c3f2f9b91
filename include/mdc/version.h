/*
 * version.h — the product's version string, shared by the CLI (--version) and the
 * service (GET /config, the mdconv_build_info metric), and the commit it was built from.
 * MDC_COMMIT comes from the build (the Makefile passes -DMDC_COMMIT="<git short hash>"
 * for the one file that uses it); "unknown" outside a git checkout.
 */
#ifndef MDC_VERSION_H
#define MDC_VERSION_H

#define MDC_VERSION "0.1.0"

#ifndef MDC_COMMIT
#define MDC_COMMIT "unknown"
#endif

#endif
