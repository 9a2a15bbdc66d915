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

void gelu_forward(const float *x, float *out, long n) {
    long i = 0;
    for (; i + VEC <= n; i += VEC) {
        vf v = load_v(x + i);
        store_v(out + i, 0.5f * v * (1.0f + erf_v(v * INV_SQRT2)));
    }
    for (; i < n; i++) out[i] = 0.5f * x[i] * (1.0f + erff(x[i] * INV_SQRT2));
}

void gelu_backward(const float *x, const float *grad, float *out, long n) {
    long i = 0;
    for (; i + VEC <= n; i += VEC) {
        vf v = load_v(x + i);
        vf cdf = 0.5f * (1.0f + erf_v(v * INV_SQRT2)), pdf = INV_SQRT_2PI * exp_v(-0.5f * v * v);
        store_v(out + i, load_v(grad + i) * (cdf + v * pdf));
    }
    for (; i < n; i++) {
        float cdf = 0.5f * (1.0f + erff(x[i] * INV_SQRT2)), pdf = INV_SQRT_2PI * expf(-0.5f * x[i] * x[i]);
        out[i] = grad[i] * (cdf + x[i] * pdf);
    }
}
