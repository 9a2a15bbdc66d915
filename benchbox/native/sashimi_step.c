/* One recurrent step of a SaShiMi residual stack: S x (S4 block, feed-forward block), in C.
 *
 * Legend: B batch, H width, N real state size per channel (M = N/2 complex modes as
 * interleaved re, im pairs), F feed-forward width (0: no FF blocks), S layers.
 *
 * This is the float32 fast path of ``benchbox.generators.sashimi.FusedStack.step``; the
 * Python side (``NativeStack``) packs the very tensors FusedStack uses, so every folded
 * constant (the GELU 1/sqrt 2 factors, C dA, the Woodbury DPLR rows) is computed once, in
 * torch. Per layer l and batch row b:
 *
 *     u = LN1(x)                                            (H)
 *     y = R . s + dskip * u        per channel, R = C dA     (H)   [DPLR: g = G . s too]
 *     s = dA (*) s + dB u          complex per mode          (H, N) [DPLR: + ig g]
 * (DPLR runs on z = s / ig, whose update adds the real g to the real part: see
 * ``sashimi_native.dplr_scaled_record``)
 *     y = y + y erf(y)             (exact GELU, scales folded into R, dskip and out_w)
 *     o = out_b + y @ out_w        (2H);  x += o[:H] * sigmoid(o[H:])
 *     z = up_b + LN2(x) @ up_w     (F);   z = z + z erf(z);  x += down_b + z @ down_w
 *
 * Packed parameters of one layer, in this order (float32):
 *     ln1_w H, ln1_b H, dskip H, ssm (H/VEC, M, K, VEC),
 *     out (H -> 2H), [ln2_w H, ln2_b H, up (H -> F), down (F -> H)]
 * with the FF part when F > 0. The SSM weights come in blocks of VEC = 8 channels; per block
 * and mode m a record of K vectors: R re, R im, dA re, dA im, dB re, dB im, and for DPLR
 * (low_rank = 1) G re, G im, with R, dB and G rescaled for z. The state of one layer and batch row is
 * (H/VEC, M, 2, VEC) likewise, so the SSM runs across 8 channels at a time, streaming its
 * memory front to back. Each linear layer is its weight packed in panels followed by its
 * padded bias (linear.h). H must be a multiple of VEC.
 */
#include "linear.h"

#define SSM_RECORD_S4D 6  /* vectors per mode and channel block: R re, R im, dA re, dA im, dB re, dB im */
#define SSM_RECORD_DPLR 8 /* DPLR on z = s / ig: R' re, R' im, dA re, dA im, dB' re, dB' im, G' re, G' im */

static long linear_size(int in, int out) { return packed_size(in, out) + padded_width(out); }

static long layer_size(int h, int n, int f, int low_rank) {
    long size = 3L * h + (long)h * n * (low_rank ? SSM_RECORD_DPLR : SSM_RECORD_S4D) / 2 + linear_size(h, 2 * h);
    if (f > 0) size += 2L * h + linear_size(h, f) + linear_size(f, h);
    return size;
}

int sashimi_channel_block(void) { return VEC; }

long sashimi_stack_params(int layers, int h, int n, int f, int low_rank) {
    return layers * layer_size(h, n, f, low_rank);
}

/* Floats of state per layer and batch row: the modes (H/VEC, M, 2, VEC), then H floats of
 * G . s (DPLR), then a pad so that rows do not sit a multiple of 4 KiB apart (stores to one
 * row would stall loads of the next: 4K aliasing). */
long sashimi_state_stride(int h, int n) { return (long)h * n + h + 2 * PANEL; }

long sashimi_stack_scratch(int batch, int h, int f) {
    return (long)batch * (2L * h + padded_width(2 * h) + (f > 0 ? padded_width(f) : 0)) + PANEL;
}

