/* Elementwise training ops that torch runs slowly on the CPU.
 *
 * The exact GELU, gelu(x) = x Phi(x) with Phi(x) = (1 + erf(x / sqrt 2)) / 2, and its
 * derivative Phi(x) + x phi(x), phi(x) = exp(-x^2 / 2) / sqrt(2 pi). torch's CPU backward
 * kernel evaluates erf and exp one element at a time (about 5 ns per element here); these
 * use the vector erf and exp of linear.h (about 1 ns). n is any length; x, grad, out are
 * contiguous float32.
 */
#include "linear.h"

#define INV_SQRT2 0.70710678118654752f
#define INV_SQRT_2PI 0.39894228040143268f

static inline vf gelu_v(vf v) { return 0.5f * v * (1.0f + erf_v(v * INV_SQRT2)); }

static inline vf gelu_grad_v(vf v) {
    vf cdf = 0.5f * (1.0f + erf_v(v * INV_SQRT2)), pdf = INV_SQRT_2PI * exp_v(-0.5f * v * v);
    return cdf + v * pdf;
}

static inline float gelu_s(float x) { return 0.5f * x * (1.0f + erff(x * INV_SQRT2)); }

static inline float gelu_grad_s(float x) {
    return 0.5f * (1.0f + erff(x * INV_SQRT2)) + x * INV_SQRT_2PI * expf(-0.5f * x * x);
}

void gelu_forward(const float *x, float *out, long n) {
    long i = 0;
    for (; i + VEC <= n; i += VEC) store_v(out + i, gelu_v(load_v(x + i)));
    for (; i < n; i++) out[i] = gelu_s(x[i]);
}

void gelu_backward(const float *x, const float *grad, float *out, long n) {
    long i = 0;
    for (; i + VEC <= n; i += VEC) store_v(out + i, load_v(grad + i) * gelu_grad_v(load_v(x + i)));
    for (; i < n; i++) out[i] = grad[i] * gelu_grad_s(x[i]);
}

/* ---- the S4 convolution's layout changes, fused with its GELU (``ops.ssm_conv_gelu``).
 *
 * The model keeps activations as (B, T, H); the FFT convolution runs along time on (B, H, n)
 * buffers, n >= T, zero beyond T. These kernels move between the two layouts in 8 x 8 tiles
 * (a vector of 8 time steps per channel) and apply the GELU on the way, so the convolution
 * costs one pass over memory in each direction instead of a transpose, a pad and a GELU.
 * Each call covers the time range [t0, t1) of every batch row: the caller splits time
 * between threads. Tiles are written with plain C stores; the compiler turns the 8 x 8
 * transpose into shuffles. */

#define TILE VEC

/* Transpose 8 vectors in place: r[i][j] <- r[j][i]. AVX shuffles where the compiler targets
 * AVX (-march=native on x86), element moves elsewhere. */
#ifdef __AVX__
#include <immintrin.h>
static inline void transpose8(vf r[8]) {
    __m256 t[8], u[8];
    for (int i = 0; i < 8; i += 2) {
        t[i] = _mm256_unpacklo_ps((__m256)r[i], (__m256)r[i + 1]);
        t[i + 1] = _mm256_unpackhi_ps((__m256)r[i], (__m256)r[i + 1]);
    }
    for (int i = 0; i < 8; i += 4) {
        u[i] = _mm256_shuffle_ps(t[i], t[i + 2], 0x44);
        u[i + 1] = _mm256_shuffle_ps(t[i], t[i + 2], 0xEE);
        u[i + 2] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0x44);
        u[i + 3] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0xEE);
    }
    for (int i = 0; i < 4; i++) {
        r[i] = (vf)_mm256_permute2f128_ps(u[i], u[i + 4], 0x20);
        r[i + 4] = (vf)_mm256_permute2f128_ps(u[i], u[i + 4], 0x31);
    }
}
#else
static inline void transpose8(vf r[8]) {
    vf out[8];
    for (int i = 0; i < 8; i++)
        for (int j = 0; j < 8; j++) out[i][j] = r[j][i];
    for (int i = 0; i < 8; i++) r[i] = out[i];
}
#endif

