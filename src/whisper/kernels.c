/* kernels.c — baseline (any x86-64) kernels and the run-time dispatch; see kernels.h. */
#include "whisper/kernels.h"

#include <cpuid.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

static float dot_f16_scalar(const void *w, const float *x, int n)
{
    const uint8_t *p = w;
    float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    int i = 0;
    for (; i + 4 <= n; i += 4) {
        uint16_t h[4];
        memcpy(h, p + 2 * (size_t)i, 8);
        s0 += wsp__f16_to_f32(h[0]) * x[i];
        s1 += wsp__f16_to_f32(h[1]) * x[i + 1];
        s2 += wsp__f16_to_f32(h[2]) * x[i + 2];
        s3 += wsp__f16_to_f32(h[3]) * x[i + 3];
    }
    for (; i < n; i++) {
        uint16_t h;
        memcpy(&h, p + 2 * (size_t)i, 2);
        s0 += wsp__f16_to_f32(h) * x[i];
    }
    return (s0 + s1) + (s2 + s3);
}

static float dot_f32_scalar(const void *w, const float *x, int n)
{
    float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    int i = 0;
    for (; i + 4 <= n; i += 4) {
        s0 += wsp__ldf(w, (size_t)i) * x[i];
        s1 += wsp__ldf(w, (size_t)i + 1) * x[i + 1];
        s2 += wsp__ldf(w, (size_t)i + 2) * x[i + 2];
        s3 += wsp__ldf(w, (size_t)i + 3) * x[i + 3];
    }
    for (; i < n; i++)
        s0 += wsp__ldf(w, (size_t)i) * x[i];
    return (s0 + s1) + (s2 + s3);
}

static void cvt_f16_scalar(const void *src, float *dst, size_t n)
{
    const uint8_t *p = src;
    for (size_t i = 0; i < n; i++) {
        uint16_t h;
        memcpy(&h, p + 2 * i, 2);
        dst[i] = wsp__f16_to_f32(h);
    }
}

static void dot4_f16_scalar(const void *w, size_t ld, const float *x, int n, float *out)
{
    for (int k = 0; k < 4; k++)
        out[k] = dot_f16_scalar((const uint8_t *)w + 2 * ld * (size_t)k, x, n);
}

static float exp_sum_scalar(float *x, int n, float max)
{
    double sum = 0;
    for (int i = 0; i < n; i++) {
        x[i] = expf(x[i] - max);
        sum += x[i];
    }
    return (float)sum;
}

float wsp__gelu_ref(float x)
{
    const float k0 = 0.7978845608028654f; /* sqrt(2/pi) */
    const float k1 = 0.044715f;
    return 0.5f * x * (1.0f + tanhf(k0 * x * (1.0f + k1 * x * x)));
}

static void gelu_scalar(float *x, int n)
{
    for (int i = 0; i < n; i++)
        x[i] = wsp__gelu_ref(x[i]);
}

static void axpy_scalar(float *restrict y, float a, const float *restrict x, int n)
{
    for (int i = 0; i < n; i++)
        y[i] += a * x[i];
}

static void softmax_scalar(float *x, int n, float scale)
{
    float max = -INFINITY;
    for (int i = 0; i < n; i++) {
        x[i] *= scale;
        if (x[i] > max)
            max = x[i];
    }
    const float inv = 1.0f / exp_sum_scalar(x, n, max);
    for (int i = 0; i < n; i++)
        x[i] *= inv;
}

static void cvt_f32_f16_scalar(const float *src, uint16_t *dst, size_t n)
{
    for (size_t i = 0; i < n; i++)
        dst[i] = wsp__f32_to_f16(src[i]);
}

static void attn_f16_one_scalar(const uint16_t *Kt, size_t ldk, const uint16_t *Vt, size_t ldv,
                                int len, int dh, const float *q, float scale, float *sc,
                                float *out)
{
    for (int t = 0; t < len; t++)
        sc[t] = 0;
    for (int c = 0; c < dh; c++) {
        const uint16_t *k = Kt + (size_t)c * ldk;
        for (int t = 0; t < len; t++)
            sc[t] += q[c] * wsp__f16_to_f32(k[t]);
    }
    wsp__softmax(sc, len, scale);
    for (int c = 0; c < dh; c++)
        out[c] = dot_f16_scalar(Vt + (size_t)c * ldv, sc, len);
}