/* One layer's SSM for ROWS (1, 2 or 4) batch rows and the VEC channels of one block:
 * y = R . s + dskip u from the old state, then s = dA s + dB u [+ g, real, on z]. For DPLR, g = G . s
 * of the old state was computed at the end of the previous step's update (and is 0 at the
 * start, like the state), so the state is read once per step, as for S4D.
 * w points at the block's (M, K, VEC) records, s at the rows' (M, 2, VEC) states and g at the
 * rows' stored G . s; all are read front to back, and a mode's weights serve all the rows.
 * Real and imaginary sums accumulate apart, halving the dependency chains. */
static inline __attribute__((always_inline)) void ssm_block(const int rows, int m_modes, const int low_rank,
                                                            const float *restrict w, const float *restrict dskip,
                                                            const float *restrict u, float *restrict s,
                                                            float *restrict g, long stride, float *restrict y, int ld) {
    const int k = low_rank ? SSM_RECORD_DPLR : SSM_RECORD_S4D;
    vf uv[4], acc_r[4], acc_i[4], g_old[4], g_r[4], g_i[4];
    for (int j = 0; j < rows; j++) {
        uv[j] = load_v(u + j * ld);
        acc_r[j] = acc_i[j] = g_r[j] = g_i[j] = splat_v(0.0f);
        g_old[j] = low_rank ? load_v(g + j * stride) : splat_v(0.0f);
    }
    for (int m = 0; m < m_modes; m++) {
        const float *rec = w + (long)m * k * VEC;
        vf rr = load_v(rec), ri = load_v(rec + VEC), ar = load_v(rec + 2 * VEC), ai = load_v(rec + 3 * VEC);
        vf br = load_v(rec + 4 * VEC), bi = load_v(rec + 5 * VEC), gr, gi;
        if (low_rank) gr = load_v(rec + 6 * VEC), gi = load_v(rec + 7 * VEC);
        for (int j = 0; j < rows; j++) {
            float *sj = s + j * stride + 2L * m * VEC;
            vf sr = load_v(sj), si = load_v(sj + VEC);
            acc_r[j] += rr * sr;
            acc_i[j] += ri * si;
            /* DPLR (state z = s / ig): the injection of g is a real add, folded into dB' u */
            vf nr = ar * sr - ai * si + (low_rank ? br * uv[j] + g_old[j] : br * uv[j]), ni = ar * si + ai * sr + bi * uv[j];
            if (low_rank) g_r[j] += gr * nr, g_i[j] += gi * ni;
            store_v(sj, nr);
            store_v(sj + VEC, ni);
        }
    }
    for (int j = 0; j < rows; j++) {
        store_v(y + j * ld, acc_r[j] + acc_i[j] + load_v(dskip) * uv[j]);
        if (low_rank) store_v(g + j * stride, g_r[j] + g_i[j]);
    }
}

/* x[b, :H] += o[b, :H] * sigmoid(o[b, H:]) for every row. */
static void glu_residual(int batch, int h, int ldo, const float *o, float *x) {
    for (int b = 0; b < batch; b++) {
        const float *ob = o + (long)b * ldo;
        float *xb = x + (long)b * h;
        int c = 0;
        for (; c + VEC <= h; c += VEC) store_v(xb + c, load_v(xb + c) + load_v(ob + c) * sigmoid_v(load_v(ob + h + c)));
        for (; c < h; c++) xb[c] += ob[c] / (1.0f + expf(-ob[h + c]));
    }
}

