/* One generation token of a WaveNet, all layers and the head, for every batch row, in C.
 *
 * Legend: B batch, C classes, R residual channels, D dilation channels, S skip channels,
 * E end channels, K kernel size, L layers.
 *
 * This is the float32 fast path of ``benchbox.generators.wavenet.WaveNet.step`` and works on
 * the same state: the ring buffer (sum ring_len, B, R) of layer inputs (stored shifted, x - c)
 * and the step count t. The Python side (``benchbox.generators.wavenet_native``) packs the
 * folded matrices of ``StepWeights`` by panels (dense.h), once per weight version. Per layer l:
 *
 *     in  = [x(t - d), ..., x(t - (K-1) d), x(t)]        (K R)   past taps from the ring
 *     ring[t mod (K-1) d] = x(t)                                  after the taps are read
 *     g   = tanh(b_gate + in @ w_gate)                   (2D)    sigmoid half pre-scaled
 *     z_l = g[:D] + g[:D] g[D:]                          (D)     2 tanh(a) sigmoid(b)
 *     x   = x + z_l @ w_res                              (R)     not after the last layer
 *
 * then skip = relu(b_skip + sum_l z_l @ w_skip_l) (S), summed in bands of `band` layers (the
 * skip matrix is packed band by band); end = relu(b_end + skip @ w_end) (E); logits = b_out +
 * end @ w_out (C).
 *
 * Two threads (threads > 1, pair.h): the caller runs the layers while a helper thread adds
 * each band to its share of the skip panels as soon as the band's layers are out; the caller
 * then does the other skip panels, waits for the helper once, and runs end and out. Every
 * skip panel is summed band by band in the same order whichever thread computes it, so the
 * logits are bit-identical for 1 and 2 threads and for any split. The split (the helper's
 * panels) is kept per state and moves by one panel a call toward the thread that arrived
 * first at the meeting point, so a helper that shares its core with another process gets
 * less work.
 *
 * Scratch (floats): a header (the split), in B K R, g B 2D, z B L D, skip B S, end B E.
 */
#define _POSIX_C_SOURCE 200809L /* pthreads, clock_gettime, sched_yield (pair.h) */
#include <stdint.h>

#include "dense.h"
#include "pair.h"

#define WN_HEADER_FLOATS 16 /* scratch header: two int32 of the split (two_threads); keeps 64-byte alignment */
#define WN_RETRY_CALLS 64   /* with the split at 0, calls between tries of the helper */

/* Field order and types are mirrored by ``wavenet_native._Net`` (ctypes). */
typedef struct {
    int32_t layers, taps, res, dil, skip, end, classes; /* L, K, R, D, S, E, C */
    int32_t band;                                       /* layers per band of the skip matrix */
    const int64_t *ring_len;                            /* (L,) (K-1) * dilation */
    const int64_t *ring_start;                          /* (L,) first ring row of each layer */
    const float *embed;                                 /* (C, R), row-major */
    const float *w_gate;                                /* L x packed (K R, 2D) */
    const float *b_gate;                                /* (L, 2D) */
    const float *w_res;                                 /* (L-1) x packed (D, R) */
    const float *w_skip, *b_skip;                       /* bands of packed (band D, S); (S,) */
    const float *w_end, *b_end;                         /* packed (S, E), (E,) */
    const float *w_out, *b_out;                         /* packed (E, C), (C,) */
} WaveNetNet;

long wavenet_scratch_floats(const WaveNetNet *m, int batch) {
    long per_row = (long)m->taps * m->res + 2L * m->dil + (long)m->layers * m->dil + m->skip + m->end;
    return WN_HEADER_FLOATS + batch * per_row;
}

/* tanh(x) = sign(x) (1 - e) / (1 + e), e = exp(-2 |x|) <= 1: no overflow, |error| ~ 1e-7. */
static inline vf wn_tanh_v(vf x) {
    vi sign = (vi)x & (vi)splat_v(-0.0f);
    vf e = exp_v((vf)((vi)x | (vi)splat_v(-0.0f)) * 2.0f); /* exp(-2 |x|) */
    return (vf)((vi)((1.0f - e) / (1.0f + e)) | sign);
}

