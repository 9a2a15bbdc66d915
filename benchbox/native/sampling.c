/* The sampler's per-token draw at top-p 1: a token per row from softmax(logits / temperature)
 * by inverse CDF, and the row's log-probability of it at temperature 1.
 *
 * Same arithmetic as ``benchbox.sample.choose`` (unnormalised CDF, u scaled by its total,
 * first entry above u), in one call instead of eight torch ops (about 60 us per token at
 * batch 1, a third of a native SaShiMi step). logits (B, C) float32 contiguous; u (B,)
 * uniforms in [0, 1) from the caller's torch generator; writes token (B,) int64 and
 * logprob (B,) float32. cdf is scratch of C floats.
 */
#include "linear.h"

void sample_rows(const float *logits, int batch, int classes, float temperature, const float *u, long *token,
                 float *logprob, float *cdf) {
    for (int b = 0; b < batch; b++) {
        const float *l = logits + (long)b * classes;
        float top = l[0];
        for (int c = 1; c < classes; c++) top = l[c] > top ? l[c] : top;
        vf t = splat_v(temperature), shift = splat_v(top / temperature); /* (l / T) - max(l / T), as torch's softmax */
        int c = 0;
        for (; c + VEC <= classes; c += VEC) store_v(cdf + c, exp_v(load_v(l + c) / t - shift));
        for (; c < classes; c++) cdf[c] = expf(l[c] / temperature - top / temperature);
        float total = 0.0f, sum_t1 = 0.0f;
        for (c = 0; c < classes; c++) {
            if (temperature != 1.0f) sum_t1 += expf(l[c] - top);
            total += cdf[c];
            cdf[c] = total;
        }
        if (temperature == 1.0f) sum_t1 = total;
        float target = u[b] * total;
        int pick = classes - 1;
        for (c = 0; c < classes; c++)
            if (cdf[c] > target) {
                pick = c;
                break;
            }
        token[b] = pick;
        logprob[b] = l[pick] - top - logf(sum_t1);
    }
}