/* x (B, H) is updated in place; state (S, B, sashimi_state_stride); scratch holds sashimi_stack_scratch floats. */
void sashimi_stack_step(int layers, int h, int n, int f, int low_rank, float eps, int batch, const float *params,
                        float *x, float *state, float *scratch) {
    int ow = padded_width(2 * h), fw = f > 0 ? padded_width(f) : 0;
    float *u = scratch, *y = u + batch * h, *o = y + batch * h, *z = o + (long)batch * ow;
    long per_layer = layer_size(h, n, f, low_rank);
    for (int l = 0; l < layers; l++) {
        const float *p = params + l * per_layer;
        const float *ln_w = p, *ln_b = p + h;
        p += 2 * h;
        const float *dskip = p, *ssm = p + h;
        p += h + (long)h * n * (low_rank ? SSM_RECORD_DPLR : SSM_RECORD_S4D) / 2;
        const float *out_w = p, *out_b = p + packed_size(h, 2 * h);
        p += linear_size(h, 2 * h);

        layer_norm(batch, x, h, ln_w, ln_b, eps, u);
        float *s = state + (long)l * batch * sashimi_state_stride(h, n);
        long stride = sashimi_state_stride(h, n), record = (long)(n / 2) * (low_rank ? SSM_RECORD_DPLR : SSM_RECORD_S4D) * VEC;
        for (int b = 0; b < batch;) { /* row groups outer: each row's state streams front to back */
            int rows = batch - b >= 4 ? 4 : batch - b >= 2 ? 2 : 1;
            for (int cb = 0; cb < h / VEC; cb++) {
                const float *wc = ssm + cb * record;
                float *sc = s + (long)cb * n * VEC + b * stride, *gc = s + (long)h * n + cb * VEC + b * stride;
                int c = cb * VEC;
                const float *uc = u + b * h + c;
                float *yc = y + b * h + c;
                if (low_rank && rows == 4)
                    ssm_block(4, n / 2, 1, wc, dskip + c, uc, sc, gc, stride, yc, h);
                else if (low_rank && rows == 2)
                    ssm_block(2, n / 2, 1, wc, dskip + c, uc, sc, gc, stride, yc, h);
                else if (low_rank)
                    ssm_block(1, n / 2, 1, wc, dskip + c, uc, sc, gc, stride, yc, h);
                else if (rows == 4)
                    ssm_block(4, n / 2, 0, wc, dskip + c, uc, sc, gc, stride, yc, h);
                else if (rows == 2)
                    ssm_block(2, n / 2, 0, wc, dskip + c, uc, sc, gc, stride, yc, h);
                else
                    ssm_block(1, n / 2, 0, wc, dskip + c, uc, sc, gc, stride, yc, h);
            }
            b += rows;
        }
        gelu_folded(y, (long)batch * h);
        linear(batch, y, h, h, out_w, 2 * h, out_b, o, ow, 0);
        glu_residual(batch, h, ow, o, x);
        if (f > 0) {
            const float *ln2_w = p, *ln2_b = p + h, *up_w = p + 2 * h, *up_b = up_w + packed_size(h, f);
            const float *down_w = up_b + padded_width(f), *down_b = down_w + packed_size(f, h);
            layer_norm(batch, x, h, ln2_w, ln2_b, eps, u);
            linear(batch, u, h, h, up_w, f, up_b, z, fw, 0);
            gelu_folded(z, (long)batch * fw);
            linear(batch, z, fw, f, down_w, h, down_b, x, h, 1);
        }
    }
}

/* ------------------------------------------------------------------ one token, all tiers
 * The multi-rate recurrence of sashimi.py (Sashimi._tier_step) over stacks stepped as above,
 * so a token costs one call. Buffers belong to the caller (Python keeps them alive). */
#define MAX_TIERS 8

typedef struct {
    int layers, h, n, f, low_rank;
    float eps;
    const float *params;
    float *state;
} Stack;

typedef struct {
    int tiers, unet, batch, classes;
    int pool[MAX_TIERS], width[MAX_TIERS + 1];
    long count[MAX_TIERS];             /* tokens seen by each tier */
    Stack up[MAX_TIERS], down[MAX_TIERS], center;
    const float *down_pool[MAX_TIERS]; /* packed (p H_i -> H_i+1) + bias */
    const float *up_pool[MAX_TIERS];   /* packed (H_i+1 -> p H_i) + bias */
    float *down_buf[MAX_TIERS];        /* (B, p H_i): inputs of the current chunk */
    float *up_buf[MAX_TIERS];          /* (B, padded p H_i): up-pool outputs for the current chunk */
    float *x[MAX_TIERS + 2];           /* (B, H_i) activations of each tier, then the normed top */
    const float *embed;                /* (C, H_0) */
    const float *norm;                 /* final norm weight H_0, bias H_0 */
    float norm_eps;
    const float *head;                 /* packed (H_0 -> C) + bias */
    float *scratch;                    /* max of sashimi_stack_scratch over stacks, and B H_0 */
    int center_residual, up_residual;  /* x = center(x) + x; x = up_stack(z) + z (the official model) */
    float *res[MAX_TIERS + 1];         /* (B, H_i): a stack's input, kept for its outer residual */
} Model;