static void attn_f16_scalar(const uint16_t *Kt, size_t ldk, const uint16_t *Vt, size_t ldv,
                            int len, int dh, const float *q, size_t ldq, int nq, float scale,
                            float *sc, size_t ldsc, float *out, size_t ldo)
{
    for (int r = 0; r < nq; r++)
        attn_f16_one_scalar(Kt, ldk, Vt, ldv, len, dh, q + (size_t)r * ldq, scale,
                            sc + (size_t)r * ldsc, out + (size_t)r * ldo);
}

const wsp__kern_ops wsp__kern_scalar = {
    .name = "scalar",
    .types = wsp__types_scalar,
    .qgemm_int = 0,
    .dot_f16 = dot_f16_scalar,
    .dot_f32 = dot_f32_scalar,
    .cvt_f16 = cvt_f16_scalar,
    .dot4_f16 = dot4_f16_scalar,
    .exp_sum = exp_sum_scalar,
    .gelu = gelu_scalar,
    .axpy = axpy_scalar,
    .softmax = softmax_scalar,
    .cvt_f32_f16 = cvt_f32_f16_scalar,
    .attn_f16 = attn_f16_scalar,
};

static const wsp__kern_ops *g_ops;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;

int wsp__cpu_f16c(void)
{
    /* CPUID.1:ECX bit 29 (clang's __builtin_cpu_supports does not know "f16c"; F16C
     * needs AVX state, which the avx2/avx512f checks below already require of the OS). */
    unsigned a, b, c, d;
    return __get_cpuid(1, &a, &b, &c, &d) && (c & (1u << 29));
}

int wsp__kern_usable(const wsp__kern_ops *k)
{
    __builtin_cpu_init();
    const int has2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
                     wsp__cpu_f16c();
    if (k == &wsp__kern_scalar)
        return 1;
    if (k == &wsp__kern_avx2)
        return has2;
    if (k == &wsp__kern_avx512) /* the quantized kernels need BW (byte ops) and VNNI */
        return has2 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
               __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq") &&
               __builtin_cpu_supports("avx512vnni");
    return 0;
}

static void resolve(void)
{
    const wsp__kern_ops *const best[] = {&wsp__kern_avx512, &wsp__kern_avx2, &wsp__kern_scalar};
    const char *force = getenv("MDC_KERNELS");
    g_ops = &wsp__kern_scalar;
    for (size_t i = 0; i < sizeof best / sizeof best[0]; i++)
        if (force && strcmp(force, best[i]->name) == 0) {
            if (wsp__kern_usable(best[i]))
                g_ops = best[i];
            return; /* a forced variant the CPU lacks: scalar */
        }
    for (size_t i = 0; i < sizeof best / sizeof best[0]; i++)
        if (wsp__kern_usable(best[i])) {
            g_ops = best[i];
            return;
        }
}

const wsp__kern_ops *wsp__kern(void)
{
    pthread_once(&g_once, resolve);
    return g_ops;
}

void wsp__row_f32(const void *src, float *dst, int n) { memcpy(dst, src, 4 * (size_t)n); }
void wsp__row_f16_scalar(const void *src, float *dst, int n) { cvt_f16_scalar(src, dst, (size_t)n); }
float wsp__vdot_f32_scalar(const void *w, const void *x, int n) { return dot_f32_scalar(w, x, n); }
float wsp__vdot_f16_scalar(const void *w, const void *x, int n) { return dot_f16_scalar(w, x, n); }

void wsp__matvec_f32_scalar(const void *w, size_t row_bytes, int nrows, const void *x,
                            size_t ldx, int n_x, int n, float *Y, int ldy)
{
    wsp__matvec_by_rows(wsp__vdot_f32_scalar, w, row_bytes, nrows, x, ldx, n_x, n, Y, ldy);
}

