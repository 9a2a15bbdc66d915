/* Small dense layers for the recurrent step: y (B, out) = [y +] bias + x (B, in) @ w (in, out),
 * plus layer norm and vectorised exp, sigmoid and erf.
 *
 * Written with GCC/Clang vector extensions: the compiler picks AVX2/FMA under -march=native
 * and SSE elsewhere. Plain C fills the columns that do not fill a vector.
 */
#ifndef BENCHBOX_LINEAR_H
#define BENCHBOX_LINEAR_H

#include <math.h>
#include <string.h>

#define VEC 8 /* floats per vector */
typedef float vf __attribute__((vector_size(VEC * sizeof(float))));
typedef float vfu __attribute__((vector_size(VEC * sizeof(float)), aligned(4))); /* unaligned */

static inline vf load_v(const float *p) { return *(const vfu *)p; }
static inline void store_v(float *p, vf v) { *(vfu *)p = v; }
static inline vf splat_v(float a) { return (vf){a, a, a, a, a, a, a, a}; }

/* Weights are packed in panels of PANEL output columns: w_packed[p][k][c] = w[k][p PANEL + c],
 * (ceil(out / PANEL), in, PANEL), zero beyond `out`, and biases are zero-padded to a whole
 * panel (``benchbox.native.pack_linear`` does this). A kernel then streams each panel once,
 * front to back, keeping a block of outputs for up to 4 batch rows in vector registers, so
 * every weight vector loaded serves every row of the block. */
#define PANEL (2 * VEC)

static inline long packed_size(int in, int out) { return (long)in * ((out + PANEL - 1) / PANEL) * PANEL; }
static inline int padded_width(int out) { return (out + PANEL - 1) / PANEL * PANEL; }

/* ROWS batch rows x PANELS panels starting at panel p0; all columns valid. */
#define PANEL_BLOCK(ROWS, PANELS)                                                                     \
    static inline void panel_block_##ROWS##_##PANELS(const float *x, int ldx, int in, const float *w,  \
                                                     int p0, const float *bias, float *y, int ldy,    \
                                                     int accumulate) {                                 \
        vf acc[ROWS][2 * PANELS];                                                                      \
        const float *wp[PANELS];                                                                       \
        for (int q = 0; q < PANELS; q++) wp[q] = w + (long)(p0 + q) * in * PANEL;                       \
        for (int r = 0; r < ROWS; r++)                                                                 \
            for (int c = 0; c < 2 * PANELS; c++) {                                                     \
                int j = p0 * PANEL + c * VEC;                                                          \
                vf a = bias ? load_v(bias + j) : splat_v(0.0f);                                        \
                acc[r][c] = accumulate ? a + load_v(y + r * ldy + j) : a;                              \
            }                                                                                          \
        for (int k = 0; k < in; k++) {                                                                 \
            vf wv[2 * PANELS];                                                                         \
            for (int q = 0; q < PANELS; q++) {                                                         \
                wv[2 * q] = load_v(wp[q] + k * PANEL);                                                 \
                wv[2 * q + 1] = load_v(wp[q] + k * PANEL + VEC);                                       \
            }                                                                                          \
            for (int r = 0; r < ROWS; r++) {                                                           \
                vf xv = splat_v(x[r * ldx + k]);                                                       \
                for (int c = 0; c < 2 * PANELS; c++) acc[r][c] += xv * wv[c];                          \
            }                                                                                          \
        }                                                                                              \
        for (int r = 0; r < ROWS; r++)                                                                 \
            for (int c = 0; c < 2 * PANELS; c++) store_v(y + r * ldy + p0 * PANEL + c * VEC, acc[r][c]); \
    }

PANEL_BLOCK(4, 1)
PANEL_BLOCK(2, 2)
PANEL_BLOCK(1, 4)
PANEL_BLOCK(1, 1)

/* The last, partial panel (out not a multiple of PANEL), one row, plain C. */
static void panel_tail(const float *x, int in, const float *w, int out, const float *bias, float *y, int accumulate) {
    int p = out / PANEL;
    const float *wp = w + (long)p * in * PANEL;
    for (int j = p * PANEL; j < out; j++) {
        float s = (accumulate ? y[j] : 0.0f) + (bias ? bias[j] : 0.0f);
        for (int k = 0; k < in; k++) s += x[k] * wp[k * PANEL + j - p * PANEL];
        y[j] = s;
    }
}

/* y[b, j] = (accumulate ? y[b, j] : 0) + bias[j] + sum_k x[b, k] w[k, j], w packed in panels;
 * bias may be NULL (else padded to a whole panel). */
