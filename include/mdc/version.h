/*
 * version.h — the product's version string, shared by the CLI (--version) and the
 * service (GET /config).
 */
#ifndef MDC_VERSION_H
#define MDC_VERSION_H

#define MDC_VERSION "0.1.0"

#endif
