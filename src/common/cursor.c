/*
 * cursor.c — the bounds-checked reader of cursor.h.
 */
#include "mdc/cursor.h"

#include <stddef.h>

mdc_cursor mdc_cur_make(const void *base, uint64_t len)
{
    mdc_cursor c = {.base = base, .len = len, .pos = 0};
    return c;
}

uint64_t mdc_cur_left(const mdc_cursor *c)
{
    return c->len - c->pos;
}

bool mdc_cur_done(const mdc_cursor *c)
{
    return c->pos >= c->len;
}

int mdc_cur_i32(mdc_cursor *c, int32_t *v)
{
    const uint8_t *p = mdc_cur_take(c, 4);
    if (!p)
        return -1;
    *v = (int32_t)((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24);
    return 0;
}

const uint8_t *mdc_cur_take(mdc_cursor *c, uint64_t n)
{
    if (c->len - c->pos < n)
        return NULL;
    const uint8_t *p = c->base + c->pos;
    c->pos += n;
    return p;
}