/* The scalar f16 matvec: groups of 4 weight rows (dot4_f16_scalar), then single rows.
 * (The SIMD variants have their own, sharing each widened weight between input rows.) */
void wsp__matvec_f16_scalar(const void *w, size_t row_bytes, int nrows, const void *x,
                            size_t ldx, int n_x, int n, float *Y, int ldy)
{
    const uint8_t *base = w;
    int r = 0;
    for (; r + 4 <= nrows; r += 4) {
        const uint8_t *wr = base + (size_t)r * row_bytes;
        for (int i = 0; i < n_x; i++) {
            float o[4];
            dot4_f16_scalar(wr, row_bytes / 2, (const float *)((const uint8_t *)x + (size_t)i * ldx), n, o);
            float *y = Y + (size_t)i * (size_t)ldy + r;
            for (int j = 0; j < 4; j++)
                y[j] = o[j];
        }
    }
    for (; r < nrows; r++) {
        const uint8_t *wr = base + (size_t)r * row_bytes;
        for (int i = 0; i < n_x; i++)
            Y[(size_t)i * (size_t)ldy + r] =
                dot_f16_scalar(wr, (const float *)((const uint8_t *)x + (size_t)i * ldx), n);
    }
}

void wsp__mat_row(const wsp__mat *m, int r, float *dst)
{
    const size_t rb = wsp__row_bytes(wsp__type_info_of(m->type), m->cols);
    wsp__kern()->types[m->type].to_float((const uint8_t *)m->data + rb * (size_t)r, dst, m->cols);
}

void wsp__matvec_rows(const wsp__mat *W, const wsp__mat *bias, const float *X, int n_x,
                      int ldx, float *Y, int ldy, int r0, int r1)
{
    const wsp__kern_ops *k = wsp__kern();
    const wsp__type_traits *tr = &k->types[W->type];
    const wsp__type_traits *act = &k->types[tr->vec_dot_type];
    const int n = W->cols;
    const size_t rb = wsp__row_bytes(wsp__type_info_of(W->type), n);
    const uint8_t *w = (const uint8_t *)W->data + (size_t)r0 * rb;
    if (!act->from_float) {
        tr->matvec(w, rb, r1 - r0, X, 4 * (size_t)ldx, n_x, n, Y + r0, ldy);
    } else {
        _Alignas(64) uint8_t buf[WSP__ACT_SCRATCH];
        const size_t qb = wsp__row_bytes(wsp__type_info_of(tr->vec_dot_type), n);
        const int g = (int)(WSP__ACT_SCRATCH / qb); /* >= 1: the loader bounds n */
        for (int i0 = 0; i0 < n_x; i0 += g) {
            const int gi = n_x - i0 < g ? n_x - i0 : g;
            for (int i = 0; i < gi; i++)
                act->from_float(X + (size_t)(i0 + i) * (size_t)ldx, buf + (size_t)i * qb, n);
            tr->matvec(w, rb, r1 - r0, buf, qb, gi, n, Y + (size_t)i0 * (size_t)ldy + r0, ldy);
        }
    }
    if (bias && bias->data)
        for (int i = 0; i < n_x; i++) {
            float *y = Y + (size_t)i * (size_t)ldy;
            for (int r = r0; r < r1; r++)
                y[r] += wsp__ldf(bias->data, (size_t)r);
        }
}

void wsp__layer_norm(float *x, int n, const void *w, const void *b)
{
    double sum = 0;
    for (int i = 0; i < n; i++)
        sum += x[i];
    const float mean = (float)(sum / n);
    double var = 0;
    for (int i = 0; i < n; i++) {
        x[i] -= mean;
        var += (double)x[i] * x[i];
    }
    const float inv = (float)(1.0 / sqrt(var / n + 1e-5));
    for (int i = 0; i < n; i++)
        x[i] = x[i] * inv * wsp__ldf(w, (size_t)i) + wsp__ldf(b, (size_t)i);
}

void wsp__softmax(float *x, int n, float scale) { wsp__kern()->softmax(x, n, scale); }
