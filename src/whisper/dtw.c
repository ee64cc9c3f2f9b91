/*
 * dtw.c — DTW token times (see dtw.h).  Steps as whisper.cpp: per (head, audio position)
 * normalise the column over the tokens (ggml_norm: mean, population variance, eps
 * 1e-9, double sums), median filter of width 7 along the audio axis with reflect
 * padding, mean over heads, negate, drop the sot-sequence rows and the eot row, DTW with
 * trace (ties go to "left" unless the diagonal or "up" is strictly smallest), backtrace
 * from the end; a token's time is where the path first enters its row.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "whisper/dtw.h"

#define MEDFILT_WIDTH 7 /* whisper.cpp whisper_full_with_state: medfilt_width 7 */
#define NORM_EPS 1e-9f  /* whisper.cpp: ggml_norm(…, 1e-9f) */

/* {text layer, head} lists (ref: whisper.cpp g_aheads_*; OpenAI whisper/__init__.py
 * _ALIGNMENT_HEADS). */
static const int8_t k_tiny_en[][2] = {{1, 0}, {2, 0}, {2, 5}, {3, 0}, {3, 1}, {3, 2}, {3, 3}, {3, 4}};
static const int8_t k_tiny[][2] = {{2, 2}, {3, 0}, {3, 2}, {3, 3}, {3, 4}, {3, 5}};
static const int8_t k_base_en[][2] = {{3, 3}, {4, 7}, {5, 1}, {5, 5}, {5, 7}};
static const int8_t k_base[][2] = {{3, 1}, {4, 2}, {4, 3}, {4, 7}, {5, 1}, {5, 2}, {5, 4}, {5, 6}};
static const int8_t k_small_en[][2] = {{6, 6},   {7, 0},  {7, 3},   {7, 8},   {8, 2},
                                       {8, 5},   {8, 7},  {9, 0},   {9, 4},   {9, 8},
                                       {9, 10},  {10, 0}, {10, 1},  {10, 2},  {10, 3},
                                       {10, 6},  {10, 11}, {11, 2}, {11, 4}};
static const int8_t k_small[][2] = {{5, 3}, {5, 9}, {8, 0}, {8, 4}, {8, 7},
                                    {8, 8}, {9, 0}, {9, 7}, {9, 9}, {10, 5}};
static const int8_t k_medium_en[][2] = {{11, 4},  {14, 1},  {14, 12}, {14, 14}, {15, 4},
                                        {16, 0},  {16, 4},  {16, 9},  {17, 12}, {17, 14},
                                        {18, 7},  {18, 10}, {18, 15}, {20, 0},  {20, 3},
                                        {20, 9},  {20, 14}, {21, 12}};
static const int8_t k_medium[][2] = {{13, 15}, {15, 4}, {15, 15}, {16, 1}, {20, 0}, {23, 4}};
static const int8_t k_large_v1[][2] = {{9, 19},  {11, 2},  {11, 4},  {11, 17}, {22, 7},
                                       {22, 11}, {22, 17}, {23, 2},  {23, 15}};
static const int8_t k_large_v2[][2] = {{10, 12}, {13, 17}, {16, 11}, {16, 12}, {16, 13},
                                       {17, 15}, {17, 16}, {18, 4},  {18, 11}, {18, 19},
                                       {19, 11}, {21, 2},  {21, 3},  {22, 3},  {22, 9},
                                       {22, 12}, {23, 5},  {23, 7},  {23, 13}, {25, 5},
                                       {26, 1},  {26, 12}, {27, 15}};
static const int8_t k_large_v3[][2] = {{7, 0},   {10, 17}, {12, 18}, {13, 12}, {16, 1},
                                       {17, 14}, {19, 11}, {21, 4},  {24, 1},  {25, 6}};
static const int8_t k_large_v3_turbo[][2] = {{2, 4}, {2, 11}, {3, 3}, {3, 6}, {3, 11}, {3, 14}};

#define P(e, name, tab) [e] = {name, tab, (int)(sizeof tab / sizeof tab[0])}
static const struct {
    const char *name;
    const int8_t (*heads)[2];
    int n;
} k_presets[] = {
    [WSP_AHEADS_NONE] = {"none", NULL, 0},
    P(WSP_AHEADS_TINY_EN, "tiny.en", k_tiny_en),
    P(WSP_AHEADS_TINY, "tiny", k_tiny),
    P(WSP_AHEADS_BASE_EN, "base.en", k_base_en),
    P(WSP_AHEADS_BASE, "base", k_base),
    P(WSP_AHEADS_SMALL_EN, "small.en", k_small_en),
    P(WSP_AHEADS_SMALL, "small", k_small),
    P(WSP_AHEADS_MEDIUM_EN, "medium.en", k_medium_en),
    P(WSP_AHEADS_MEDIUM, "medium", k_medium),
    P(WSP_AHEADS_LARGE_V1, "large-v1", k_large_v1),
    P(WSP_AHEADS_LARGE_V2, "large-v2", k_large_v2),
    P(WSP_AHEADS_LARGE_V3, "large-v3", k_large_v3),
    P(WSP_AHEADS_LARGE_V3_TURBO, "large-v3-turbo", k_large_v3_turbo),
};
#undef P
#define N_PRESETS ((int)(sizeof k_presets / sizeof k_presets[0]))