enum { MOVE_COPY = 0, MOVE_GELU = 1, MOVE_GELU_GRAD = 2 };

/* Loops run over channel blocks of TILE, outside, and time, inside: each tile row is then a
 * sequential stream on the (B, H, ld) side, where rows lie ld floats apart (walking time
 * across all channels at once would put every channel's row in the same few cache sets). */

/* (B, H, ld) -> (B, T, H): dst[b, t, h] = f(src[b, h, t]) for t in [t0, t1), with
 * f = identity (MOVE_COPY) or the GELU (MOVE_GELU). */
void channels_to_time(const float *src, long ld, float *dst, long batch, long T, long H, long t0, long t1, int op) {
    if (t1 > T) t1 = T;
    for (long b = 0; b < batch; b++) {
        const float *s = src + b * H * ld;
        float *d = dst + b * T * H;
        long h = 0;
        for (; h + TILE <= H; h += TILE) {
            long t = t0;
            for (; t + TILE <= t1; t += TILE) {
                vf tile[TILE];
                for (int i = 0; i < TILE; i++) {
                    vf v = load_v(s + (h + i) * ld + t);
                    tile[i] = op == MOVE_GELU ? gelu_v(v) : v;
                }
                transpose8(tile);
                for (int j = 0; j < TILE; j++) store_v(d + (t + j) * H + h, tile[j]);
            }
            for (; t < t1; t++)
                for (long i = h; i < h + TILE; i++) d[t * H + i] = op == MOVE_GELU ? gelu_s(s[i * ld + t]) : s[i * ld + t];
        }
        for (; h < H; h++)
            for (long t = t0; t < t1; t++) d[t * H + h] = op == MOVE_GELU ? gelu_s(s[h * ld + t]) : s[h * ld + t];
    }
}

/* (B, T, H) -> (B, H, ld), zero for t >= T: dst[b, h, t] = src[b, t, h] (MOVE_COPY), or
 * src[b, t, h] * gelu'(pre[b, h, t]) (MOVE_GELU_GRAD, pre laid out like dst), for t in [t0, t1). */
void time_to_channels(const float *src, const float *pre, float *dst, long ld, long batch, long T, long H, long t0,
                      long t1, int op) {
    long tv = t1 < T ? t1 : T, z0 = t0 > T ? t0 : T;
    for (long b = 0; b < batch; b++) {
        const float *s = src + b * T * H;
        const float *p = pre ? pre + b * H * ld : 0;
        float *d = dst + b * H * ld;
        long h = 0;
        for (; h + TILE <= H; h += TILE) {
            long t = t0;
            for (; t + TILE <= tv; t += TILE) {
                vf tile[TILE];
                for (int j = 0; j < TILE; j++) tile[j] = load_v(s + (t + j) * H + h);
                transpose8(tile);
                for (int i = 0; i < TILE; i++) {
                    vf col = tile[i];
                    if (op == MOVE_GELU_GRAD) col *= gelu_grad_v(load_v(p + (h + i) * ld + t));
                    store_v(d + (h + i) * ld + t, col);
                }
            }
            for (; t < tv; t++)
                for (long i = h; i < h + TILE; i++)
                    d[i * ld + t] = op == MOVE_GELU_GRAD ? s[t * H + i] * gelu_grad_s(p[i * ld + t]) : s[t * H + i];
        }
        for (; h < H; h++)
            for (long t = t0; t < tv; t++)
                d[h * ld + t] = op == MOVE_GELU_GRAD ? s[t * H + h] * gelu_grad_s(p[h * ld + t]) : s[t * H + h];
        if (t1 > z0)
            for (long c = 0; c < H; c++) memset(d + c * ld + z0, 0, sizeof(float) * (t1 - z0));
    }
}
