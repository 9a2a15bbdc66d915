/* Dense layers for the WaveNet step: y (B, out) = [y +] bias + x (B, in) @ W, optional ReLU.
 *
 * W (in, out) is packed as in linear.h: ceil(out / DENSE_PANEL) panels, each (in, DENSE_PANEL)
 * row-major and zero-padded past `out`, panel after panel, so a panel is one contiguous
 * stream. Unlike `linear`, the loop runs panel-outer: at batch 1 every weight is read once,
 * in address order (the 2560 x 1024 skip matrix is weight-bandwidth bound), and at larger
 * batch a panel (in x 64 bytes) stays in L1/L2 while every block of up to 6 rows walks it.
 * With few rows a block splits the input dimension into KU interleaved partial sums, so
 * that at least 8 independent FMA chains hide the FMA latency. Biases need no padding.
 */
#ifndef BENCHBOX_DENSE_H
#define BENCHBOX_DENSE_H

#include "linear.h"

#define DENSE_PANEL (2 * VEC) /* output columns per panel */
#define DENSE_ACCUMULATE 1 /* flags: y += ... instead of y = ... */
#define DENSE_RELU 2      /* flags: ReLU after the sum */
#ifndef DENSE_PREFETCH_FLOATS
#define DENSE_PREFETCH_FLOATS 4096 /* 16 KiB ahead: measured best at batch 1 on a Zen 3 */
#endif

static inline int dense_panels(int out) { return (out + DENSE_PANEL - 1) / DENSE_PANEL; }
static inline long dense_floats(int in, int out) { return (long)in * dense_panels(out) * DENSE_PANEL; }

/* Bias, accumulate and ReLU on one row's two output vectors, then the store of its ncols columns. */
static inline void dense_finish(float *y, vf a0, vf a1, const float *bias, int ncols, int flags) {
    if (ncols == DENSE_PANEL) {
        if (bias) a0 += load_v(bias), a1 += load_v(bias + VEC);
        if (flags & DENSE_ACCUMULATE) a0 += load_v(y), a1 += load_v(y + VEC);
        if (flags & DENSE_RELU) a0 = (vf)((vi)a0 & (vi)(a0 > 0.0f)), a1 = (vf)((vi)a1 & (vi)(a1 > 0.0f));
        store_v(y, a0);
        store_v(y + VEC, a1);
        return;
    }
    float buf[DENSE_PANEL];
    store_v(buf, a0);
    store_v(buf + VEC, a1);
    for (int j = 0; j < ncols; j++) {
        float v = buf[j] + (bias ? bias[j] : 0.0f) + ((flags & DENSE_ACCUMULATE) ? y[j] : 0.0f);
        y[j] = ((flags & DENSE_RELU) && v < 0.0f) ? 0.0f : v;
    }
}

#define DENSE_BLOCK(ROWS, KU)                                                                                 \
    static inline void dense_block_##ROWS(const float *x, int ldx, int in, const float *wp,                   \
                                          const float *bias, float *y, int ldy, int ncols, int flags,         \
                                          const float *pf /* prefetched along with wp, or NULL */) {       \
        vf acc[KU][ROWS][2];                                                                                  \
        for (int u = 0; u < KU; u++)                                                                          \
            for (int r = 0; r < ROWS; r++) acc[u][r][0] = acc[u][r][1] = splat_v(0.0f);                       \
        int k = 0;                                                                                            \
        for (; k + KU <= in; k += KU)                                                                         \
            for (int u = 0; u < KU; u++) {                                                                    \
                const float *wk = wp + (long)(k + u) * DENSE_PANEL;                                           \
                if (pf) __builtin_prefetch(pf + (long)(k + u) * DENSE_PANEL);                                           \
                vf w0 = load_v(wk), w1 = load_v(wk + VEC);                                                    \
                for (int r = 0; r < ROWS; r++) {                                                              \
                    vf xv = splat_v(x[r * ldx + k + u]);                                                      \
                    acc[u][r][0] += xv * w0;                                                                  \
                    acc[u][r][1] += xv * w1;                                                                  \
                }                                                                                             \
            }                                                                                                 \
        for (; k < in; k++) {                                                                                 \
            vf w0 = load_v(wp + (long)k * DENSE_PANEL), w1 = load_v(wp + (long)k * DENSE_PANEL + VEC);        \
            for (int r = 0; r < ROWS; r++) {                                                                  \
                vf xv = splat_v(x[r * ldx + k]);                                                              \
                acc[0][r][0] += xv * w0;                                                                      \
                acc[0][r][1] += xv * w1;                                                                      \
            }                                                                                                 \
        }                                                                                                     \
        for (int u = 1; u < KU; u++)                                                                          \
            for (int r = 0; r < ROWS; r++) acc[0][r][0] += acc[u][r][0], acc[0][r][1] += acc[u][r][1];        \
        for (int r = 0; r < ROWS; r++) dense_finish(y + r * ldy, acc[0][r][0], acc[0][r][1], bias, ncols, flags); \
    }