static void linear(int batch, const float *x, int ldx, int in, const float *w, int out, const float *bias,
                   float *y, int ldy, int accumulate) {
    int full = out / PANEL, b = 0, quads = batch / 4 * 4;
    for (int p = 0; p < full && quads > 0; p++) /* panel outer: each panel leaves memory once */
        for (b = 0; b < quads; b += 4) panel_block_4_1(x + b * ldx, ldx, in, w, p, bias, y + b * ldy, ldy, accumulate);
    b = quads;
    for (; b + 2 <= batch; b += 2) {
        int p = 0;
        for (; p + 2 <= full; p += 2) panel_block_2_2(x + b * ldx, ldx, in, w, p, bias, y + b * ldy, ldy, accumulate);
        for (; p < full; p++) {
            panel_block_1_1(x + b * ldx, ldx, in, w, p, bias, y + b * ldy, ldy, accumulate);
            panel_block_1_1(x + (b + 1) * ldx, ldx, in, w, p, bias, y + (b + 1) * ldy, ldy, accumulate);
        }
    }
    for (; b < batch; b++) {
        int p = 0;
        for (; p + 4 <= full; p += 4) panel_block_1_4(x + b * ldx, ldx, in, w, p, bias, y + b * ldy, ldy, accumulate);
        for (; p < full; p++) panel_block_1_1(x + b * ldx, ldx, in, w, p, bias, y + b * ldy, ldy, accumulate);
    }
    if (full * PANEL < out)
        for (b = 0; b < batch; b++) panel_tail(x + b * ldx, in, w, out, bias, y + b * ldy, accumulate);
}

/* y[b] = layer_norm(x[b]) * gamma + beta over `width` channels (biased variance, as torch). */
static void layer_norm(int batch, const float *x, int width, const float *gamma, const float *beta, float eps,
                       float *y) {
    for (int b = 0; b < batch; b++) {
        const float *xb = x + b * width;
        float *yb = y + b * width;
        float mean = 0.0f, var = 0.0f;
        for (int h = 0; h < width; h++) mean += xb[h];
        mean /= (float)width;
        for (int h = 0; h < width; h++) var += (xb[h] - mean) * (xb[h] - mean);
        float inv = 1.0f / sqrtf(var / (float)width + eps);
        for (int h = 0; h < width; h++) yb[h] = (xb[h] - mean) * inv * gamma[h] + beta[h];
    }
}

/* ---------------------------------------------------------------- vector math
 * exp, sigmoid and erf on whole vectors (libm's scalar erff/expf cost more than the matmuls
 * at batch 16). exp: x = n ln2 + r with |r| <= ln2/2, exp(r) by its Taylor series to r^7
 * (truncation < 1e-8 relative), 2^n by building the float exponent. erf: Abramowitz &
 * Stegun 7.1.26, 1.5e-7 absolute in exact arithmetic, 5e-7 in float32. Both are tested.
 */
typedef int vi __attribute__((vector_size(VEC * sizeof(int))));

static inline vf floor_v(vf x) {
    vf t = __builtin_convertvector(__builtin_convertvector(x, vi), vf); /* toward zero */
    return t + __builtin_convertvector(t > x, vf);                     /* mask is -1 where t > x */
}

static inline vf max_v(vf a, vf b) { return (vf)(((vi)(a > b) & (vi)a) | (~(vi)(a > b) & (vi)b)); }
static inline vf min_v(vf a, vf b) { return (vf)(((vi)(a < b) & (vi)a) | (~(vi)(a < b) & (vi)b)); }

static inline vf exp_v(vf x) {
    x = min_v(max_v(x, splat_v(-87.0f)), splat_v(88.0f));
    vf n = floor_v(x * 1.44269504088896341f + 0.5f);
    vf r = x - n * 0.693359375f + n * 2.12194440e-4f; /* ln2 split in two for accuracy */
    vf p = 1.0f + r * (1.0f + r * (0.5f + r * (1.0f / 6 + r * (1.0f / 24 + r * (1.0f / 120 + r * (1.0f / 720 + r * (1.0f / 5040)))))));
    vi scale = (__builtin_convertvector(n, vi) + 127) << 23;
    return p * (vf)scale;
}

static inline vf sigmoid_v(vf x) { return 1.0f / (1.0f + exp_v(-x)); }

static inline vf erf_v(vf x) {
    vi sign = (vi)x & (vi)splat_v(-0.0f);
    vf a = (vf)((vi)x & ~(vi)splat_v(-0.0f));
    vf t = 1.0f / (1.0f + 0.3275911f * a);
    vf poly = t * (0.254829592f + t * (-0.284496736f + t * (1.421413741f + t * (-1.453152027f + t * 1.061405429f))));
    vf e = 1.0f - poly * exp_v(-a * a);
    return (vf)((vi)e | sign);
}

/* x <- x + x erf(x) over n floats (the GELU with its 1/sqrt 2 factors folded elsewhere). */
static void gelu_folded(float *x, long n) {
    long i = 0;
    for (; i + VEC <= n; i += VEC) {
        vf v = load_v(x + i);
        store_v(x + i, v + v * erf_v(v));
    }
    for (; i < n; i++) x[i] = x[i] + x[i] * erff(x[i]);
}

#endif
