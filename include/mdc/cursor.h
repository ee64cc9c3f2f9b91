/*
 * cursor.h — a bounds-checked reader over a byte range (prefix mdc_cur_), for the model
 * loaders that walk a mapped ggml file (src/whisper/model.c, src/vad/model.c): every read
 * checks the bytes left first, in 64-bit arithmetic, so no offset or size taken from the
 * file can move a read past its end.
 *
 * The cursor does not own the bytes: they must outlive it (a mapping, a buffer).  On a
 * failed read the position does not move.  Thread-safety: a cursor is used by one thread;
 * the functions keep no other state.
 */
#ifndef MDC_CURSOR_H
#define MDC_CURSOR_H

#include <stdbool.h>
#include <stdint.h>

typedef struct mdc_cursor {
    const uint8_t *base;   /* the range [base, base + len) */
    uint64_t len;
    uint64_t pos;          /* offset of the next read, 0 … len */
} mdc_cursor;

/* A cursor at offset 0 of the len bytes at base. */
mdc_cursor mdc_cur_make(const void *base, uint64_t len);
/* Bytes left after the position. */
uint64_t mdc_cur_left(const mdc_cursor *c);
/* True when every byte was read. */
bool mdc_cur_done(const mdc_cursor *c);
/* Reads a little-endian int32 (ggml writes its files little-endian; ref: whisper.cpp
 * models/convert-pt-to-ggml.py, struct.pack("i", …) on x86).  Returns 0, or -1 when
 * fewer than 4 bytes are left. */
int mdc_cur_i32(mdc_cursor *c, int32_t *v);
/* The next n bytes (a pointer into the range, valid as long as the bytes are) and moves
 * past them; NULL when fewer than n are left. */
const uint8_t *mdc_cur_take(mdc_cursor *c, uint64_t n);

#endif
