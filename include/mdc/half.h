/*
 * half.h — IEEE 754 binary16 ("half", ggml's f16) to float, shared by the Whisper and VAD
 * model readers (both read f16 tensors of ggml files).  Thread-safe: a pure function.
 */
#ifndef MDC_HALF_H
#define MDC_HALF_H

#include <stdint.h>
#include <string.h>

/* h: the 16 bits of an IEEE half → the same value as a float, exactly (every half is a
 * float): zero, subnormals (mant × 2^-24), infinities and NaNs (payload kept) included.
 * ref: IEEE 754-2008 §3.6, binary16 = 1 sign, 5 exponent (bias 15), 10 mantissa bits. */
static inline float mdc_f16_to_f32(uint16_t h)
{
    const uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    const uint32_t exp = (h >> 10) & 0x1fu, mant = h & 0x3ffu;
    uint32_t f;
    if (exp == 0) {
        float v = (float)mant * 0x1p-24f; /* zero or subnormal */
        memcpy(&f, &v, 4);
        f |= sign;
    } else if (exp == 31) {
        f = sign | 0x7f800000u | (mant << 13);
    } else {
        f = sign | ((exp + 112u) << 23) | (mant << 13);
    }
    float r;
    memcpy(&r, &f, 4);
    return r;
}

#endif
