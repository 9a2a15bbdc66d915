"""Usage: python benchmarks/interval_coverage_kad.py REPS RESAMPLES (docs/metrics.md: 400 1000).
Coverage of KAD intervals: Gaussian embeddings, D=32, n1=32 generated vs n2=20 reference.
Truth: the population MMD^2 at the bandwidth used (closed form for isotropic Gaussians)."""
import sys, numpy as np
from scipy.stats import norm, chi2
D, N1, N2 = 32, 32, 20
REPS, R = int(sys.argv[1]), int(sys.argv[2])
Z = norm.ppf(0.975)

def sqd(x, y):
    return np.clip((x**2).sum(1)[:, None] + (y**2).sum(1)[None] - 2 * x @ y.T, 0, None)

def ek(m2, s2, h):  # E exp(-|z|^2/(2h^2)), z ~ N(m, s2 I_D), |m|^2 = m2
    return (h * h / (h * h + s2)) ** (D / 2) * np.exp(-m2 / (2 * (h * h + s2)))

def truth(shift, scale, h):
    return ek(0, 2 * scale**2, h) + ek(0, 2.0, h) - 2 * ek(D * shift**2, scale**2 + 1, h)

def ref_bw(b):
    s = sqd(b, b)[np.triu_indices(len(b), 1)]
    return np.sqrt(np.median(s[s > 0]))

def pooled_bw(a, b):
    return ref_bw(np.concatenate([a, b]))

def mmd(kaa, kbb, kab):
    n1, n2 = len(kaa), len(kbb)
    return (kaa.sum() - np.trace(kaa)) / (n1 * (n1 - 1)) + (kbb.sum() - np.trace(kbb)) / (n2 * (n2 - 1)) - 2 * kab.mean()

def within(k, w, exclude):  # (R,) within-set means for count rows w (R, N)
    tot = np.einsum("ri,ij,rj->r", w, k, w)
    diag = (w**2) @ np.diag(k)
    W = w.sum(1)
    if exclude:
        return (tot - diag) / (W**2 - (w**2).sum(1))
    # old: position pairs i != j, duplicates of one original included (k(x,x) = 1)
    return (tot - W * 1.0) / (W * (W - 1))

def boot(kaa, kbb, kab, wa, wb, exclude):
    return within(kaa, wa, exclude) + within(kbb, wb, exclude) - 2 * np.einsum("ri,ij,rj->r", wa, kab, wb) / (wa.sum(1) * wb.sum(1))

def jack(kaa, kbb, kab):
    n1, n2 = len(kaa), len(kbb)
    def loo_within(k):
        n = len(k); off = k.sum() - np.trace(k); rows = k.sum(1) - np.diag(k)
        return (off - 2 * rows) / ((n - 1) * (n - 2))
    ta = loo_within(kaa) + (kbb.sum() - np.trace(kbb)) / (n2 * (n2 - 1)) - 2 * (kab.sum() - kab.sum(1)) / ((n1 - 1) * n2)
    tb = (kaa.sum() - np.trace(kaa)) / (n1 * (n1 - 1)) + loo_within(kbb) - 2 * (kab.sum() - kab.sum(0)) / (n1 * (n2 - 1))
    return (n1 - 1) / n1 * ((ta - ta.mean())**2).sum() + (n2 - 1) / n2 * ((tb - tb.mean())**2).sum()


def uvar(kaa, kbb, kab):
    """Unbiased Var(MMD^2_u): T^2 minus the mean of kernel products over disjoint index sets."""
    n1, n2 = len(kaa), len(kbb)
    def parts(k):
        k = k - np.diag(np.diag(k)); n = len(k); r = k.sum(1); s = r.sum(); q = (k**2).sum()
        return k, n, r, s, q
    ka, _, ra, sa, qa = parts(kaa); kb, _, rb, sb, qb = parts(kbb)
    c, d = kab.sum(1), kab.sum(0); C = c.sum()
    ua, ub, v = sa / (n1*(n1-1)), sb / (n2*(n2-1)), C / (n1*n2)
    t = ua + ub - 2*v
    ua_d = (sa**2 - 4*(ra**2).sum() + 2*qa) / (n1*(n1-1)*(n1-2)*(n1-3))
    ub_d = (sb**2 - 4*(rb**2).sum() + 2*qb) / (n2*(n2-1)*(n2-2)*(n2-3))
    v_d = (C**2 - (c**2).sum() - (d**2).sum() + (kab**2).sum()) / (n1*(n1-1)*n2*(n2-1))
    uav_d = (sa*C - 2*(ra*c).sum()) / (n1*(n1-1)*(n1-2)*n2)
    ubv_d = (sb*C - 2*(rb*d).sum()) / (n2*(n2-1)*(n2-2)*n1)
    disj = ua_d + ub_d + 4*v_d + 2*ua*ub - 4*uav_d - 4*ubv_d
    return t*t - disj