int wsp_aheads_preset_parse(const char *name, wsp_aheads_preset *out)
{
    for (int i = 0; name && i < N_PRESETS; i++)
        if (strcmp(name, k_presets[i].name) == 0) {
            *out = (wsp_aheads_preset)i;
            return 0;
        }
    return WSP_EINVAL;
}

const char *wsp_aheads_preset_name(wsp_aheads_preset p)
{
    return (int)p >= 0 && (int)p < N_PRESETS ? k_presets[p].name : "?";
}

int wsp_aheads_preset_for_model(const wsp_model *model, wsp_aheads_preset *out)
{
    static const struct {
        const char *type;
        wsp_aheads_preset multi, en; /* NONE: no English-only variant */
    } k_sizes[] = {
        {"tiny", WSP_AHEADS_TINY, WSP_AHEADS_TINY_EN},
        {"base", WSP_AHEADS_BASE, WSP_AHEADS_BASE_EN},
        {"small", WSP_AHEADS_SMALL, WSP_AHEADS_SMALL_EN},
        {"medium", WSP_AHEADS_MEDIUM, WSP_AHEADS_MEDIUM_EN},
        {"large-v3", WSP_AHEADS_LARGE_V3, WSP_AHEADS_NONE},
        {"large-v3-turbo", WSP_AHEADS_LARGE_V3_TURBO, WSP_AHEADS_NONE},
    };
    const char *type = model ? wsp_model_type_name(model) : "";
    const bool multi = model && wsp_model_is_multilingual(model);
    for (size_t i = 0; i < sizeof k_sizes / sizeof k_sizes[0]; i++)
        if (!strcmp(type, k_sizes[i].type)) {
            const wsp_aheads_preset p = multi ? k_sizes[i].multi : k_sizes[i].en;
            if (p == WSP_AHEADS_NONE)
                return WSP_EINVAL;
            *out = p;
            return 0;
        }
    return WSP_EINVAL;
}

bool wsp_aheads_preset_fits(const wsp_model *model, wsp_aheads_preset preset)
{
    const int8_t(*hd)[2] = NULL;
    const int n = model ? wsp__dtw_heads(preset, &hd) : 0;
    if (n <= 0)
        return false;
    const wsp_hparams *hp = wsp_model_hparams(model);
    for (int i = 0; i < n; i++)
        if (hd[i][0] >= hp->n_text_layer || hd[i][1] >= hp->n_text_head)
            return false;
    return true;
}

int wsp__dtw_heads(wsp_aheads_preset p, const int8_t (**heads)[2])
{
    if ((int)p <= 0 || (int)p >= N_PRESETS)
        return 0;
    *heads = k_presets[p].heads;
    return k_presets[p].n;
}

int wsp__dtw_slots(wsp_aheads_preset preset, int n_layer, int n_head, int16_t *slot)
{
    const int8_t(*hd)[2] = NULL;
    const int n = wsp__dtw_heads(preset, &hd);
    for (int i = 0; i < n_layer * n_head; i++)
        slot[i] = -1;
    for (int i = 0; i < n; i++)
        if (hd[i][0] >= n_layer || hd[i][1] >= n_head)
            return WSP_EINVAL;
    int k = 0;
    for (int l = 0; l < n_layer; l++)
        for (int i = 0; i < n; i++)
            if (hd[i][0] == l)
                slot[l * n_head + hd[i][1]] = (int16_t)k++;
    return k;
}