long sashimi_model_size(void) { return sizeof(Model); }

static void run_stack(const Model *m, const Stack *s, float *x) {
    sashimi_stack_step(s->layers, s->h, s->n, s->f, s->low_rank, s->eps, m->batch, s->params, x, s->state, m->scratch);
}

/* x = stack(x), or stack(x) + x with the outer residual. */
static void residual_stack(const Model *m, const Stack *s, int residual, float *res, float *x, int h) {
    long n = (long)m->batch * h;
    if (residual) memcpy(res, x, sizeof(float) * n);
    run_stack(m, s, x);
    if (residual)
        for (long k = 0; k < n; k++) x[k] += res[k];
}

static void tier_step(Model *m, int i, float *x) {
    if (i == m->tiers) {
        residual_stack(m, &m->center, m->center_residual, m->res[i], x, m->width[i]);
        return;
    }
    if (m->unet) run_stack(m, &m->down[i], x);
    int p = m->pool[i], h = m->width[i], h2 = m->width[i + 1], ldu = padded_width(p * h);
    int pos = (int)(m->count[i] % p);
    m->count[i]++;
    for (int b = 0; b < m->batch; b++) {
        float *xb = x + (long)b * h, *down = m->down_buf[i] + (long)b * p * h + (long)pos * h;
        const float *up = m->up_buf[i] + (long)b * ldu + (long)pos * h;
        for (int c = 0; c < h; c++) down[c] = xb[c], xb[c] += up[c];
    }
    if (pos == p - 1) { /* chunk complete: step the coarser tier once */
        float *coarse = m->x[i + 1];
        linear(m->batch, m->down_buf[i], p * h, p * h, m->down_pool[i], h2, m->down_pool[i] + packed_size(p * h, h2), coarse, h2, 0);
        tier_step(m, i + 1, coarse);
        linear(m->batch, coarse, h2, h2, m->up_pool[i], p * h, m->up_pool[i] + packed_size(h2, p * h), m->up_buf[i], ldu, 0);
    }
    residual_stack(m, &m->up[i], m->up_residual, m->res[i], x, h);
}

/* 0 when every token is in [0, C), else -1. */
int sashimi_check_tokens(const long *tokens, int batch, int classes) {
    for (int b = 0; b < batch; b++)
        if (tokens[b] < 0 || tokens[b] >= classes) return -1;
    return 0;
}

/* tokens (B,) int64 -> logits (B, C); advances every buffer of m by one token.
 * Returns -1, having changed nothing, when a token is outside [0, C). */
int sashimi_token_step(Model *m, const long *tokens, float *logits) {
    int h = m->width[0], c = m->classes;
    if (sashimi_check_tokens(tokens, m->batch, c) != 0) return -1;
    float *x = m->x[0];
    for (int b = 0; b < m->batch; b++) memcpy(x + (long)b * h, m->embed + tokens[b] * h, sizeof(float) * h);
    tier_step(m, 0, x);
    float *normed = m->x[m->tiers + 1];
    layer_norm(m->batch, x, h, m->norm, m->norm + h, m->norm_eps, normed);
    linear(m->batch, normed, h, h, m->head, c, m->head + packed_size(h, c), logits, c, 0);
    return 0;
}

/* For the tests: erf and sigmoid of n floats through the vector approximations. */
void sashimi_vector_math(const float *x, long n, float *erf_out, float *sigmoid_out) {
    for (long i = 0; i + VEC <= n; i += VEC) {
        store_v(erf_out + i, erf_v(load_v(x + i)));
        store_v(sigmoid_out + i, sigmoid_v(load_v(x + i)));
    }
}