def intervals(a, b, h, rng):
    g = 1 / (2 * h * h)
    kaa, kbb, kab = np.exp(-g * sqd(a, a)), np.exp(-g * sqd(b, b)), np.exp(-g * sqd(a, b))
    v = mmd(kaa, kbb, kab)
    ia = rng.integers(0, N1, (R, N1)); ib = rng.integers(0, N2, (R, N2))
    wa = np.stack([np.bincount(r, minlength=N1) for r in ia]).astype(float)
    wb = np.stack([np.bincount(r, minlength=N2) for r in ib]).astype(float)
    out = {}
    for name, ex in (("dup", False), ("nodup", True)):
        s = boot(kaa, kbb, kab, wa, wb, ex)
        q = np.quantile(s, [0.025, 0.975]); bias = s.mean() - v
        out[f"{name}-shifted"] = (q[0] - bias, q[1] - bias)
        out[f"{name}-pct"] = (q[0], q[1])
        out[f"{name}-basic"] = (2 * v - q[1], 2 * v - q[0])
        sd = s.std(ddof=1); out[f"{name}-normal"] = (v - Z * sd, v + Z * sd)
    sd = np.sqrt(jack(kaa, kbb, kab)); out["jackknife-normal"] = (v - Z * sd, v + Z * sd)
    uv = uvar(kaa, kbb, kab); sd = np.sqrt(max(uv, 0.0)); out["uvar-normal"] = (v - Z * sd, v + Z * sd)
    global NEG; NEG += uv <= 0
    return v, out

NEG = 0
hpop = np.sqrt(2 * chi2.median(D))
print(f"D={D} n1={N1} n2={N2} reps={REPS} resamples={R}; population reference median distance {hpop:.3f}")
for shift, scale in [(0.0, 1.0), (0.1, 1.0), (0.2, 1.0), (0.4, 1.0), (0.0, 1.3)]:
    rng = np.random.default_rng(7)
    cov, wid, vals, covp = {}, {}, [], {}
    old_cov = old_w = 0
    for rep in range(REPS):
        a = rng.normal(size=(N1, D)) * scale + shift; b = rng.normal(size=(N2, D))
        h = ref_bw(b); t = truth(shift, scale, h); tp = truth(shift, scale, hpop)
        v, ints = intervals(a, b, h, rng)
        vals.append(v)
        for k, (lo, hi) in ints.items():
            cov[k] = cov.get(k, 0) + (lo <= t <= hi); wid[k] = wid.get(k, 0) + (hi - lo)
            covp[k] = covp.get(k, 0) + (lo <= tp <= hi)
        hp = pooled_bw(a, b); vo, io = intervals(a, b, hp, rng)  # as shipped: pooled bandwidth, dup-shifted
        lo, hi = io["dup-shifted"]; old_cov += lo <= truth(shift, scale, hp) <= hi; old_w += hi - lo
    sd = np.std(vals)
    print("uvar<=0 count", NEG)
    print(f"\nshift {shift} scale {scale}: truth at h_pop {truth(shift, scale, hpop):.4f}; sd(KAD) {sd:.4f}; ideal width 3.92*sd = {3.92*sd:.4f}")
    print(f"  {'as shipped (pooled h, dup-shifted)':36s} coverage {old_cov/REPS:.3f}  width/ideal {old_w/REPS/(3.92*sd):.2f} (its own sd differs)")
    for k in cov:
        print(f"  {k:36s} coverage {cov[k]/REPS:.3f}  (of h_pop truth {covp[k]/REPS:.3f})  width/ideal {wid[k]/REPS/(3.92*sd):.2f}")