static int cmp_float(const void *a, const void *b)
{
    const float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

int wsp__dtw_window(const float *cap, int n_heads, int N, int T, int n_sot, int n_audio,
                    int seek, wsp_segment *segs, int n_segs, const wsp__vocab *v)
{
    if (n_audio <= MEDFILT_WIDTH || n_audio > T || n_heads <= 0 || N < n_sot + 2)
        return WSP_EINVAL;
    const int M = n_audio, R = N - n_sot - 1; /* DTW rows: <|notimestamps|> + text */
    const size_t hm = (size_t)N * (size_t)M;
    float *w = malloc(sizeof(float) * hm * (size_t)n_heads);   /* [head][token][audio] */
    float *f = malloc(sizeof(float) * hm * (size_t)n_heads);   /* filtered */
    float *x = malloc(sizeof(float) * (size_t)R * (size_t)M); /* [row][audio] */
    float *cost = malloc(sizeof(float) * (size_t)(R + 1) * (size_t)(M + 1));
    int8_t *trace = malloc((size_t)(R + 1) * (size_t)(M + 1));
    if (!w || !f || !x || !cost || !trace) {
        free(w), free(f), free(x), free(cost), free(trace);
        return WSP_ENOMEM;
    }
    /* 1. normalise every (head, audio) column over the N tokens */
    for (int k = 0; k < n_heads; k++)
        for (int j = 0; j < M; j++) {
            const float *c = cap + (size_t)k * N * T + j;
            double sum = 0.0;
            for (int i = 0; i < N; i++)
                sum += (double)c[(size_t)i * T];
            const float mean = (float)(sum / N);
            double sum2 = 0.0;
            for (int i = 0; i < N; i++) {
                const float d = c[(size_t)i * T] - mean;
                w[(size_t)k * hm + (size_t)i * M + j] = d;
                sum2 += (double)(d * d);
            }
            const float var = (float)(sum2 / N);
            const float scale = 1.0f / sqrtf(var + NORM_EPS);
            for (int i = 0; i < N; i++)
                w[(size_t)k * hm + (size_t)i * M + j] *= scale;
        }
    /* 2. median filter along audio, reflect padding */
    float win[MEDFILT_WIDTH];
    for (size_t r = 0; r < (size_t)n_heads * N; r++) {
        const float *src = w + r * M;
        for (int j = 0; j < M; j++) {
            for (int o = -MEDFILT_WIDTH / 2; o <= MEDFILT_WIDTH / 2; o++) {
                int idx = j + o;
                if (idx < 0)
                    idx = -idx;
                else if (idx >= M)
                    idx = 2 * (M - 1) - idx;
                win[o + MEDFILT_WIDTH / 2] = src[idx];
            }
            qsort(win, MEDFILT_WIDTH, sizeof(float), cmp_float);
            f[r * M + j] = win[MEDFILT_WIDTH / 2];
        }
    }
    /* 3. mean over heads, negated, rows n_sot … N − 2 */
    for (int i = 0; i < R; i++)
        for (int j = 0; j < M; j++) {
            double s = 0.0;
            for (int k = 0; k < n_heads; k++)
                s += (double)f[(size_t)k * hm + (size_t)(i + n_sot) * M + j];
            float mean = (float)s;
            mean /= (float)n_heads;
            x[(size_t)i * M + j] = -mean;
        }
    /* 4. DTW: cost[i][j] over rows i = 0…R, columns j = 0…M */
    const size_t ld = (size_t)M + 1;
    for (size_t q = 0; q < (size_t)(R + 1) * ld; q++) {
        cost[q] = INFINITY;
        trace[q] = -1;
    }
    cost[0] = 0.0f;
    for (int j = 1; j <= M; j++)
        for (int i = 1; i <= R; i++) {
            const float c0 = cost[(size_t)(i - 1) * ld + j - 1];
            const float c1 = cost[(size_t)(i - 1) * ld + j];
            const float c2 = cost[(size_t)i * ld + j - 1];
            float c;
            int8_t t;
            if (c0 < c1 && c0 < c2) {
                c = c0;
                t = 0;
            } else if (c1 < c0 && c1 < c2) {
                c = c1;
                t = 1;
            } else {
                c = c2;
                t = 2;
            }
            cost[(size_t)i * ld + j] = x[(size_t)(i - 1) * M + j - 1] + c;
            trace[(size_t)i * ld + j] = t;
        }
    for (int j = 0; j <= M; j++)
        trace[j] = 2;
    for (int i = 0; i <= R; i++)
        trace[(size_t)i * ld] = 1;
    /* 5. backtrace into path[] (reversed), then walk it forwards */
    const int max_len = R + M;
    int *path = malloc(sizeof(int) * 2 * (size_t)max_len);
    if (!path) {
        free(w), free(f), free(x), free(cost), free(trace);
        return WSP_ENOMEM;
    }
    int np = 0, i = R, j = M;
    while ((i > 0 || j > 0) && np < max_len) {
        path[2 * np] = i - 1;
        path[2 * np + 1] = j - 1;
        np++;
        const int t = trace[(size_t)i * ld + j];
        if (t == 0) {
            i--;
            j--;
        } else if (t == 1) {
            i--;
        } else {
            j--;
        }
    }
    int last_v = 0, s = 0, k = 0;
    for (int q = np - 1; q >= 0; q--) {
        const int row = path[2 * q], col = path[2 * q + 1];
        if (row == last_v)
            continue;
        last_v = row;
        /* next text token of the window */
        while (s < n_segs && (k >= segs[s].n_tokens || segs[s].tokens[k].id >= v->eot)) {
            if (++k >= segs[s].n_tokens) {
                s++;
                k = 0;
            }
        }
        if (s >= n_segs)
            break;
        segs[s].tokens[k].t_dtw = (int64_t)seek + 2 * (int64_t)col;
        if (++k >= segs[s].n_tokens) {
            s++;
            k = 0;
        }
    }
    free(path), free(w), free(f), free(x), free(cost), free(trace);
    return 0;
}