/* z (D) = g[:D] + g[:D] g[D:] with g = tanh(gate (2D)). */
static void gate_unit(int d, const float *gate, float *z) {
    int i = 0;
    for (; i + VEC <= d; i += VEC) {
        vf a = wn_tanh_v(load_v(gate + i)), b = wn_tanh_v(load_v(gate + d + i));
        store_v(z + i, a + a * b);
    }
    if (i < d) {
        float ga[VEC] = {0}, gb[VEC] = {0}, out[VEC];
        memcpy(ga, gate + i, (size_t)(d - i) * sizeof(float));
        memcpy(gb, gate + d + i, (size_t)(d - i) * sizeof(float));
        vf a = wn_tanh_v(load_v(ga)), b = wn_tanh_v(load_v(gb));
        store_v(out, a + a * b);
        memcpy(z + i, out, (size_t)(d - i) * sizeof(float));
    }
}

/* One call's buffers and the meeting points of its two threads. */
typedef struct {
    const WaveNetNet *m;
    float *ring, *in, *gate, *z, *skip, *end, *logits;
    int64_t t;
    int batch, split;             /* skip panels [0, split) are the helper's */
    atomic_int layers_done, skip_done;
} StepJob;

/* Every layer for every row: fills z (B, L D); `in` holds x_0 (the embedding) on entry. */
static void wavenet_layers(StepJob *j) {
    const WaveNetNet *m = j->m;
    const int n_layers = m->layers, k = m->taps, r = m->res, d = m->dil, kr = k * r, g = 2 * d, ld_z = n_layers * d;
    const int batch = j->batch;
    const long slot = (long)batch * r; /* floats per ring row */
    const long gate_size = dense_floats(kr, g), res_size = dense_floats(d, r);
    float *in = j->in;
    for (int l = 0; l < n_layers; l++) {
        float *base = j->ring + m->ring_start[l] * slot;
        int64_t len = m->ring_len[l], dilation = len / (k - 1);
        for (int tap = 1; tap < k; tap++) {
            int64_t s = ((j->t - tap * dilation) % len + len) % len;
            for (int b = 0; b < batch; b++)
                memcpy(in + (long)b * kr + (tap - 1) * r, base + s * slot + (long)b * r, (size_t)r * sizeof(float));
        }
        float *now = base + (j->t % len) * slot; /* x(t) overwrites the oldest tap, read above */
        for (int b = 0; b < batch; b++)
            memcpy(now + (long)b * r, in + (long)b * kr + (k - 1) * r, (size_t)r * sizeof(float));
        dense(batch, in, kr, kr, m->w_gate + l * gate_size, g, m->b_gate + (long)l * g, j->gate, g, 0);
        for (int b = 0; b < batch; b++) gate_unit(d, j->gate + (long)b * g, j->z + (long)b * ld_z + (long)l * d);
        pair_mark(&j->layers_done, l + 1);
        if (l + 1 < n_layers)
            dense(batch, j->z + (long)l * d, ld_z, d, m->w_res + l * res_size, r, NULL, in + (k - 1) * r, kr,
                  DENSE_ACCUMULATE);
    }
}

/* Skip panels [p0, p1) += the bands that start at layers [l0, l1): bias with the first, ReLU
 * after the last. A band is `band` layers' z (the last band may be shorter). */
static void skip_bands(StepJob *j, int l0, int l1, int p0, int p1) {
    const WaveNetNet *m = j->m;
    const int d = m->dil, ld_z = m->layers * d;
    for (int l = l0; l < l1; l += m->band) {
        int rows = (l + m->band < m->layers ? m->band : m->layers - l) * d;
        int flags = (l ? DENSE_ACCUMULATE : 0) | (l + m->band >= m->layers ? DENSE_RELU : 0);
        dense_range(j->batch, j->z + (long)l * d, ld_z, rows, m->w_skip + l * dense_floats(d, m->skip),
                    (long)rows * DENSE_PANEL, m->skip, l ? NULL : m->b_skip, j->skip, m->skip, flags, p0, p1);
    }
}

/* The helper: each band of its skip panels, as soon as the caller has the band's layers out. */
static void step_helper(void *arg) {
    StepJob *j = arg;
    const int n_layers = j->m->layers, band = j->m->band;
    for (int l = 0; l < n_layers; l += band) {
        pair_wait(&j->layers_done, l + band < n_layers ? l + band : n_layers);
        skip_bands(j, l, l + 1, 0, j->split);
    }
    pair_mark(&j->skip_done, 1);
}