DENSE_BLOCK(6, 1)
DENSE_BLOCK(5, 1)
DENSE_BLOCK(4, 1)
DENSE_BLOCK(3, 2)
DENSE_BLOCK(2, 2)
DENSE_BLOCK(1, 4)

/* Panels [p0, p1) of y (B, out) = [y +] bias + x (B, in) @ W; bias (out,) or NULL. Panel p of W
 * starts at wp + p * pstride: pstride = in * DENSE_PANEL for a whole matrix, larger for a band
 * of input rows k0 <= k < k0 + in of a taller matrix (wp then points at row k0 of panel 0).
 * With one block of rows the kernel prefetches DENSE_PREFETCH_FLOATS ahead in its stream;
 * with several, the later blocks (which find the panel in cache) prefetch the next panel. */
static void dense_range(int batch, const float *x, int ldx, int in, const float *wp, long pstride, int out,
                        const float *bias, float *y, int ldy, int flags, int p0, int p1) {
    const int blocks = (batch + 5) / 6; /* as few blocks of <= 6 rows as possible, as even as possible */
    for (int p = p0; p < p1; p++) {
        const float *w = wp + p * pstride, *next = w + pstride;
        int j0 = p * DENSE_PANEL, ncols = out - j0 < DENSE_PANEL ? out - j0 : DENSE_PANEL;
        const float *bp = bias ? bias + j0 : NULL;
        for (int i = 0, b = 0; i < blocks; i++) {
            int rows = batch / blocks + (i < batch % blocks);
            const float *xb = x + (long)b * ldx, *pf = i ? next : w + DENSE_PREFETCH_FLOATS;
            float *yb = y + (long)b * ldy + j0;
            switch (rows) {
            case 6: dense_block_6(xb, ldx, in, w, bp, yb, ldy, ncols, flags, pf); break;
            case 5: dense_block_5(xb, ldx, in, w, bp, yb, ldy, ncols, flags, pf); break;
            case 4: dense_block_4(xb, ldx, in, w, bp, yb, ldy, ncols, flags, pf); break;
            case 3: dense_block_3(xb, ldx, in, w, bp, yb, ldy, ncols, flags, pf); break;
            case 2: dense_block_2(xb, ldx, in, w, bp, yb, ldy, ncols, flags, pf); break;
            default: dense_block_1(xb, ldx, in, w, bp, yb, ldy, ncols, flags, pf); break;
            }
            b += rows;
        }
    }
}

/* All panels: y (B, out) = [y +] bias + x (B, in) @ W, optionally ReLU. */
static void dense(int batch, const float *x, int ldx, int in, const float *wp, int out, const float *bias, float *y,
                  int ldy, int flags) {
    dense_range(batch, x, ldx, in, wp, (long)in * DENSE_PANEL, out, bias, y, ldy, flags, 0, dense_panels(out));
}

#endif
