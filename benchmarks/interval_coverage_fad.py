"""Usage: python benchmarks/interval_coverage_fad.py REPS RESAMPLES (docs/metrics.md: 200 500).
FAD intervals at n1=32 vs n2=20, D=32: coverage of E[FAD_n] (mean over reps) and of the population FAD."""
import sys, numpy as np
sys.path.insert(0, str(__import__('pathlib').Path(__file__).resolve().parents[1]))
from scipy.stats import norm
from benchbox.metrics import fad as F
D, N1, N2 = 32, 32, 20
REPS, R = int(sys.argv[1]), int(sys.argv[2])
Z = norm.ppf(0.975)

def jack(a, b):
    fa = F._factor(a); fb = F._factor(b)
    ta = np.array([F._fad_factored(F._factor(np.delete(a, i, 0)), fb) for i in range(len(a))])
    tb = np.array([F._fad_factored(fa, F._factor(np.delete(b, i, 0))) for i in range(len(b))])
    return (len(a)-1)/len(a)*((ta-ta.mean())**2).sum() + (len(b)-1)/len(b)*((tb-tb.mean())**2).sum()

def boot_rescaled(a, b, rng):  # duplicate-pair normaliser: S * W(W-1)/(W^2 - sum w^2)
    out = []
    for _ in range(R):
        wa = np.bincount(rng.integers(0, N1, N1), minlength=N1).astype(float)
        wb = np.bincount(rng.integers(0, N2, N2), minlength=N2).astype(float)
        ka, kb = wa > 0, wb > 0
        fs = []
        for x, w, k in ((a, wa, ka), (b, wb, kb)):
            mu, L, tr = F._factor(x[k], w[k]); W = w.sum(); s = W*(W-1)/(W*W-(w*w).sum())
            fs.append((mu, L*np.sqrt(s), tr*s))
        out.append(F._fad_factored(*fs))
    return np.array(out)

for shift in (0.0, 0.3):
    rng = np.random.default_rng(3)
    res = {k: [] for k in ("shipped", "rescaled", "jackknife")}; vals = []
    for rep in range(REPS):
        a = rng.normal(size=(N1, D)) + shift; b = rng.normal(size=(N2, D))
        v = F.fad(a, b); vals.append(v)
        ci = F.bootstrap_ci(a, b, "fad", n=R, seed=rep); res["shipped"].append((ci["lo"], ci["hi"]))
        s = boot_rescaled(a, b, rng); bias = s.mean() - v; q = np.quantile(s - bias, [0.025, 0.975]); res["rescaled"].append((max(q[0], 0), q[1]))
        sd = np.sqrt(jack(a, b)); res["jackknife"].append((max(v - Z*sd, 0), v + Z*sd))
    vals = np.array(vals); m = vals.mean(); sd = vals.std(); truth = D*shift**2
    print(f"shift {shift}: population FAD {truth:.3f}, E[FAD_n] {m:.3f}, sd {sd:.3f}, ideal width {3.92*sd:.3f}")
    for k, iv in res.items():
        iv = np.array(iv)
        print(f"  {k:10s} covers E[FAD_n] {np.mean((iv[:,0]<=m)&(m<=iv[:,1])):.3f}  covers population {np.mean((iv[:,0]<=truth)&(truth<=iv[:,1])):.3f}  width/ideal {np.mean(iv[:,1]-iv[:,0])/(3.92*sd):.2f}")