/* The helper's first share: half the weight traffic of a call (layers, skip, end and out). */
static int first_split(const WaveNetNet *m) {
    double layers = (double)m->layers * (dense_floats(m->taps * m->res, 2 * m->dil) + dense_floats(m->dil, m->res));
    double skip = (double)m->layers * dense_floats(m->dil, m->skip);
    double head = (double)dense_floats(m->skip, m->end) + dense_floats(m->end, m->classes);
    int ps = dense_panels(m->skip), share = (int)(ps * (layers + skip + head) / (2.0 * skip) + 0.5);
    return share > ps ? ps : share;
}

/* Layers and skip on two threads; -1: run alone. The split lives in the scratch header and
 * moves by one panel a call toward the thread that arrived first at the meeting point. At 0
 * (the helper keeps losing its core) the call runs alone and tries one panel every
 * WN_RETRY_CALLS calls. */
static int two_threads(StepJob *j, float *header) {
    const int ps = dense_panels(j->m->skip);
    int32_t kept[2]; /* split + 1 (0: not set yet), calls run alone since the split hit 0 */
    memcpy(kept, header, sizeof kept);
    j->split = kept[0] > 0 ? kept[0] - 1 : first_split(j->m);
    if (j->split == 0 && ++kept[1] % WN_RETRY_CALLS != 0) {
        memcpy(header, kept, sizeof kept);
        return -1;
    }
    j->split = j->split > 0 ? j->split : 1;
    if (pair_begin(step_helper, j) != 0) return -1;
    wavenet_layers(j);
    skip_bands(j, 0, j->m->layers, j->split, ps);
    int helper_first = atomic_load_explicit(&j->skip_done, memory_order_acquire);
    pair_end(); /* the helper's job is over: its panels are in */
    int next = j->split + (helper_first ? 1 : -1);
    kept[0] = 1 + (next < 0 ? 0 : next > ps ? ps : next);
    kept[1] = 0;
    memcpy(header, kept, sizeof kept);
    return 0;
}

/* One token for all rows, on `threads` (1 or 2) threads; returns 1 (and changes nothing) if a
 * token is outside [0, C). */
int wavenet_step(const WaveNetNet *m, float *ring, float *scratch, int64_t t, const int64_t *tokens, int batch,
                 float *logits, int threads) {
    const int k = m->taps, r = m->res, kr = k * r, ld_z = m->layers * m->dil;
    for (int b = 0; b < batch; b++)
        if (tokens[b] < 0 || tokens[b] >= m->classes) return 1;
    StepJob j = {.m = m, .ring = ring, .logits = logits, .t = t, .batch = batch};
    j.in = scratch + WN_HEADER_FLOATS;
    j.gate = j.in + (long)batch * kr;
    j.z = j.gate + (long)batch * 2 * m->dil;
    j.skip = j.z + (long)batch * ld_z;
    j.end = j.skip + (long)batch * m->skip;
    atomic_init(&j.layers_done, 0);
    atomic_init(&j.skip_done, 0);
    for (int b = 0; b < batch; b++)
        memcpy(j.in + (long)b * kr + (k - 1) * r, m->embed + tokens[b] * r, (size_t)r * sizeof(float));
    if (threads < 2 || two_threads(&j, scratch) != 0) {
        wavenet_layers(&j);
        skip_bands(&j, 0, m->layers, 0, dense_panels(m->skip));
    }
    dense(batch, j.skip, m->skip, m->skip, m->w_end, m->end, m->b_end, j.end, m->end, DENSE_RELU);
    dense(batch, j.end, m->end, m->end, m->w_out, m->classes, m->b_out, logits, m->classes, 0);
    return 0;
}

/* y = tanh(x) over n floats with the step's vector tanh (for the tests). */
void wavenet_tanh(long n, const float *x, float *y) {
    long i = 0;
    for (; i + VEC <= n; i += VEC) store_v(y + i, wn_tanh_v(load_v(x + i)));
    for (; i < n; i++) {
        float buf[VEC] = {0};
        buf[0] = x[i];
        store_v(buf, wn_tanh_v(load_v(buf)));
        y[i] = buf[0];
    }
}
